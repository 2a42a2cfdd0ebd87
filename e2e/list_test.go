package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/respond"
)

type listReply struct {
	Requests   []events.Request `json:"requests"`
	Count      int              `json:"count"`
	NextCursor string           `json:"next_cursor"`
}

// pageAll pages through GET /v1/requests with query by 50 and returns the ids in the order
// served, failing on a page over the limit, a count that is not the page's length, or a
// listing that does not end.
func pageAll(t *testing.T, s *system, query url.Values) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for calls := 0; ; calls++ {
		if calls > 400 {
			t.Fatalf("%s: no end after %d calls", query.Encode(), calls)
		}
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("limit", "50")
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r := s.call("GET", "/v1/requests?"+q.Encode(), nil)
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", q.Encode(), r.Status, r.Body)
		}
		var page listReply
		r.decode(t, &page)
		if len(page.Requests) > 50 || page.Count != len(page.Requests) {
			t.Fatalf("%s: a page of %d with count %d", q.Encode(), len(page.Requests), page.Count)
		}
		for _, req := range page.Requests {
			ids = append(ids, req.ID)
		}
		if page.NextCursor == "" {
			return ids
		}
		cursor = page.NextCursor
	}
}

// The pagination of issue 9: 1,200 requests in mixed states, paged by 50 with filters:
// every request exactly once, in order; a cursor from another filter is a 400.
func TestPaginationOfRequests(t *testing.T) {
	t.Parallel()
	s := newSystem(t, natstest.Single(t), registry(&resumes{}))
	ctx := context.Background()

	const n = 1200
	type made struct {
		req      events.Request
		assignee string
	}
	all := make([]made, n)
	runB := uuid.NewString()
	for i := range all {
		r := events.Request{ID: uuid.NewString(), Title: fmt.Sprintf("Refund %04d", i), Input: input.Spec{Type: input.Approval}}
		switch i % 3 {
		case 0:
			r.Workflow, r.RunID = "wf-a", uuid.NewString()
		case 1:
			r.Workflow, r.RunID = "wf-b", runB
		}
		if i%5 == 0 {
			r.Title = fmt.Sprintf("Travel %04d", i)
		}
		a := []string{"email:ann@example.com", "email:bob@example.com"}[i%2]
		r.Assignees = []string{a, "webhook:ops"}
		if err := s.st.CreateRequest(ctx, &r); err != nil {
			t.Fatal(err)
		}
		all[i] = made{req: r, assignee: a}
	}
	// Resolve about half, in an order of their own: answers and cancels through the API,
	// timeouts through the gate as the orchestrator does.
	status := make(map[string]events.Status, n)
	var resolvedOrder []string
	for i := n - 1; i >= 0; i-- {
		id := all[i].req.ID
		switch {
		case i%4 == 0:
			if r := s.call("POST", "/v1/requests/"+id+"/respond", map[string]any{"data": map[string]any{"approved": true}}); r.Status != 200 {
				t.Fatalf("answer: %d %s", r.Status, r.Body)
			}
			status[id] = events.StatusAnswered
		case i%4 == 1:
			if r := s.call("POST", "/v1/requests/"+id+"/cancel", map[string]any{"reason": "test"}); r.Status != 200 {
				t.Fatalf("cancel: %d %s", r.Status, r.Body)
			}
			status[id] = events.StatusCancelled
		case i%8 == 2:
			if _, err := s.st.Respond(ctx, events.Response{RequestID: id, Outcome: events.StatusTimedOut, Responder: "hitl:timeout"}); err != nil {
				t.Fatal(err)
			}
			status[id] = events.StatusTimedOut
		default:
			status[id] = events.StatusPending
			continue
		}
		resolvedOrder = append(resolvedOrder, id)
	}

	// want lists, in creation order, the requests keep selects.
	want := func(keep func(m made, st events.Status) bool) []string {
		var ids []string
		for _, m := range all {
			if keep(m, status[m.req.ID]) {
				ids = append(ids, m.req.ID)
			}
		}
		return ids
	}
	reversed := func(ids []string) []string { out := slices.Clone(ids); slices.Reverse(out); return out }
	inResolution := func(keep func(id string) bool) []string {
		return slices.DeleteFunc(slices.Clone(resolvedOrder), func(id string) bool { return !keep(id) })
	}
	byID := map[string]made{}
	for _, m := range all {
		byID[m.req.ID] = m
	}
	from, to := all[300].req.CreatedAt, all[900].req.CreatedAt
	isPending := func(m made, st events.Status) bool { return st == events.StatusPending }

	for _, tc := range []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"everything", url.Values{}, want(func(made, events.Status) bool { return true })},
		{"everything, newest first", url.Values{"order": {"newest"}}, reversed(want(func(made, events.Status) bool { return true }))},
		{"pending", url.Values{"status": {"pending"}}, want(isPending)},
		{"pending, newest first", url.Values{"status": {"pending"}, "order": {"newest"}}, reversed(want(isPending))},
		{"pending of one assignee", url.Values{"status": {"pending"}, "assignee": {"email:bob@example.com"}},
			want(func(m made, st events.Status) bool { return isPending(m, st) && m.assignee == "email:bob@example.com" })},
		{"pending of a workflow", url.Values{"status": {"pending"}, "workflow": {"wf-a"}},
			want(func(m made, st events.Status) bool { return isPending(m, st) && m.req.Workflow == "wf-a" })},
		{"pending of a run, newest first", url.Values{"status": {"pending"}, "run": {runB}, "order": {"newest"}},
			reversed(want(func(m made, st events.Status) bool { return isPending(m, st) && m.req.RunID == runB }))},
		{"pending by title", url.Values{"status": {"pending"}, "q": {"travel"}},
			want(func(m made, st events.Status) bool {
				return isPending(m, st) && strings.HasPrefix(m.req.Title, "Travel")
			})},
		{"everything of one assignee, newest first", url.Values{"assignee": {"email:ann@example.com"}, "order": {"newest"}},
			reversed(want(func(m made, _ events.Status) bool { return m.assignee == "email:ann@example.com" }))},
		{"created in a range", url.Values{"created_after": {from.Format(time.RFC3339Nano)}, "created_before": {to.Format(time.RFC3339Nano)}},
			want(func(m made, _ events.Status) bool { return !m.req.CreatedAt.Before(from) && m.req.CreatedAt.Before(to) })},
		{"pending created in a range, newest first", url.Values{"status": {"pending"}, "order": {"newest"},
			"created_after": {from.Format(time.RFC3339Nano)}, "created_before": {to.Format(time.RFC3339Nano)}},
			reversed(want(func(m made, st events.Status) bool {
				return isPending(m, st) && !m.req.CreatedAt.Before(from) && m.req.CreatedAt.Before(to)
			}))},
		{"answered", url.Values{"status": {"answered"}}, inResolution(func(id string) bool { return status[id] == events.StatusAnswered })},
		{"timed out, newest first", url.Values{"status": {"timed_out"}, "order": {"newest"}},
			reversed(inResolution(func(id string) bool { return status[id] == events.StatusTimedOut }))},
		{"resolved in a workflow", url.Values{"status": {"resolved"}, "workflow": {"wf-b"}},
			inResolution(func(id string) bool { return byID[id].req.Workflow == "wf-b" })},
		{"cancelled of one assignee", url.Values{"status": {"cancelled"}, "assignee": {"email:bob@example.com"}},
			inResolution(func(id string) bool {
				return status[id] == events.StatusCancelled && byID[id].assignee == "email:bob@example.com"
			})},
	} {
		got := pageAll(t, s, tc.query)
		if len(tc.want) == 0 {
			t.Fatalf("%s: the test selects nothing", tc.name)
		}
		if !slices.Equal(got, tc.want) {
			seen := map[string]int{}
			for _, id := range got {
				seen[id]++
			}
			dups := 0
			for _, c := range seen {
				if c > 1 {
					dups++
				}
			}
			t.Errorf("%s: %d served (%d distinct, %d repeated), want %d in order", tc.name, len(got), len(seen), dups, len(tc.want))
		}
	}

	// The records served are current, whatever message they were found by.
	r := s.call("GET", "/v1/requests?limit=500", nil)
	var page listReply
	r.decode(t, &page)
	if len(page.Requests) != 500 || page.NextCursor == "" {
		t.Fatalf("a page of 500: %d, next %q", len(page.Requests), page.NextCursor)
	}
	for _, req := range page.Requests {
		if req.Status != status[req.ID] {
			t.Fatalf("request %s is listed %s, is %s", req.ID, req.Status, status[req.ID])
		}
	}

	// A cursor belongs to its filters and order.
	r = s.call("GET", "/v1/requests?status=pending&limit=50", nil)
	r.decode(t, &page)
	if page.NextCursor == "" {
		t.Fatal("no cursor after the first page of pending requests")
	}
	c := url.QueryEscape(page.NextCursor)
	for _, q := range []string{
		"status=answered&cursor=" + c,
		"status=pending&assignee=email:ann@example.com&cursor=" + c,
		"status=pending&order=newest&cursor=" + c,
		"cursor=" + c,
		"status=pending&cursor=" + c + "x",
		"status=pending&cursor=not-a-cursor",
	} {
		r := s.call("GET", "/v1/requests?"+q, nil)
		var e apiError
		if r.Status != 400 || json.Unmarshal(r.Body, &e) != nil || e.Error.Code != "invalid_request" ||
			len(e.Error.Fields) != 1 || e.Error.Fields[0].Path != "cursor" {
			t.Errorf("%s: %d %s, want 400 naming the cursor", q, r.Status, r.Body)
		}
	}
	// The same cursor with another limit goes on.
	if r := s.call("GET", "/v1/requests?status=pending&limit=7&cursor="+c, nil); r.Status != 200 {
		t.Errorf("another limit: %d %s", r.Status, r.Body)
	}
	// Bad filters name their field.
	for q, field := range map[string]string{
		"limit=0": "limit", "limit=501": "limit", "limit=x": "limit", "order=up": "order", "status=done": "status",
		"created_after=yesterday": "created_after", "workflow=a.b": "workflow", "run=r1": "run",
		"created_after=2026-01-02T00:00:00Z&created_before=2026-01-01T00:00:00Z": "created_before",
	} {
		r := s.call("GET", "/v1/requests?"+q, nil)
		var e apiError
		if r.Status != 400 || json.Unmarshal(r.Body, &e) != nil || len(e.Error.Fields) != 1 || e.Error.Fields[0].Path != field {
			t.Errorf("%s: %d %s, want 400 naming %s", q, r.Status, r.Body, field)
		}
	}
}

