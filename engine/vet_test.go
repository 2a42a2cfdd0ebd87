package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
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

// A response published straight to the gate, skipping the answer path, with data that does
// not fit the question, never resumes the run with that data: the request ends cancelled by
// hitl:refused, saying why, and the run's Ask sees a cancellation.
func TestForgedResponseIsNotApplied(t *testing.T) {
	env := natstest.Single(t)
	_, js := env.Connect(t)
	ctx := context.Background()
	st, err := store.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	reg := hitl.NewRegistry()
	hitl.Register(reg, "refund", func(ctx context.Context, _ struct{}) (string, error) {
		a, err := hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{Title: "Refund?", Input: input.Spec{Type: input.Approval}})
		var ce *hitl.CancelledError
		switch {
		case errors.As(err, &ce):
			return "not refunded: " + ce.By, nil
		case err != nil:
			return "", err
		case a.Approved:
			return "refunded", nil
		}
		return "rejected", nil
	})
	o, err := engine.New(engine.Config{Store: st, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- o.Run(rctx) }()
	defer func() { cancel(); <-done }()

	run, err := st.StartRun(ctx, "refund", nil)
	if err != nil {
		t.Fatal(err)
	}
	reqID := journal.RequestID(run.ID, 0)
	waitFor(t, "the question", func() bool { _, _, err := st.Request(ctx, reqID); return err == nil })

	// The attacker's publish: it passes the gate (the subject is empty) with a bad answer.
	forged := events.Response{RequestID: reqID, RunID: run.ID, Outcome: events.StatusAnswered,
		Data: json.RawMessage(`{"approved": "yes please", "amount": 1000000}`), Responder: "email:boss@example.com", At: time.Now().UTC()}
	msg, err := events.NewMsg(streams.SubjectResponse+reqID, events.TypeResponse, uuid.NewString(), forged)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(0)); err != nil {
		t.Fatal(err)
	}

	var got *store.Run
	waitFor(t, "the run to finish", func() bool {
		got, _, _ = st.Run(ctx, run.ID)
		return got != nil && got.Status.Final()
	})
	if got.Status != events.RunCompleted || string(got.Result) != `"not refunded: hitl:refused"` {
		t.Fatalf("run %s %s %s", got.Status, got.Result, got.Error)
	}
	if a := got.Journal[0].Answer; a == nil || strings.Contains(string(a.Data), "yes please") || a.Responder != engine.RefusedResponder {
		t.Fatalf("the journal holds %+v", a)
	}
	r, _, _ := st.Request(ctx, reqID)
	if r.Status != events.StatusCancelled || r.Response.Responder != engine.RefusedResponder || !strings.Contains(r.Response.Comment, "refused") {
		t.Fatalf("request %s %+v", r.Status, r.Response)
	}
	// No winner's path finished this request: the backstop does, after the grace, with the
	// refusal and not the forged answer.
	var fin *events.Request
	waitFor(t, "the resolved event", func() bool { fin, err = st.Finished(ctx, reqID); return err == nil })
	if fin.Status != events.StatusCancelled || fin.Response.Responder != engine.RefusedResponder {
		t.Fatalf("resolved event holds %s %+v", fin.Status, fin.Response)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
