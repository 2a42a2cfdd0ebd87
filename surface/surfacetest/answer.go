package surfacetest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
)

func answerAcceptedOnce(t *testing.T, newSubject func(*testing.T, Env) Subject) {
	f := setup(t, newSubject)
	a := f.s.Answer
	r := f.askAnswer(t)
	// Three answers made ready while the request is pending: the first identity's approval,
	// then, as from a second tab or a double click, its rejection, and the other allowed
	// identity's rejection.
	first := a.Prepare(t, r, a.Allowed[0], true)
	again := a.Prepare(t, r, a.Allowed[0], false)
	other := a.Prepare(t, r, a.Allowed[1], false)

	f.send(t, first, a.Allowed[0], true)
	want := f.waitAnswered(t, r.ID, a.Allowed[0], true)
	f.gateHolds(t, r.ID, 1)

	for _, late := range []struct {
		who     string
		attempt Attempt
	}{{a.Allowed[0] + " again", again}, {a.Allowed[1], other}} {
		f.send(t, late.attempt, late.who, false)
		f.unchanged(t, r.ID, want)
		f.gateHolds(t, r.ID, 1)
	}
}

func refusedIdentityChangesNothing(t *testing.T, newSubject func(*testing.T, Env) Subject) {
	f := setup(t, newSubject)
	a := f.s.Answer
	r := f.askAnswer(t)
	before := f.record(t, r.ID)

	f.send(t, a.Prepare(t, r, a.Refused, true), a.Refused, false)
	f.unchanged(t, r.ID, before)
	f.gateHolds(t, r.ID, 0)

	// The refusal spent nothing: an approver still answers.
	f.send(t, a.Prepare(t, r, a.Allowed[0], false), a.Allowed[0], true)
	f.waitAnswered(t, r.ID, a.Allowed[0], false)
	f.gateHolds(t, r.ID, 1)
}

