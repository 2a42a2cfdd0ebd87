package engine_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/engine"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/store"
)

// flakyRuns is the real runs bucket whose next failures updates fail, as during a leader
// election.
type flakyRuns struct {
	jetstream.KeyValue
	failures atomic.Int32
}

func (f *flakyRuns) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if f.failures.Add(-1) >= 0 {
		return 0, errors.New("injected: nats: timeout")
	}
	return f.KeyValue.Update(ctx, key, value, rev)
}

// A Step whose checkpoint write fails after its function returned is saved with the result
// in hand: its side effect runs once, and the run completes. StepKey is the same key the
// step's function saw.
func TestStepSavedDespiteFailingCheckpointWrites(t *testing.T) {
	env := natstest.Single(t)
	_, js := env.Connect(t)
	ctx := context.Background()
	real, err := store.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	b := real.Buckets()
	runs := &flakyRuns{KeyValue: b.Runs}
	b.Runs = runs
	st := store.New(js, b)

	var calls atomic.Int32
	var key atomic.Value
	reg := hitl.NewRegistry()
	hitl.Register(reg, "pay", func(ctx context.Context, _ struct{}) (string, error) {
		return hitl.Step(ctx, "charge", func(ctx context.Context) (string, error) {
			calls.Add(1)
			key.Store(hitl.StepKey(ctx))
			runs.failures.Store(3) // the checkpoint writes right after this return fail three times
			return "charged", nil
		})
	})
	o, err := engine.New(engine.Config{Store: st, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- o.Run(rctx) }()
	defer func() { cancel(); <-done }()

	run, err := real.StartRun(ctx, "pay", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run to complete", func() bool {
		got, _, err := real.Run(ctx, run.ID)
		return err == nil && got.Status == events.RunCompleted
	})
	if n := calls.Load(); n != 1 {
		t.Fatalf("the step ran %d times, want 1", n)
	}
	if k, _ := key.Load().(string); k != run.ID+"/step/0" {
		t.Fatalf("StepKey %q", k)
	}
}
