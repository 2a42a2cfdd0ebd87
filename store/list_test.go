package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/store"
)

// The reconciler's scan of the pending index: across calls that each read a bounded number
// of entries, every overdue pending request comes exactly once, in creation order; requests
// not yet due, without a deadline or already resolved do not.
func TestOverdueRequestsInSteps(t *testing.T) {
	t.Parallel()
	st := openStore(t, natstest.Single(t))
	ctx := context.Background()
	var want []string
	var resolved string
	for i := range 30 {
		r := events.Request{Timeout: events.Duration(time.Hour)}
		switch i % 3 {
		case 0: // created an hour ago with a one-second timeout: overdue
			r.CreatedAt, r.Timeout = time.Now().UTC().Add(-time.Hour), events.Duration(time.Second)
		case 1:
			r.Timeout = 0
		}
		got := newRequest(t, st, r)
		if i%3 == 0 {
			want = append(want, got.ID)
		}
	}
	resolved = want[4]
	want = slices.Delete(want, 4, 5)
	if _, err := st.Respond(ctx, events.Response{RequestID: resolved, Outcome: events.StatusCancelled, Responder: "test"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	var pos uint64
	calls := 0
	for {
		calls++
		if calls > 30 {
			t.Fatal("the scan does not end")
		}
		// Limit 1: at most ScanBudget (20) entries a call, of the 29 pending.
		page, next, err := st.OverdueRequests(ctx, time.Now(), pos, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 1 {
			t.Fatalf("a page of %d over its limit of 1", len(page))
		}
		for _, r := range page {
			got = append(got, r.ID)
		}
		if next == 0 {
			break
		}
		if next <= pos {
			t.Fatalf("the position went from %d to %d", pos, next)
		}
		pos = next
	}
	if !slices.Equal(got, want) {
		t.Fatalf("overdue: %v, want %v", got, want)
	}
}

// Bad queries are a *QueryError naming the field, and read nothing.
func TestListingQueryErrors(t *testing.T) {
	t.Parallel()
	st := openStore(t, natstest.Single(t))
	ctx := context.Background()
	for field, q := range map[string]store.RequestQuery{
		"status": {Status: "done"}, "limit": {Limit: store.MaxListLimit + 1}, "workflow": {Workflow: "a b"},
		"run": {RunID: "not-a-uuid"}, "cursor": {Cursor: "garbage"},
		"created_before": {CreatedAfter: time.Now(), CreatedBefore: time.Now().Add(-time.Hour)},
	} {
		_, err := st.ListRequests(ctx, q)
		var qe *store.QueryError
		if !errors.As(err, &qe) || qe.Field != field || !errors.Is(err, store.ErrBadQuery) {
			t.Errorf("%s: %v, want a QueryError on %s", field, err, field)
		}
	}
	for field, q := range map[string]store.RunQuery{"status": {Status: "lost"}, "limit": {Limit: -1}, "workflow": {Workflow: "x.y"}} {
		_, err := st.ListRuns(ctx, q)
		var qe *store.QueryError
		if !errors.As(err, &qe) || qe.Field != field {
			t.Errorf("runs %s: %v, want a QueryError on %s", field, err, field)
		}
	}
	// An empty store lists nothing and ends, either way.
	for _, newest := range []bool{false, true} {
		for _, status := range []string{"pending", "all", "answered"} {
			page, err := st.ListRequests(ctx, store.RequestQuery{Status: status, Newest: newest})
			if err != nil || len(page.Requests) != 0 || page.NextCursor != "" {
				t.Errorf("%s newest=%v on an empty store: %+v, %v", status, newest, page, err)
			}
		}
		page, err := st.ListRuns(ctx, store.RunQuery{Newest: newest})
		if err != nil || len(page.Runs) != 0 || page.NextCursor != "" {
			t.Errorf("runs newest=%v on an empty store: %+v, %v", newest, page, err)
		}
	}
}

// On a three-node cluster any replica answers a direct get: paging through the pending
// index and the history still serves each request once, in order, once the replicas have
// applied the writes.
func TestListingOnACluster(t *testing.T) {
	t.Parallel()
	st := openStore(t, natstest.Cluster(t))
	ctx := context.Background()
	var want []string
	for range 23 {
		want = append(want, newRequest(t, st, events.Request{}).ID)
	}
	page := func(status string, newest bool) []string {
		var ids []string
		q := store.RequestQuery{Status: status, Limit: 5, Newest: newest}
		for range 50 {
			p, err := st.ListRequests(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Requests {
				ids = append(ids, r.ID)
			}
			if q.Cursor = p.NextCursor; q.Cursor == "" {
				break
			}
		}
		return ids
	}
	reversed := slices.Clone(want)
	slices.Reverse(reversed)
	deadline := time.Now().Add(30 * time.Second)
	for _, tc := range []struct {
		status string
		newest bool
		want   []string
	}{{"pending", false, want}, {"all", false, want}, {"pending", true, reversed}, {"all", true, reversed}} {
		for got := page(tc.status, tc.newest); !slices.Equal(got, tc.want); got = page(tc.status, tc.newest) {
			if time.Now().After(deadline) {
				t.Fatalf("%s newest=%v: %d served, want %d in order", tc.status, tc.newest, len(got), len(tc.want))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