func concurrentAnswersAcceptOne(t *testing.T, newSubject func(*testing.T, Env) Subject) {
	f := setup(t, newSubject)
	a := f.s.Answer
	r := f.askAnswer(t)
	approves := [2]bool{true, false}
	var attempts [2]Attempt
	for i, who := range a.Allowed {
		attempts[i] = a.Prepare(t, r, who, approves[i])
	}
	var outcomes [2]Outcome
	var errs [2]error
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range attempts {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			<-start
			outcomes[i], errs[i] = attempts[i](ctx)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i := range attempts {
		if errs[i] != nil {
			t.Fatalf("%s's answer could not be sent: %v", a.Allowed[i], errs[i])
		}
		t.Logf("%s: %s", a.Allowed[i], outcomes[i].Said)
		if outcomes[i].Accepted {
			if winner >= 0 {
				t.Fatalf("both answers were accepted: %+v", outcomes)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("neither answer was accepted: %+v", outcomes)
	}
	f.waitAnswered(t, r.ID, a.Allowed[winner], approves[winner])
	f.gateHolds(t, r.ID, 1)
}

func lateAnswerIsGone(t *testing.T, newSubject func(*testing.T, Env) Subject) {
	f := setup(t, newSubject)
	a := f.s.Answer
	r := f.askAnswer(t, events.Duration(time.Second))
	first := a.Prepare(t, r, a.Allowed[0], true)
	late := a.Prepare(t, r, a.Allowed[1], false)
	f.send(t, first, a.Allowed[0], true)
	f.waitAnswered(t, r.ID, a.Allowed[0], true)

	WaitFor(t, "the answered request and its gate's response to be removed", func() bool {
		_, _, err := f.Store.Request(context.Background(), r.ID)
		return errors.Is(err, store.ErrPurged) && f.gateCount(t, r.ID) == 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := late(ctx)
	if err != nil {
		t.Fatalf("the late answer could not be sent: %v", err)
	}
	t.Logf("%s, late: %s", a.Allowed[1], out.Said)
	if out.Accepted {
		t.Fatalf("a late answer to a removed request was accepted: %s", out.Said)
	}
	if !strings.Contains(out.Said, "410") && !strings.Contains(out.Said, "removed") {
		t.Fatalf("the surface did not say the request is gone: %q", out.Said)
	}
	f.gateHolds(t, r.ID, 0)
	if _, _, err := f.Store.Request(context.Background(), r.ID); !errors.Is(err, store.ErrPurged) {
		t.Fatalf("after a late answer the request is %v, want still removed", err)
	}
}

// askAnswer creates a request for the answer half: sent to its assignees, answerable by
// its two allowed identities only, kept for retention once resolved (0: the default).
func (f *fixture) askAnswer(t *testing.T, retention ...events.Duration) *events.Request {
	t.Helper()
	a := f.s.Answer
	r := &events.Request{ID: uuid.NewString(), Title: "Conformance: approve?", Message: "A request from the conformance suite.",
		Input: input.Spec{Type: input.Approval}, Assignees: a.Assignees, Approvers: a.Allowed[:]}
	if len(retention) > 0 {
		r.Retention = retention[0]
	}
	if err := f.Store.CreateRequest(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

// send sends an attempt and checks that the surface accepted it, or did not, as wanted.
func (f *fixture) send(t *testing.T, attempt Attempt, who string, wantAccepted bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := attempt(ctx)
	if err != nil {
		t.Fatalf("%s's answer could not be sent: %v", who, err)
	}
	t.Logf("%s: %s", who, out.Said)
	switch {
	case wantAccepted && !out.Accepted:
		t.Fatalf("%s's answer was not accepted: %s", who, out.Said)
	case !wantAccepted && out.Accepted:
		t.Fatalf("%s's answer was accepted, and must not be: %s", who, out.Said)
	}
}

// snapshot is a request record as read, with its KV revision.
type snapshot struct {
	req *events.Request
	rev uint64
}

func (f *fixture) record(t *testing.T, id string) snapshot {
	t.Helper()
	r, rev, err := f.Store.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return snapshot{r, rev}
}

// waitAnswered waits for the record to hold the answer of responder, approving or
// rejecting as given, and returns it.
func (f *fixture) waitAnswered(t *testing.T, id, responder string, approved bool) snapshot {
	t.Helper()
	var s snapshot
	WaitFor(t, "the request record to be answered", func() bool {
		s = f.record(t, id)
		return s.req.Resolved()
	})
	r := s.req
	if r.Status != events.StatusAnswered || r.Response == nil {
		t.Fatalf("request %s is %s, want answered (response %+v)", id, r.Status, r.Response)
	}
	if r.Response.Responder != responder {
		t.Fatalf("answered by %q, want %q", r.Response.Responder, responder)
	}
	var got input.ApprovalAnswer
	if err := json.Unmarshal(r.Response.Data, &got); err != nil || got.Approved != approved {
		t.Fatalf("the answer is %s, want approved %v", r.Response.Data, approved)
	}
	return s
}

// unchanged checks that the record is as it was in want: not written since.
func (f *fixture) unchanged(t *testing.T, id string, want snapshot) {
	t.Helper()
	got := f.record(t, id)
	if got.rev != want.rev || got.req.Status != want.req.Status {
		t.Fatalf("the request record changed: revision %d → %d, status %s → %s (response %+v)",
			want.rev, got.rev, want.req.Status, got.req.Status, got.req.Response)
	}
}

// gateHolds checks the number of messages on the request's first-wins gate subject.
func (f *fixture) gateHolds(t *testing.T, id string, want uint64) {
	t.Helper()
	ctx := context.Background()
	st, err := f.Store.JetStream().Stream(ctx, streams.Stream)
	if err != nil {
		t.Fatal(err)
	}
	subject := streams.SubjectResponse + id
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.State.Subjects[subject]; got != want {
		t.Fatalf("%d messages on %s, want %d", got, subject, want)
	}
}

// gateCount is the number of messages on the request's gate subject.
func (f *fixture) gateCount(t *testing.T, id string) uint64 {
	t.Helper()
	ctx := context.Background()
	st, err := f.Store.JetStream().Stream(ctx, streams.Stream)
	if err != nil {
		t.Fatal(err)
	}
	subject := streams.SubjectResponse + id
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}
