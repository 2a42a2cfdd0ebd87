package notify_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
)

// posting is a channel that keeps what it was asked to show and update, and posts a
// reference for the update, as Slack's does.
type posting struct {
	mu      sync.Mutex
	updated map[string]json.RawMessage // request id → the ref Update was given
}

func (p *posting) Kind() string                                  { return "post" }
func (p *posting) Notify(context.Context, notify.Delivery) error { return nil }
func (p *posting) Post(context.Context, notify.Delivery) (json.RawMessage, error) {
	return json.RawMessage(`{"ts": "1"}`), nil
}
func (p *posting) Update(_ context.Context, d notify.Delivery) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.updated[d.Request.ID] = d.Ref
	return nil
}

func (p *posting) ref(id string) json.RawMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.updated[id]
}

// The delivery records of a resolved request (the delivery, the update, the dead letter of
// an assignee no channel serves) are removed after the request's retention; those of a
// pending request stay, and the update of a resolved one still finds what it posted.
func TestDeliveryRecordsGoWithTheRetention(t *testing.T) {
	env := natstest.Single(t)
	_, js := env.Connect(t)
	ctx := context.Background()
	st, err := store.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	st.SetRetention(2 * time.Second)
	ch := &posting{updated: map[string]json.RawMessage{}}
	n, err := notify.New(notify.Config{Store: st, Channels: []notify.Channel{ch}, LinkSecret: []byte("0123456789abcdef0123"),
		PublicURL: "http://localhost:8080"})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Run(rctx) }()
	defer func() { cancel(); <-done }()

	ask := func() *events.Request {
		r := &events.Request{ID: uuid.NewString(), Title: "Ship it?", Input: input.Spec{Type: input.Approval},
			Assignees: []string{"post:ops", "nochannel:x"}}
		if err := st.CreateRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	deliveries, err := js.Stream(ctx, "KV_"+streams.BucketDeliveries)
	if err != nil {
		t.Fatal(err)
	}
	records := func(id string) int {
		info, err := deliveries.Info(ctx, jetstream.WithSubjectFilter("$KV."+streams.BucketDeliveries+"."+id+".>"))
		if err != nil {
			t.Fatal(err)
		}
		return len(info.State.Subjects)
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	resolved, pending := ask(), ask()
	wait("both deliveries and dead letters", func() bool { return records(resolved.ID) == 2 && records(pending.ID) == 2 })
	if info, err := deliveries.Info(ctx); err == nil {
		t.Logf("%d bytes per delivery record", info.State.Bytes/info.State.Msgs) // for docs/operations.md
	}
	a := &store.Answerer{Store: st}
	if _, err := a.Answer(ctx, store.Answer{RequestID: resolved.ID, Identities: []string{routing.Operator},
		Data: json.RawMessage(`{"approved": true}`)}); err != nil {
		t.Fatal(err)
	}
	wait("the update of the resolved request", func() bool { return string(ch.ref(resolved.ID)) == `{"ts":"1"}` })
	wait("the resolved request's records to be removed", func() bool { return records(resolved.ID) == 0 })
	if got := records(pending.ID); got != 2 {
		t.Fatalf("the pending request has %d delivery records, want 2", got)
	}
	if status, _, err := notify.DeliveryStatus(ctx, st, pending.ID, "post:ops", "notify"); err != nil || status != "delivered" {
		t.Fatalf("the pending request's delivery: %q %v", status, err)
	}
}
