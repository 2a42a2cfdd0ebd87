package store

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/streams"
)

// A request's entry is written once: a publish past the duplicate window (another event id)
// finds the subject taken, which publishPending takes as done, and the index still holds
// one entry for the request.
func TestPendingEntryIsWrittenOnce(t *testing.T) {
	env := natstest.Single(t)
	_, js := env.Connect(t)
	ctx := context.Background()
	st, err := Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	r := &events.Request{ID: uuid.NewString(), Title: "Once?", Input: input.Spec{Type: input.Approval}}
	if err := st.CreateRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	// What a retry past the window sends: the same subject, another event id.
	_, err = js.Publish(ctx, pendingSubject(r), []byte(`{}`), jetstream.WithMsgID("pending/"+r.ID+"/later"),
		jetstream.WithExpectLastSequencePerSubject(0))
	if !isWrongLastSequence(err) {
		t.Fatalf("a second entry for %s: %v, want refused as wrong last sequence", r.ID, err)
	}
	if err := st.publishPending(ctx, r); err != nil {
		t.Fatalf("publishPending of an indexed request: %v", err)
	}
	s, err := js.Stream(ctx, streams.PendingStream)
	if err != nil {
		t.Fatal(err)
	}
	if info := s.CachedInfo(); info.State.Msgs != 1 || info.Config.MaxMsgsPerSubject != -1 {
		t.Fatalf("%d entries, MaxMsgsPerSubject %d; want 1 and no limit", info.State.Msgs, info.Config.MaxMsgsPerSubject)
	}
}
