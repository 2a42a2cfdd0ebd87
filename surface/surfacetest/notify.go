package surfacetest

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/streams"
)

func delivers(t *testing.T, newSubject func(*testing.T, Env) Subject) {
	f := setup(t, newSubject)
	r := f.askNotify(t)
	WaitFor(t, "the delivery", func() bool { return f.s.Notify.Delivered(r.ID) >= 1 })
	f.waitStatus(t, r.ID, "delivered")
}

func idempotentOnRedelivery(t *testing.T, newSubject func(*testing.T, Env) Subject) {
	f := setup(t, newSubject)
	r := f.askNotify(t)
	f.waitStatus(t, r.ID, "delivered")
	// The same request_info again, as after a crash before the ack (another message id, so
	// the stream's duplicate window does not hide it).
	body, _ := json.Marshal(r)
	e, _ := events.New(events.TypeRequestInfo, "again/"+r.ID, r.ID, json.RawMessage(body))
	msg, _ := events.Msg(streams.SubjectRequestInfo+r.ID, e)
	ack, err := f.Store.JetStream().PublishMsg(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	f.waitHandled(t, ack.Sequence)
	if n := f.s.Notify.Delivered(r.ID); n != 1 {
		t.Fatalf("delivered %d times, want 1", n)
	}
}

func updatesOnResolution(t *testing.T, newSubject func(*testing.T, Env) Subject) {
	f := setup(t, newSubject)
	r := f.askNotify(t)
	f.waitStatus(t, r.ID, "delivered")
	ctx := context.Background()
	resolved, err := f.Store.Respond(ctx, events.Response{RequestID: r.ID, Outcome: events.StatusAnswered,
		Data: json.RawMessage(`{"approved":true}`), Responder: "conformance"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Store.FinishRequest(ctx, resolved); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, "the update", func() bool { return f.s.Notify.Resolved(r.ID) >= 1 })
	st, err := f.Store.JetStream().Stream(ctx, streams.Stream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(ctx, streams.SubjectResolved+r.ID)
	if err != nil {
		t.Fatal(err)
	}
	f.waitHandled(t, m.Sequence)
	if n := f.s.Notify.Resolved(r.ID); n != 1 {
		t.Fatalf("updated %d times, want 1", n)
	}
}

func reportsFailedDelivery(t *testing.T, newSubject func(*testing.T, Env) Subject) {
	f := setup(t, newSubject)
	f.s.Notify.Break()
	r := f.askNotify(t)
	status, reason := f.waitStatus(t, r.ID, "dead_letter")
	if strings.TrimSpace(reason) == "" {
		t.Fatalf("dead letter %q has no reason", status)
	}
	t.Logf("dead letter reason: %s", reason)
	// Dead-lettered after the last attempt, not at the first failure: every attempt failed.
	kind := f.s.Notify.Channel.Kind()
	if failed, dead := f.deliveries(t, kind, "failed"), f.deliveries(t, kind, "dead_letter"); failed != maxDeliver || dead != 1 {
		t.Fatalf("%d failed attempts and %d dead letters, want %d and 1: a failure worth retrying was not retried up to the last attempt",
			failed, dead, maxDeliver)
	}
}

func rejectsBadConfiguration(t *testing.T, bad map[string]func() error) {
	if len(bad) == 0 {
		t.Fatal("the subject lists no bad configurations")
	}
	for name, build := range bad {
		if err := build(); err == nil {
			t.Errorf("%s: accepted", name)
		} else if err.Error() == "" {
			t.Errorf("%s: an error without a message", name)
		}
	}
}

// askNotify creates a request for the notify half's recipient (none for an observer, which
// sees every request).
func (f *fixture) askNotify(t *testing.T) *events.Request {
	t.Helper()
	r := &events.Request{ID: uuid.NewString(), Title: "Conformance: approve?", Message: "A request from the conformance suite.",
		Input: input.Spec{Type: input.Approval}}
	if !f.s.Notify.Observer {
		r.Assignees = []string{f.s.Notify.Assignee}
	}
	if err := f.Store.CreateRequest(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) waitStatus(t *testing.T, requestID, want string) (status, reason string) {
	t.Helper()
	WaitFor(t, "delivery status "+want, func() bool {
		status, reason, _ = notify.DeliveryStatus(context.Background(), f.Store, requestID, f.s.Notify.assignee(), "notify")
		return status == want
	})
	return status, reason
}

// waitHandled waits until the notifier has handled, and acknowledged, every message up to
// the stream sequence seq: whatever it did with them is then done.
func (f *fixture) waitHandled(t *testing.T, seq uint64) {
	t.Helper()
	ctx := context.Background()
	c, err := f.Store.JetStream().Consumer(ctx, streams.Stream, streams.ConsumerNotifier)
	if err != nil {
		t.Fatal(err)
	}
	WaitFor(t, "the notifier to handle message "+strconv.FormatUint(seq, 10), func() bool {
		info, err := c.Info(ctx)
		return err == nil && info.AckFloor.Stream >= seq
	})
}

// deliveries reads the notifier's hitl_notifications_total for a channel and result.
func (f *fixture) deliveries(t *testing.T, channel, result string) int {
	t.Helper()
	mfs, err := f.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "hitl_notifications_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label(m, "channel") == channel && label(m, "result") == result {
				return int(m.GetCounter().GetValue())
			}
		}
	}
	return 0
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
