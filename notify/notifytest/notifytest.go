// Package notifytest is the conformance suite every notification channel passes, on a real
// embedded JetStream and the real notifier: it delivers, it is idempotent on redelivery, it
// updates the surface on resolution, it reports a failed delivery as a dead letter with a
// reason, and it rejects bad configuration.
package notifytest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
)

// Subject is a channel under test and a view of what its recipient saw.
type Subject struct {
	// Channel, built with a valid configuration.
	Channel notify.Channel
	// Assignee reaches a recipient through Channel, e.g. "webhook:ops-bot".
	Assignee string
	// Delivered counts how often the recipient was shown the request.
	Delivered func(requestID string) int
	// Resolved counts how often the recipient's surface was updated with the outcome.
	Resolved func(requestID string) int
	// Break makes deliveries to the recipient fail from now on (its server errors).
	Break func()
	// BadConfigs each try to build the channel from a bad configuration; each must fail.
	BadConfigs map[string]func() error
}

// Run runs the suite. newSubject builds a fresh subject per behaviour.
func Run(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Run("Delivers", func(t *testing.T) {
		t.Parallel()
		f := setup(t, newSubject(t))
		r := f.ask(t)
		f.waitFor(t, "the delivery", func() bool { return f.s.Delivered(r.ID) >= 1 })
		f.waitStatus(t, r.ID, "delivered")
	})
	t.Run("IdempotentOnRedelivery", func(t *testing.T) {
		t.Parallel()
		f := setup(t, newSubject(t))
		r := f.ask(t)
		f.waitStatus(t, r.ID, "delivered")
		// The same request_info again, as after a crash before the ack (another message id, so
		// the stream's duplicate window does not hide it).
		body, _ := json.Marshal(r)
		e, _ := events.New(events.TypeRequestInfo, "again/"+r.ID, r.ID, json.RawMessage(body))
		msg, _ := events.Msg(streams.SubjectRequestInfo+r.ID, e)
		if _, err := f.st.JetStream().PublishMsg(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
		f.settle()
		if n := f.s.Delivered(r.ID); n != 1 {
			t.Fatalf("delivered %d times, want 1", n)
		}
	})
	t.Run("UpdatesOnResolution", func(t *testing.T) {
		t.Parallel()
		f := setup(t, newSubject(t))
		r := f.ask(t)
		f.waitStatus(t, r.ID, "delivered")
		ctx := context.Background()
		resolved, err := f.st.Respond(ctx, events.Response{RequestID: r.ID, Outcome: events.StatusAnswered,
			Data: json.RawMessage(`{"approved":true}`), Responder: "conformance"})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.st.FinishRequest(ctx, resolved); err != nil {
			t.Fatal(err)
		}
		f.waitFor(t, "the update", func() bool { return f.s.Resolved(r.ID) >= 1 })
		f.settle()
		if n := f.s.Resolved(r.ID); n != 1 {
			t.Fatalf("updated %d times, want 1", n)
		}
	})
	t.Run("ReportsFailedDelivery", func(t *testing.T) {
		t.Parallel()
		f := setup(t, newSubject(t))
		f.s.Break()
		r := f.ask(t)
		status, reason := f.waitStatus(t, r.ID, "dead_letter")
		if strings.TrimSpace(reason) == "" {
			t.Fatalf("dead letter %q has no reason", status)
		}
		t.Logf("dead letter reason: %s", reason)
	})
	t.Run("RejectsBadConfiguration", func(t *testing.T) {
		s := newSubject(t)
		if len(s.BadConfigs) == 0 {
			t.Fatal("the subject lists no bad configurations")
		}
		for name, build := range s.BadConfigs {
			if err := build(); err == nil {
				t.Errorf("%s: accepted", name)
			} else if err.Error() == "" {
				t.Errorf("%s: an error without a message", name)
			}
		}
	})
}

type fixture struct {
	s  Subject
	st *store.Store
}

func setup(t *testing.T, s Subject) *fixture {
	t.Helper()
	env := natstest.Single(t)
	_, js := env.Connect(t)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	n, err := notify.New(notify.Config{Store: st, Channels: []notify.Channel{s.Channel},
		LinkSecret: []byte("conformance-link-secret"), PublicURL: "http://hitl.test", MaxDeliver: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &fixture{s: s, st: st}
}

func (f *fixture) ask(t *testing.T) *events.Request {
	t.Helper()
	r := &events.Request{ID: uuid.NewString(), Title: "Conformance: approve?", Message: "A request from the conformance suite.",
		Input: input.Spec{Type: input.Approval}, Assignees: []string{f.s.Assignee}}
	if err := f.st.CreateRequest(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) waitStatus(t *testing.T, requestID, want string) (status, reason string) {
	t.Helper()
	f.waitFor(t, "delivery status "+want, func() bool {
		status, reason, _ = notify.DeliveryStatus(context.Background(), f.st, requestID, f.s.Assignee, "notify")
		return status == want
	})
	return status, reason
}

func (f *fixture) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settle leaves room for a wrong duplicate to arrive before counting.
func (f *fixture) settle() { time.Sleep(300 * time.Millisecond) }
