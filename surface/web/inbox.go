package web

import (
	"net/url"
	"strings"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/store"
)

// maxBack is how many earlier pages the inbox's "Previous page" link can go back through:
// the cursors of the pages before the current one ride in its URL (the listing's cursors
// only go forward), capped so the URL stays short; "First page" always goes to the start.
const maxBack = 20

// statusChoices are the inbox's status filter, in the order shown.
var statusChoices = []statusChoice{
	{"pending", "Waiting"}, {"answered", "Answered"}, {"timed_out", "Timed out"}, {"cancelled", "Cancelled"},
	{"resolved", "Any finished"}, {"all", "All"},
}

type statusChoice struct{ Value, Label string }

// inboxFilters reads the inbox's query: status (default pending), assignee, q (a title
// search) and cursor. What is invalid is the store's to refuse, naming the field.
func inboxFilters(q url.Values, limit int) store.RequestQuery {
	st := q.Get("status")
	if st == "" {
		st = string(events.StatusPending)
	}
	return store.RequestQuery{Status: st, Assignee: strings.TrimSpace(q.Get("assignee")),
		TitleContains: strings.TrimSpace(q.Get("q")), Cursor: q.Get("cursor"), Limit: limit}
}

// link is the inbox URL of f's listing at cursor, with back the cursors of the pages before.
func inboxLink(f store.RequestQuery, cursor string, back []string) string {
	q := url.Values{}
	if f.Status != string(events.StatusPending) {
		q.Set("status", f.Status)
	}
	if f.Assignee != "" {
		q.Set("assignee", f.Assignee)
	}
	if f.TitleContains != "" {
		q.Set("q", f.TitleContains)
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if len(back) > 0 {
		q.Set("back", strings.Join(back, "."))
	}
	if len(q) == 0 {
		return "/inbox"
	}
	return "/inbox?" + q.Encode()
}

// paging fills the links around the page: next (or "search further" when a filter left the
// page short), previous and first.
func (lv *listView) paging(f store.RequestQuery, page *store.RequestPage, backParam string) {
	lv.Statuses = statusChoices
	lv.Filtered = f.Assignee != "" || f.TitleContains != "" || f.Status != string(events.StatusPending)
	var back []string
	if backParam != "" && f.Cursor != "" {
		back = strings.Split(backParam, ".")
		if len(back) > maxBack {
			back = back[len(back)-maxBack:]
		}
	}
	if page.NextCursor != "" {
		here := f.Cursor
		if here == "" {
			here = "0" // the first page, which has no cursor
		}
		next := append(append([]string{}, back...), here)
		if len(next) > maxBack {
			next = next[len(next)-maxBack:]
		}
		lv.Next = inboxLink(f, page.NextCursor, next)
		lv.More = true
		lv.Further = len(page.Requests) < f.Limit // the scan budget ran out before the page filled
	}
	if f.Cursor != "" {
		lv.First = inboxLink(f, "", nil)
		if len(back) > 0 {
			prev := back[len(back)-1]
			if prev == "0" {
				prev = ""
			}
			lv.Prev = inboxLink(f, prev, back[:len(back)-1])
		}
	}
}

// statusLabel is how a status reads in the inbox's table.
func statusLabel(s events.Status) string {
	switch s {
	case events.StatusPending:
		return "Waiting"
	case events.StatusAnswered:
		return "Answered"
	case events.StatusTimedOut:
		return "Timed out"
	case events.StatusCancelled:
		return "Cancelled"
	}
	return string(s)
}
