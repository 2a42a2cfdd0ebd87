//go:build stress

package e2e_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/respond"
	"github.com/hitl-dev/hitl/streams"
)

// TestStressLeaderFailover runs hundreds of runs on a 3-node cluster with two orchestrators
// and two notifiers, kills the node leading the event stream while every run waits, answers
// them all, and checks that every run completes and is resumed exactly once. Run with
// `make stress`.
func TestStressLeaderFailover(t *testing.T) {
	env := natstest.Cluster(t)
	res := &resumes{}
	s := newSystem(t, env, registry(res))
	s.orchestrator()
	s.orchestrator()
	s.notifier()
	s.notifier()

	const runs = 300
	ids := make([]string, runs)
	parallel(runs, 16, func(i int) {
		r := retry(t, func() apiResp { return s.call("POST", "/v1/runs", map[string]any{"workflow": "one"}) }, http.StatusCreated)
		var v respond.RunView
		r.decode(t, &v)
		ids[i] = v.ID
	})
	for _, id := range ids {
		s.waitRun(id, 60*time.Second, waiting(1))
	}

	// Kill the node that leads the event stream.
	_, js := env.Connect(t)
	info, err := mustStream(t, js).Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	killed := ""
	for _, srv := range env.Servers {
		if srv.Name() == info.Cluster.Leader {
			killed = srv.Name()
			srv.Shutdown()
		}
	}
	if killed == "" {
		t.Fatalf("no server named %q", info.Cluster.Leader)
	}
	t.Logf("killed %s, the leader of %s", killed, streams.Stream)

	start := time.Now()
	parallel(runs, 16, func(i int) {
		rid := hitl.RequestID(ids[i], 0)
		retry(t, func() apiResp {
			return s.call("POST", "/v1/requests/"+rid+"/respond", map[string]any{"data": map[string]any{"approved": true}})
		}, http.StatusOK, http.StatusConflict)
	})
	for _, id := range ids {
		v := s.waitRun(id, 120*time.Second, finished)
		if v.Status != events.RunCompleted {
			t.Errorf("run %s: %s %s", id, v.Status, v.Error)
		}
	}
	t.Logf("%d runs answered and completed in %s after the leader was killed", runs, time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second)
	received, _ := s.bot.counts()
	dup := 0
	for _, id := range ids {
		if n := res.get(id); n != 1 {
			t.Errorf("run %s resumed %d times, want 1", id, n)
		}
		switch n := received[hitl.RequestID(id, 0)+"/ops-bot"]; {
		case n == 0:
			t.Errorf("run %s: the webhook never arrived", id)
		case n > 1:
			dup++
		}
	}
	t.Logf("webhooks delivered more than once (at-least-once across a failover): %d of %d", dup, runs)
}

func parallel(n, workers int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() { defer wg.Done(); defer func() { <-sem }(); fn(i) }()
	}
	wg.Wait()
}

// retry repeats an API call while JetStream elects a new leader (503s and 500s).
func retry(t *testing.T, call func() apiResp, want ...int) apiResp {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := call()
		for _, w := range want {
			if r.Status == w {
				return r
			}
		}
		if r.Status < 500 || time.Now().After(deadline) {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustStream(t *testing.T, js jetstream.JetStream) jetstream.Stream {
	t.Helper()
	st, err := js.Stream(context.Background(), streams.Stream)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
