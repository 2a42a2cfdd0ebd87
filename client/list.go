package client

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/hitl-dev/hitl/events"
)

// Page sizes of GET /v1/requests and GET /v1/runs.
const (
	DefaultLimit = 50  // what the server serves when a listing names no limit
	MaxLimit     = 500 // the largest page it serves
)

// ListOptions select a page of requests (GET /v1/requests). Zero fields do not filter.
type ListOptions struct {
	// Status: "pending", "answered", "timed_out", "cancelled", "resolved" (any of those three)
	// or "all" (the default).
	Status string
	// Assignee keeps requests assigned to it, e.g. "email:ann@example.com".
	Assignee string
	// Workflow and Run keep the requests of one workflow or run (a run id).
	Workflow, Run string
	// Query keeps requests whose title contains it, ignoring case.
	Query string
	// CreatedAfter (inclusive) and CreatedBefore (exclusive) bound the creation time.
	CreatedAfter, CreatedBefore time.Time
	// Limit is the page's size: DefaultLimit when 0, at most MaxLimit.
	Limit int
	// Newest lists newest first; the default is oldest first.
	Newest bool
	// Cursor is a previous page's NextCursor, with the same other options.
	Cursor string
}

// RequestPage is one page of requests.
type RequestPage struct {
	Requests []*events.Request `json:"requests"`
	// NextCursor continues the listing; "" at its end. A page may be short, even empty, and
	// still have one: the server bounds what one call reads (see docs/design.md, Listing).
	NextCursor string `json:"next_cursor"`
}

func (o ListOptions) values() url.Values {
	q := pageValues(o.Limit, o.Newest, o.Cursor, o.CreatedAfter, o.CreatedBefore)
	set(q, "status", o.Status)
	set(q, "assignee", o.Assignee)
	set(q, "workflow", o.Workflow)
	set(q, "run", o.Run)
	set(q, "q", o.Query)
	return q
}

func set(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

func pageValues(limit int, newest bool, cursor string, after, before time.Time) url.Values {
	q := url.Values{}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if newest {
		q.Set("order", "newest")
	}
	set(q, "cursor", cursor)
	if !after.IsZero() {
		q.Set("created_after", after.UTC().Format(time.RFC3339Nano))
	}
	if !before.IsZero() {
		q.Set("created_before", before.UTC().Format(time.RFC3339Nano))
	}
	return q
}

// ListRequests returns one page of requests. A bad option, or a cursor of other options, is
// an *Error matching ErrInvalid that names the field.
func (c *Client) ListRequests(ctx context.Context, o ListOptions) (*RequestPage, error) {
	var out RequestPage
	if err := c.do(ctx, "GET", "/v1/requests", o.values(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RunListOptions select a page of runs (GET /v1/runs). Zero fields do not filter.
type RunListOptions struct {
	// Status: "queued", "running", "waiting", "active" (any of those three), "completed",
	// "failed", "cancelled", "finished" (any of those three) or "all" (the default).
	Status string
	// Workflow keeps the runs of one workflow.
	Workflow string
	// CreatedAfter (inclusive) and CreatedBefore (exclusive) bound the creation time.
	CreatedAfter, CreatedBefore time.Time
	// Limit is the page's size: DefaultLimit when 0, at most MaxLimit.
	Limit int
	// Newest lists newest first; the default is oldest first.
	Newest bool
	// Cursor is a previous page's NextCursor, with the same other options.
	Cursor string
}

// RunPage is one page of runs.
type RunPage struct {
	Runs []*Run `json:"runs"`
	// NextCursor continues the listing; "" at its end (see RequestPage).
	NextCursor string `json:"next_cursor"`
}

// ListRuns returns one page of runs, each as Run returns it.
func (c *Client) ListRuns(ctx context.Context, o RunListOptions) (*RunPage, error) {
	q := pageValues(o.Limit, o.Newest, o.Cursor, o.CreatedAfter, o.CreatedBefore)
	set(q, "status", o.Status)
	set(q, "workflow", o.Workflow)
	var out RunPage
	if err := c.do(ctx, "GET", "/v1/runs", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Pager reads a listing page by page, following the cursors:
//
//	p := c.RequestPager(client.ListOptions{Status: "pending"})
//	for p.More() {
//		page, err := p.Next(ctx)
//		...
//	}
//
// A page may be empty while More is still true (the server's scan budget); Next goes on.
type Pager[T any] struct {
	fetch  func(ctx context.Context, cursor string) ([]T, string, error)
	cursor string
	done   bool
}

// More reports whether Next has more to read.
func (p *Pager[T]) More() bool { return !p.done }

// ErrPagerDone is Next's error after the listing's end.
var ErrPagerDone = errors.New("client: the listing has no more pages")

// Next reads the next page. After an error, Next may be called again to retry that page.
func (p *Pager[T]) Next(ctx context.Context) ([]T, error) {
	if p.done {
		return nil, ErrPagerDone
	}
	items, next, err := p.fetch(ctx, p.cursor)
	if err != nil {
		return nil, err
	}
	p.cursor, p.done = next, next == ""
	return items, nil
}

// Cursor is where the next page starts ("" before the first and after the last).
func (p *Pager[T]) Cursor() string { return p.cursor }

// RequestPager pages through the requests o selects, from o.Cursor.
func (c *Client) RequestPager(o ListOptions) *Pager[*events.Request] {
	return &Pager[*events.Request]{cursor: o.Cursor, fetch: func(ctx context.Context, cursor string) ([]*events.Request, string, error) {
		o.Cursor = cursor
		page, err := c.ListRequests(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return page.Requests, page.NextCursor, nil
	}}
}

// RunPager pages through the runs o selects, from o.Cursor.
func (c *Client) RunPager(o RunListOptions) *Pager[*Run] {
	return &Pager[*Run]{cursor: o.Cursor, fetch: func(ctx context.Context, cursor string) ([]*Run, string, error) {
		o.Cursor = cursor
		page, err := c.ListRuns(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return page.Runs, page.NextCursor, nil
	}}
}