// A filter checked outside the server costs a bounded scan: a call that finds nothing
// within its budget answers a short page with a cursor, and paging on reaches the match.
func TestListingScansWithinABudget(t *testing.T) {
	t.Parallel()
	s := newSystem(t, natstest.Single(t), registry(&resumes{}))
	ctx := context.Background()
	const n = 130 // more than ScanBudget × limit for limit 5
	var last events.Request
	for i := range n {
		r := events.Request{ID: uuid.NewString(), Title: "Common", Input: input.Spec{Type: input.Approval}, Assignees: []string{"email:a@example.com"}}
		if i == n-1 {
			r.Assignees = []string{"email:rare@example.com"}
		}
		if err := s.st.CreateRequest(ctx, &r); err != nil {
			t.Fatal(err)
		}
		last = r
	}
	r := s.call("GET", "/v1/requests?status=pending&limit=5&assignee=email:rare@example.com", nil)
	var page listReply
	r.decode(t, &page)
	if r.Status != 200 || len(page.Requests) != 0 || page.NextCursor == "" {
		t.Fatalf("first call: %d, %d requests, next %q; want an empty page with a cursor", r.Status, len(page.Requests), page.NextCursor)
	}
	got := pageAll(t, s, url.Values{"status": {"pending"}, "assignee": {"email:rare@example.com"}})
	if !slices.Equal(got, []string{last.ID}) {
		t.Fatalf("paging on: %v, want %s", got, last.ID)
	}
}

