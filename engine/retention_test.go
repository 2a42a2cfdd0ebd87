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
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
)

// waitWithin polls cond until it holds, failing after within.
func waitWithin(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// With a retention of 2 s, JetStream itself removes what finished work leaves: the resolved
// request's record and events, the finished run's checkpoint and events, the timer's
// tombstone. Live work stays whole. A late answer to a purged request is ErrPurged, passes
// no gate and resumes nothing; a response published straight to its empty gate is acked and
// ignored by the orchestrator.
func TestRetentionRemovesFinishedWorkOnly(t *testing.T) {
	env := natstest.Single(t)
	_, js := env.Connect(t)
	ctx := context.Background()
	st, err := store.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	st.SetRetention(2 * time.Second)
	reg := hitl.NewRegistry()
	hitl.Register(reg, "ask", func(ctx context.Context, _ struct{}) (string, error) {
		a, err := hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{Title: "Go?", Input: input.Spec{Type: input.Approval}})
		if err != nil {
			return "", err
		}
		if a.Approved {
			return "went", nil
		}
		return "stayed", nil
	})
	o, err := engine.New(engine.Config{Store: st, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- o.Run(rctx) }()
	defer func() { cancel(); <-done }()
	answers := &store.Answerer{Store: st}
	approve := func(id string) (*events.Request, error) {
		return answers.Answer(ctx, store.Answer{RequestID: id, Identities: []string{routing.Operator}, Data: json.RawMessage(`{"approved": true}`)})
	}
	newReq := func(r events.Request) *events.Request {
		t.Helper()
		r.ID, r.Title, r.Input = uuid.NewString(), "Ship it?", input.Spec{Type: input.Approval}
		if err := st.CreateRequest(ctx, &r); err != nil {
			t.Fatal(err)
		}
		return &r
	}

	// Finished: a standalone request with a deadline, answered at once (its question is kept
	// for the deadline plus the retention); a run, asked and completed.
	finished := newReq(events.Request{Timeout: events.Duration(3 * time.Second)})
	if finished.Retention != events.Duration(2*time.Second) {
		t.Fatalf("the record does not say its retention: %s", time.Duration(finished.Retention))
	}
	if _, err := approve(finished.ID); err != nil {
		t.Fatal(err)
	}
	run, err := st.StartRun(ctx, "ask", nil)
	if err != nil {
		t.Fatal(err)
	}
	runReq := journal.RequestID(run.ID, 0)
	waitWithin(t, "the run to ask", 20*time.Second, func() bool {
		_, err := approve(runReq)
		return err == nil
	})
	waitWithin(t, "the run to complete", 20*time.Second, func() bool {
		r, _, err := st.Run(ctx, run.ID)
		return err == nil && r.Status == events.RunCompleted
	})

	// Live: pending requests, with and without a deadline; a waiting run; and a resolved
	// request and a finished run kept longer by their own retention.
	pending := newReq(events.Request{})
	pendingTimer := newReq(events.Request{Timeout: events.Duration(time.Hour)})
	kept := newReq(events.Request{Retention: events.Duration(time.Hour)})
	if _, err := approve(kept.ID); err != nil {
		t.Fatal(err)
	}
	waiting, err := st.StartRun(ctx, "ask", nil)
	if err != nil {
		t.Fatal(err)
	}
	keptRun, err := st.StartRun(ctx, "ask", nil, store.WithRetention(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	waitWithin(t, "the kept run to ask and finish", 20*time.Second, func() bool {
		approve(journal.RequestID(keptRun.ID, 0))
		r, _, err := st.Run(ctx, keptRun.ID)
		return err == nil && r.Status == events.RunCompleted
	})
	waitWithin(t, "the waiting run to ask", 20*time.Second, func() bool {
		r, _, err := st.Run(ctx, waiting.ID)
		return err == nil && r.Status == events.RunWaiting
	})

	// JetStream removes the finished ones: their records become ErrPurged.
	waitWithin(t, "the finished request and run to be removed", 30*time.Second, func() bool {
		_, _, errR := st.Request(ctx, finished.ID)
		_, _, errQ := st.Request(ctx, runReq)
		_, _, errRun := st.Run(ctx, run.ID)
		return errors.Is(errR, store.ErrPurged) && errors.Is(errQ, store.ErrPurged) && errors.Is(errRun, store.ErrPurged)
	})
	if _, _, err := st.Request(ctx, uuid.NewString()); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrPurged) {
		t.Fatalf("an id that never existed: %v, want ErrNotFound and not ErrPurged", err)
	}
	stream, err := js.Stream(ctx, streams.Stream)
	if err != nil {
		t.Fatal(err)
	}
	gone := func(subject string) bool {
		_, err := stream.GetLastMsgForSubject(ctx, subject)
		return errors.Is(err, jetstream.ErrMsgNotFound)
	}
	subjectsOf := func(id string) []string {
		return []string{streams.SubjectRequestInfo + id, streams.SubjectResponse + id, streams.SubjectResolved + id}
	}
	var finishedSubjects []string
	finishedSubjects = append(finishedSubjects, subjectsOf(finished.ID)...)
	finishedSubjects = append(finishedSubjects, subjectsOf(runReq)...)
	finishedSubjects = append(finishedSubjects, streams.RunSubject(streams.SubjectRunStarted, "ask", run.ID),
		streams.RunSubject(streams.SubjectRunResume, "ask", run.ID), streams.SubjectRunFinished+run.ID)
	waitWithin(t, "the finished work's events to be removed", 30*time.Second, func() bool {
		for _, s := range finishedSubjects {
			if !gone(s) {
				return false
			}
		}
		return true
	})
	timers, err := js.Stream(ctx, streams.TimerStream)
	if err != nil {
		t.Fatal(err)
	}
	waitWithin(t, "the disarmed timer to leave nothing", 30*time.Second, func() bool {
		_, err := timers.GetLastMsgForSubject(ctx, "$KV."+streams.BucketTimers+"."+finished.ID)
		return errors.Is(err, jetstream.ErrMsgNotFound)
	})

	// Live work is whole.
	for _, id := range []string{pending.ID, pendingTimer.ID} {
		r, _, err := st.Request(ctx, id)
		if err != nil || r.Resolved() {
			t.Fatalf("pending request %s: %+v %v", id, r, err)
		}
		if !gone(streams.SubjectResponse + id) {
			t.Fatalf("pending request %s has a response", id)
		}
	}
	if gone(streams.SubjectRequestInfo + pendingTimer.ID) {
		t.Fatal("the question of a request pending until its deadline was removed")
	}
	if _, err := st.Buckets().Timers.Get(ctx, pendingTimer.ID); err != nil {
		t.Fatalf("the pending request's timer: %v", err)
	}
	if r, _, err := st.Request(ctx, kept.ID); err != nil || r.Status != events.StatusAnswered || gone(streams.SubjectResolved+kept.ID) {
		t.Fatalf("the request kept for an hour: %+v %v", r, err)
	}
	if r, _, err := st.Run(ctx, keptRun.ID); err != nil || r.Status != events.RunCompleted || gone(streams.SubjectRunFinished+keptRun.ID) {
		t.Fatalf("the run kept for an hour: %+v %v", r, err)
	}
	if r, _, err := st.Run(ctx, waiting.ID); err != nil || r.Status != events.RunWaiting {
		t.Fatalf("the waiting run: %+v %v", r, err)
	}
	if r, _, err := st.Request(ctx, journal.RequestID(waiting.ID, 0)); err != nil || r.Resolved() {
		t.Fatalf("the waiting run's request: %+v %v", r, err)
	}

	// A late answer is refused, passes no gate, resumes nothing.
	for _, id := range []string{finished.ID, runReq} {
		if _, err := approve(id); !errors.Is(err, store.ErrPurged) {
			t.Fatalf("late answer to %s: %v, want ErrPurged", id, err)
		}
		if _, err := st.Respond(ctx, events.Response{RequestID: id, Outcome: events.StatusCancelled}); !errors.Is(err, store.ErrPurged) {
			t.Fatalf("late cancel of %s: %v, want ErrPurged", id, err)
		}
		if !gone(streams.SubjectResponse + id) {
			t.Fatalf("a late answer to %s reached its gate", id)
		}
	}
	if !gone(streams.RunSubject(streams.SubjectRunResume, "ask", run.ID)) {
		t.Fatal("a late answer resumed the run")
	}

	// A response published straight to the purged request's empty gate is acked and changes
	// nothing.
	msg, err := events.NewMsg(streams.SubjectResponse+runReq, events.TypeResponse, uuid.NewString(),
		events.Response{RequestID: runReq, RunID: run.ID, Outcome: events.StatusAnswered, Data: json.RawMessage(`{"approved": false}`), At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(ctx, streams.Stream, streams.ConsumerOrchestrator)
	if err != nil {
		t.Fatal(err)
	}
	waitWithin(t, "the orchestrator to ack the forged response", 20*time.Second, func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	if _, _, err := st.Request(ctx, runReq); !errors.Is(err, store.ErrPurged) {
		t.Fatalf("after a forged response the request is %v, want still purged", err)
	}
	if _, _, err := st.Run(ctx, run.ID); !errors.Is(err, store.ErrPurged) {
		t.Fatalf("after a forged response the run is %v, want still purged", err)
	}
	if !gone(streams.SubjectResolved+runReq) || !gone(streams.RunSubject(streams.SubjectRunResume, "ask", run.ID)) {
		t.Fatal("a forged response to a purged request was applied")
	}
}
