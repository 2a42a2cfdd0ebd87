package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/engine"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/journal"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
)

// A winner that passed the gate and died before finishing (its message says it would
// finish, nothing more was written): the run resumes with its answer at once, and the
// backstop finishes the request after the grace: record resolved, timer disarmed, pending
// entry gone, resolved event published.
func TestBackstopFinishesForAWinnerThatDied(t *testing.T) {
	defer func(g time.Duration) { engine.FinishGrace = g }(engine.FinishGrace)
	engine.FinishGrace = 100 * time.Millisecond
	env := natstest.Single(t)
	_, js := env.Connect(t)
	ctx := context.Background()
	st, err := store.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	reg := hitl.NewRegistry()
	hitl.Register(reg, "ship", func(ctx context.Context, _ struct{}) (bool, error) {
		a, err := hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{Title: "Ship?", Input: input.Spec{Type: input.Approval},
			Timeout: time.Hour})
		return a.Approved, err
	})
	o, err := engine.New(engine.Config{Store: st, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- o.Run(rctx) }()
	defer func() { cancel(); <-done }()

	run, err := st.StartRun(ctx, "ship", nil)
	if err != nil {
		t.Fatal(err)
	}
	reqID := journal.RequestID(run.ID, 0)
	waitFor(t, "the question", func() bool { _, _, err := st.Request(ctx, reqID); return err == nil })
	if n, _, err := st.PendingStats(ctx); err != nil || n != 1 {
		t.Fatalf("pending %d %v, want 1", n, err)
	}

	// What the answer path publishes at the gate, and then nothing.
	resp := events.Response{RequestID: reqID, RunID: run.ID, Outcome: events.StatusAnswered,
		Data: json.RawMessage(`{"approved":true}`), Responder: "alice", At: time.Now().UTC()}
	if err := store.CheckAnswer(&events.Request{Input: input.Spec{Type: input.Approval}}, &resp); err != nil {
		t.Fatal(err)
	}
	msg, err := events.NewMsg(streams.SubjectResponse+reqID, events.TypeResponse, uuid.NewString(), resp)
	if err != nil {
		t.Fatal(err)
	}
	msg.Header.Set(store.HeaderSenderFinishes, "true")
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(0)); err != nil {
		t.Fatal(err)
	}

	var got *store.Run
	waitFor(t, "the run to finish", func() bool {
		got, _, _ = st.Run(ctx, run.ID)
		return got != nil && got.Status.Final()
	})
	if got.Status != events.RunCompleted || string(got.Result) != "true" {
		t.Fatalf("run %s %s %s", got.Status, got.Result, got.Error)
	}
	var fin *events.Request
	waitFor(t, "the resolved event", func() bool { fin, err = st.Finished(ctx, reqID); return err == nil })
	if fin.Status != events.StatusAnswered || fin.Response.Responder != "alice" {
		t.Fatalf("resolved event holds %s %+v", fin.Status, fin.Response)
	}
	r, _, err := st.Request(ctx, reqID)
	if err != nil || r.Status != events.StatusAnswered || r.Response.Responder != "alice" {
		t.Fatalf("record %+v %v", r, err)
	}
	if _, err := st.Buckets().Timers.Get(ctx, reqID); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("timer still armed: %v", err)
	}
	if n, _, err := st.PendingStats(ctx); err != nil || n != 0 {
		t.Fatalf("pending %d %v, want 0", n, err)
	}
}
