package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
)

func pendingStats(t *testing.T, st *store.Store) (int, time.Time) {
	t.Helper()
	n, oldest, err := st.PendingStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n, oldest
}

// The pending index holds exactly the pending requests: created ones enter it once however
// often their creation is retried, resolved ones leave it, and a creation retried after the
// request resolved does not bring it back.
func TestPendingIndex(t *testing.T) {
	env := natstest.Single(t)
	st := openStore(t, env)
	ctx := context.Background()
	if n, oldest := pendingStats(t, st); n != 0 || !oldest.IsZero() {
		t.Fatalf("empty: %d pending, oldest %v", n, oldest)
	}
	var reqs []*events.Request
	for i := range 5 {
		reqs = append(reqs, newRequest(t, st, events.Request{Workflow: "refund", RunID: uuid.NewString()}))
		if i == 0 {
			again := *reqs[0]
			if err := st.CreateRequest(ctx, &again); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, oldest := pendingStats(t, st)
	if n != 5 {
		t.Fatalf("%d pending, want 5", n)
	}
	if d := reqs[0].CreatedAt.Sub(oldest); d < -time.Second || d > time.Second {
		t.Fatalf("oldest %v, first request created %v", oldest, reqs[0].CreatedAt)
	}
	for _, r := range reqs[:2] {
		if _, err := st.Respond(ctx, events.Response{RequestID: r.ID, Outcome: events.StatusCancelled, Responder: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	// A caller that crashed before hearing back creates the resolved request again.
	again := *reqs[0]
	again.Status, again.Response, again.ResolvedAt = "", nil, nil
	if err := st.CreateRequest(ctx, &again); err != nil {
		t.Fatal(err)
	}
	if !again.Resolved() {
		t.Fatalf("retried creation of a resolved request: %s", again.Status)
	}
	if n, _ := pendingStats(t, st); n != 3 {
		t.Fatalf("%d pending after two resolved, want 3", n)
	}
	entry, err := st.JetStream().Conn().Request("$JS.API.DIRECT.GET."+streams.PendingStream,
		[]byte(`{"last_by_subj":"`+streams.PendingSubject("refund", reqs[2].RunID, reqs[2].ID)+`"}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var e store.PendingEntry
	if err := json.Unmarshal(entry.Data, &e); err != nil || e.ID != reqs[2].ID || e.Workflow != "refund" || e.Input != input.Approval {
		t.Fatalf("entry %s: %+v, %v", entry.Data, e, err)
	}
}

// Requests stored before the pending index existed get their entries from BackfillPending,
// once: a second call reads nothing.
func TestBackfillPending(t *testing.T) {
	env := natstest.Single(t)
	st := openStore(t, env)
	ctx := context.Background()
	// Records as an older release wrote them: no index entry.
	old := func(status events.Status) string {
		r := events.Request{ID: uuid.NewString(), Title: "Old", Input: input.Spec{Type: input.Approval},
			Status: status, CreatedAt: time.Now().UTC()}
		body, _ := json.Marshal(r)
		if _, err := st.Buckets().Requests.Create(ctx, r.ID, body); err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	old(events.StatusPending)
	old(events.StatusPending)
	old(events.StatusAnswered)
	newRequest(t, st, events.Request{})
	unmark(t, st.JetStream())

	n, err := st.BackfillPending(ctx)
	if err != nil || n != 3 {
		t.Fatalf("backfilled %d, %v; want the 3 pending", n, err)
	}
	if n, _ := pendingStats(t, st); n != 3 {
		t.Fatalf("%d pending after the backfill, want 3", n)
	}
	if n, err := st.BackfillPending(ctx); err != nil || n != 0 {
		t.Fatalf("second backfill: %d, %v", n, err)
	}
}

// unmark clears the pending stream's metadata, as on a deployment that predates it.
func unmark(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, streams.PendingStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.Metadata = nil
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
}

// An entry left without a record (a creation that crashed between the two) or with a
// resolved one (a lost purge) is pruned from the front of the index once older than the
// grace; live ones and young ones stay.
func TestPruneOldestPending(t *testing.T) {
	env := natstest.Single(t)
	st := openStore(t, env)
	ctx := context.Background()
	live := newRequest(t, st, events.Request{})
	orphan := events.Request{ID: uuid.NewString(), Title: "Crashed", CreatedAt: time.Now()}
	if _, err := st.JetStream().Publish(ctx, streams.PendingSubject("", "", orphan.ID), []byte(`{"id":"`+orphan.ID+`"}`)); err != nil {
		t.Fatal(err)
	}
	resolved := newRequest(t, st, events.Request{})
	if _, err := st.Respond(ctx, events.Response{RequestID: resolved.ID, Outcome: events.StatusCancelled, Responder: "test"}); err != nil {
		t.Fatal(err)
	}
	// A lost purge: the entry back after the resolution.
	if _, err := st.JetStream().Publish(ctx, streams.PendingSubject("", "", resolved.ID), []byte(`{"id":"`+resolved.ID+`"}`)); err != nil {
		t.Fatal(err)
	}
	if n, _ := pendingStats(t, st); n != 3 {
		t.Fatalf("%d pending before pruning, want 3", n)
	}
	if n, err := st.PruneOldestPending(ctx, 50, time.Hour); err != nil || n != 0 {
		t.Fatalf("pruned %d, %v, within the grace", n, err)
	}
	if n, err := st.PruneOldestPending(ctx, 50, 0); err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want the orphan and the resolved one", n, err)
	}
	n, oldest := pendingStats(t, st)
	if n != 1 || oldest.IsZero() {
		t.Fatalf("%d pending after pruning, want the live one", n)
	}
	if r, _, err := st.Request(ctx, live.ID); err != nil || r.Resolved() {
		t.Fatalf("live request: %v, %v", r, err)
	}
}