type runsReply struct {
	Runs       []respond.RunView `json:"runs"`
	Count      int               `json:"count"`
	NextCursor string            `json:"next_cursor"`
}

// GET /v1/runs pages through runs by status and workflow, each run as GET /v1/runs/{id}
// shows it.
func TestPaginationOfRuns(t *testing.T) {
	t.Parallel()
	s := newSystem(t, natstest.Single(t), registry(&resumes{}))
	const n = 60
	ids := make([]string, n)
	for i := range ids {
		ids[i] = s.startRun([]string{"wf-x", "wf-y"}[i%2], map[string]any{"i": i})
	}
	// Cancel every third: queued runs (no orchestrator hosts them) are cancelled at once.
	cancelled := map[string]bool{}
	var finishedOrder []string
	for i := n - 1; i >= 0; i -= 3 {
		if r := s.call("POST", "/v1/runs/"+ids[i]+"/cancel", map[string]any{"reason": "test"}); r.Status != 202 {
			t.Fatalf("cancel: %d %s", r.Status, r.Body)
		}
		cancelled[ids[i]] = true
		finishedOrder = append(finishedOrder, ids[i])
	}
	pageRuns := func(q string) ([]string, []respond.RunView) {
		var got []string
		var views []respond.RunView
		cursor := ""
		for calls := 0; calls < 100; calls++ {
			path := "/v1/runs?limit=7&" + q
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			r := s.call("GET", path, nil)
			var page runsReply
			r.decode(t, &page)
			if r.Status != 200 || len(page.Runs) > 7 || page.Count != len(page.Runs) {
				t.Fatalf("%s: %d %s", path, r.Status, r.Body)
			}
			for _, v := range page.Runs {
				got = append(got, v.ID)
				views = append(views, v)
			}
			if cursor = page.NextCursor; cursor == "" {
				return got, views
			}
		}
		t.Fatalf("%s: no end", q)
		return nil, nil
	}
	filter := func(keep func(i int) bool) []string {
		var out []string
		for i, id := range ids {
			if keep(i) {
				out = append(out, id)
			}
		}
		return out
	}
	got, views := pageRuns("")
	if !slices.Equal(got, ids) {
		t.Errorf("all runs: %d served, want %d in order", len(got), len(ids))
	}
	for _, v := range views {
		if want := map[bool]events.RunStatus{true: events.RunCancelled, false: events.RunQueued}[cancelled[v.ID]]; v.Status != want {
			t.Errorf("run %s listed %s, want %s", v.ID, v.Status, want)
		}
	}
	if got, _ := pageRuns("status=queued&workflow=wf-y&order=newest"); !slices.Equal(got, reversedIDs(filter(func(i int) bool {
		return i%2 == 1 && !cancelled[ids[i]]
	}))) {
		t.Errorf("queued runs of wf-y, newest first: %v", got)
	}
	if got, _ := pageRuns("status=cancelled"); !slices.Equal(got, finishedOrder) {
		t.Errorf("cancelled runs: %d served, want %d in the order they finished", len(got), len(finishedOrder))
	}
	if r := s.call("GET", "/v1/runs?status=lost", nil); r.Status != 400 {
		t.Errorf("a bad status: %d %s", r.Status, r.Body)
	}
	r := s.call("GET", "/v1/runs?limit=2", nil)
	var page runsReply
	r.decode(t, &page)
	if r := s.call("GET", "/v1/runs?status=finished&cursor="+url.QueryEscape(page.NextCursor), nil); r.Status != 400 {
		t.Errorf("a cursor of another listing: %d %s", r.Status, r.Body)
	}
}

func reversedIDs(ids []string) []string { out := slices.Clone(ids); slices.Reverse(out); return out }
