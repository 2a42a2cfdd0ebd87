package e2e_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/engine"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/store"
)

// TestCrashMidRunRepeatsNoRecordedStep kills an orchestrator abruptly (its connection drops
// with a handler still running, as when the process dies) between two steps. Another
// instance picks the run up after the ack wait: the first step, recorded, does not run
// again; the second, unrecorded, does; the run then asks and completes normally.
func TestCrashMidRunRepeatsNoRecordedStep(t *testing.T) {
	t.Parallel()
	env := natstest.SingleAckWait(t, 2*time.Second)
	var stepA, stepB atomic.Int64
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	reg := hitl.NewRegistry()
	hitl.Register(reg, "crashy", func(ctx context.Context, _ struct{}) (int, error) {
		a, err := hitl.Step(ctx, "a", func(context.Context) (int, error) { stepA.Add(1); return 1, nil })
		if err != nil {
			return 0, err
		}
		b, err := hitl.Step(ctx, "b", func(context.Context) (int, error) {
			if stepB.Add(1) == 1 {
				<-block // the first instance hangs here and is killed
			}
			return 2, nil
		})
		if err != nil {
			return 0, err
		}
		if _, err := hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{Title: "Finish?"}); err != nil {
			return 0, err
		}
		return a + b, nil
	})
	s := newSystem(t, env, reg)

	// The doomed instance, on a connection the test can cut.
	nc, js := env.Connect(t)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	o, err := engine.New(engine.Config{Store: st, Registry: reg, Logger: s.logs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = o.Run(ctx) }()

	id := s.startRun("crashy", nil)
	eventually(t, 10*time.Second, func() bool { return stepB.Load() == 1 }, func() string { return "step b started" })
	nc.Close() // the process is gone
	cancel()

	s.orchestrator()
	v := s.waitRun(id, 20*time.Second, waiting(1))
	if a, b := stepA.Load(), stepB.Load(); a != 1 || b != 2 {
		t.Fatalf("step a ran %d times (want 1: it was recorded), step b %d times (want 2: it was not)", a, b)
	}
	if r := s.call("POST", "/v1/requests/"+v.Pending[0].ID+"/respond", map[string]any{"data": map[string]any{"approved": true}}); r.Status != http.StatusOK {
		t.Fatalf("respond: %d %s", r.Status, r.Body)
	}
	v = s.waitRun(id, 20*time.Second, finished)
	if v.Status != events.RunCompleted || string(v.Result) != "3" {
		t.Fatalf("run: %s %s %s", v.Status, v.Result, v.Error)
	}
}
