package waiters_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/internal/embedded"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/internal/waiters"
)

func bucket(t testing.TB) (jetstream.KeyValue, jetstream.JetStream) {
	t.Helper()
	env := natstest.Single(t)
	_, js := env.Connect(t)
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "waiters_test"})
	if err != nil {
		t.Fatal(err)
	}
	return kv, js
}

// next returns the next entry of w, nil meaning "read again"; it fails the test after 30s.
func next(t *testing.T, w *waiters.Waiter) (jetstream.KeyValueEntry, bool) {
	t.Helper()
	select {
	case e, ok := <-w.C():
		return e, ok
	case <-time.After(30 * time.Second):
		t.Fatal("no update within 30s")
		return nil, false
	}
}

// sees waits until w shows key at value: delivered, or read after a nil ("read again").
func sees(t *testing.T, kv jetstream.KeyValue, w *waiters.Waiter, key, value string) {
	t.Helper()
	for {
		e, ok := next(t, w)
		if !ok {
			t.Fatal("waiter closed")
		}
		if e == nil {
			got, err := kv.Get(context.Background(), key)
			if err == nil && string(got.Value()) == value {
				return
			}
			continue
		}
		if e.Key() != key {
			t.Fatalf("waiter on %s got an update of %s", key, e.Key())
		}
		if string(e.Value()) == value {
			return
		}
	}
}

func TestDeliversToTheWaitersOfTheKey(t *testing.T) {
	kv, _ := bucket(t)
	h := waiters.New(kv, nil)
	defer h.Close()
	a1, a2, b := h.Wait("a"), h.Wait("a"), h.Wait("b")
	if h.Len() != 3 {
		t.Fatalf("Len = %d, want 3", h.Len())
	}
	if _, err := kv.Put(context.Background(), "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	sees(t, kv, a1, "a", "1")
	sees(t, kv, a2, "a", "1")
	if _, err := kv.Put(context.Background(), "b", []byte("2")); err != nil {
		t.Fatal(err)
	}
	sees(t, kv, b, "b", "2") // fails if b was handed a's update
	a1.Stop()
	a1.Stop() // twice is harmless
	if h.Len() != 2 {
		t.Fatalf("Len after Stop = %d, want 2", h.Len())
	}
}

// The caller's order is register, read, wait: a write after the read must reach the waiter,
// whether the hub was armed already or arms meanwhile (a fresh hub each round).
func TestAWriteAfterTheReadIsNotMissed(t *testing.T) {
	kv, _ := bucket(t)
	ctx := context.Background()
	shared := waiters.New(kv, nil)
	defer shared.Close()
	for i := range 60 {
		h := shared
		if i%3 == 0 {
			h = waiters.New(kv, nil)
		}
		key := "k" + strconv.Itoa(i)
		w := h.Wait(key)
		if _, err := kv.Get(ctx, key); err == nil { // the read: nothing there yet
			t.Fatalf("%s exists before the write", key)
		}
		if _, err := kv.Put(ctx, key, []byte("done")); err != nil {
			t.Fatal(err)
		}
		sees(t, kv, w, key, "done")
		w.Stop()
		if h != shared {
			h.Close()
		}
	}
}

// flaky is the real bucket, with the watches it hands out kept so that the test can end
// one, and the next WatchAll held until the test lets it go.
type flaky struct {
	jetstream.KeyValue
	mu      sync.Mutex
	watches []jetstream.KeyWatcher
	hold    chan struct{}
}

func (f *flaky) WatchAll(ctx context.Context, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	f.mu.Lock()
	hold := f.hold
	f.mu.Unlock()
	if hold != nil {
		<-hold
	}
	w, err := f.KeyValue.WatchAll(ctx, opts...)
	if err == nil {
		f.mu.Lock()
		f.watches = append(f.watches, w)
		f.mu.Unlock()
	}
	return w, err
}

func (f *flaky) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.watches)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A watch that ends is restarted, and a write made while no watch ran reaches the waiters as
// "read again".
func TestAWatchThatEndsIsRestartedAndWaitersReadAgain(t *testing.T) {
	kv, _ := bucket(t)
	ctx := context.Background()
	f := &flaky{KeyValue: kv}
	h := waiters.New(f, nil)
	defer h.Close()
	w := h.Wait("k")
	if e, ok := next(t, w); !ok || e != nil {
		t.Fatalf("first arming: got %v, %v; want a nil entry", e, ok)
	}
	hold := make(chan struct{})
	f.mu.Lock()
	f.hold = hold
	first := f.watches[0]
	f.mu.Unlock()
	if err := first.Stop(); err != nil { // as when its consumer cannot be recreated
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("in the gap")); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.hold = nil
	f.mu.Unlock()
	close(hold)
	waitFor(t, "the watch is restarted", func() bool { return f.count() == 2 })
	e, ok := next(t, w)
	if !ok || e != nil {
		t.Fatalf("after the restart: got %v, %v; want a nil entry (read again)", e, ok)
	}
	if _, err := kv.Put(ctx, "k", []byte("after")); err != nil {
		t.Fatal(err)
	}
	sees(t, kv, w, "k", "after")
}

