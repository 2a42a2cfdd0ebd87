package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/engine"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/store"
)

// A request whose timer marker is gone (purged, as when markers outlive their retention
// during a long outage) still times out: the orchestrator reconciles overdue requests.
func TestOverdueRequestWithoutMarkerTimesOut(t *testing.T) {
	engine.ReconcileGrace = 0
	engine.ReconcileDelay = 0
	env := natstest.Single(t)
	_, js := env.Connect(t)
	ctx := context.Background()
	st, err := store.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	r := &events.Request{ID: uuid.NewString(), Title: "Lost timer?", Input: input.Spec{Type: input.Boolean},
		Timeout: events.Duration(time.Second)}
	if err := st.CreateRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	// Remove the timer without an expiry marker (a purge writes none).
	if err := st.Buckets().Timers.Purge(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(*r.Deadline) + 100*time.Millisecond)
	if got, _, _ := st.Request(ctx, r.ID); got.Status != events.StatusPending {
		t.Fatalf("before any orchestrator ran, the request is %s", got.Status)
	}

	o, err := engine.New(engine.Config{Store: st, Registry: hitl.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- o.Run(rctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _, err := st.Request(ctx, r.ID)
		if err == nil && got.Status == events.StatusTimedOut {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("request is %s, want timed_out", got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
