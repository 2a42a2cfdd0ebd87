package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/store"
)

// heldWatches is the real requests bucket whose WatchAll (one consumer per listing) waits
// until the test opens the gate, counting the watches in progress.
type heldWatches struct {
	jetstream.KeyValue
	gate chan struct{}

	mu            sync.Mutex
	inFlight, max int
}

func (h *heldWatches) WatchAll(ctx context.Context, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	h.mu.Lock()
	h.inFlight++
	h.max = max(h.max, h.inFlight)
	h.mu.Unlock()
	defer func() { h.mu.Lock(); h.inFlight--; h.mu.Unlock() }()
	select {
	case <-h.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return h.KeyValue.WatchAll(ctx, opts...)
}

func (h *heldWatches) counts() (inFlight, max int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.inFlight, h.max
}

// A burst of listings holds at most MaxConcurrentLists consumers; the rest wait their turn
// and all answer.
func TestListingsAreBounded(t *testing.T) {
	env := natstest.Single(t)
	st := openStore(t, env)
	want := newRequest(t, st, events.Request{})
	b := st.Buckets()
	held := &heldWatches{KeyValue: b.Requests, gate: make(chan struct{})}
	b.Requests = held
	bounded := store.New(st.JetStream(), b)

	const n = 3 * store.MaxConcurrentLists
	var started, wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		started.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			list, err := bounded.ListRequests(context.Background(), events.StatusPending)
			if err == nil && (len(list) != 1 || list[0].ID != want.ID) {
				err = errors.New("wrong list")
			}
			errs <- err
		}()
	}
	started.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for in, _ := held.counts(); in < store.MaxConcurrentLists; in, _ = held.counts() {
		if time.Now().After(deadline) {
			t.Fatalf("only %d listings started", in)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// One more, whose caller gives up while waiting for a turn.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := bounded.ListRequests(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("a listing past the bound with its context ended: %v", err)
	}
	close(held.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, m := held.counts(); m != store.MaxConcurrentLists {
		t.Fatalf("%d listings ran at once, want %d", m, store.MaxConcurrentLists)
	}
}