// A NATS server restart (a lost connection) does not lose a write made after it.
func TestWaitersSurviveAServerRestart(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	srv, err := embedded.Start(embedded.Options{StoreDir: dir, Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	nc, err := nats.Connect("nats://"+addr, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "waiters_test"})
	if err != nil {
		t.Fatal(err)
	}
	h := waiters.New(kv, nil)
	defer h.Close()
	w := h.Wait("k")
	if e, ok := next(t, w); !ok || e != nil {
		t.Fatalf("first arming: got %v, %v", e, ok)
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	if srv, err = embedded.Start(embedded.Options{StoreDir: dir, Addr: addr}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the value is written after the restart", func() bool {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := kv.Put(pctx, "k", []byte("after restart"))
		return err == nil
	})
	sees(t, kv, w, "k", "after restart")
}

func TestCloseEndsEveryWait(t *testing.T) {
	kv, _ := bucket(t)
	h := waiters.New(kv, nil)
	w := h.Wait("k")
	idle := waiters.New(kv, nil) // never waited on: closes without a watch
	idle.Close()
	h.Close()
	for {
		if _, ok := next(t, w); !ok {
			break
		}
	}
	if h.Len() != 0 {
		t.Fatalf("Len after Close = %d", h.Len())
	}
	if _, ok := next(t, h.Wait("k")); ok {
		t.Fatal("a Wait after Close is not closed")
	}
	w.Stop() // after Close: harmless
}

func TestAClosedConnectionEndsEveryWait(t *testing.T) {
	env := natstest.Single(t)
	nc, js := env.Connect(t)
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "waiters_test"})
	if err != nil {
		t.Fatal(err)
	}
	h := waiters.New(kv, nil)
	defer h.Close()
	w := h.Wait("k")
	nc.Close()
	for {
		if _, ok := next(t, w); !ok {
			break
		}
	}
}

// BenchmarkWaiterMemory reports what one registered waiter holds in the hub (its struct, its
// channel, its share of the key map): the HTTP side of a long-poll is measured in package
// respond.
func BenchmarkWaiterMemory(b *testing.B) {
	kv, _ := bucket(b)
	const n = 10_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%036d", i) // the length of a UUID
	}
	ws := make([]*waiters.Waiter, n)
	var perWaiter float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		h := waiters.New(kv, nil) // a fresh hub, so that its map's growth is counted
		for i := range ws {
			ws[i] = h.Wait(keys[i])
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perWaiter = float64(after.HeapAlloc-before.HeapAlloc) / n
		h.Close()
		clear(ws)
	}
	b.ReportMetric(perWaiter, "B/waiter")
}
