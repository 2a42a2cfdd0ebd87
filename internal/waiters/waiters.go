// Package waiters fans one KV watch per bucket out to every long-poll waiting on a key of
// it. A JetStream consumer per wait would let a few thousand concurrent waits exhaust the
// server's consumers and break every other caller; here a wait costs a slice entry and a
// one-slot channel, and the process holds one ordered consumer per bucket, whatever the
// number of waits.
//
// The contract for a caller: register first (Hub.Wait), then read the key's current value,
// then wait on the waiter's channel. An update that lands between the read and the wait is
// delivered; one that lands while the watch is not armed (before it first starts, or while
// it restarts after a lost connection) is covered by a nil entry, which means "read the
// current value again".
package waiters

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Watcher is the part of a KV bucket the hub needs: jetstream.KeyValue has it.
type Watcher interface {
	WatchAll(ctx context.Context, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error)
}

// Hub delivers the updates of one bucket to the waiters registered on their keys. It starts
// its watch with the first Wait and keeps it until Close, so an idle process holds no
// consumer and a busy one holds exactly one. Safe for concurrent use.
type Hub struct {
	kv     Watcher
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the watch loop has ended

	mu      sync.Mutex
	keys    map[string][]*Waiter // only keys with a current waiter: memory follows the waits
	n       int
	started bool
	closed  bool
}

// New returns a hub over kv; nothing runs until the first Wait. A nil log discards.
func New(kv Watcher, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{kv: kv, log: log, ctx: ctx, cancel: cancel, done: make(chan struct{}), keys: map[string][]*Waiter{}}
}

// Waiter receives the updates of one key until Stop.
type Waiter struct {
	hub *Hub
	key string
	c   chan jetstream.KeyValueEntry
}

// C delivers the key's newest put (older ones not yet taken are dropped: the newest
// supersedes them), or nil when the watch was (re)armed and the caller must read the
// current value again. It is closed when the hub stops for good (Close, or the NATS
// connection closed): the caller answers with the value as it stands.
func (w *Waiter) C() <-chan jetstream.KeyValueEntry { return w.c }

// Stop unregisters the waiter. Call it when the wait ends; calling it again does nothing.
func (w *Waiter) Stop() {
	h := w.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	ws := h.keys[w.key]
	i := slices.Index(ws, w)
	if i < 0 {
		return
	}
	if len(ws) == 1 {
		delete(h.keys, w.key)
	} else {
		ws[i] = ws[len(ws)-1]
		ws[len(ws)-1] = nil
		h.keys[w.key] = ws[:len(ws)-1]
	}
	h.n--
}

// Wait registers a waiter on key, starting the watch if it is the first. It never blocks
// on NATS: if the watch is not armed yet, the waiter gets a nil entry once it is.
func (h *Hub) Wait(key string) *Waiter {
	w := &Waiter{hub: h, key: key, c: make(chan jetstream.KeyValueEntry, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(w.c)
		return w
	}
	h.keys[key] = append(h.keys[key], w)
	h.n++
	if !h.started {
		h.started = true
		go h.run()
	}
	return w
}

// Len is the number of registered waiters.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// Close stops the watch and closes every waiter's channel, so that the waits answer at
// once (a server shutting down does not hold its long-polls for their full timeout).
func (h *Hub) Close() {
	h.mu.Lock()
	started := h.started
	h.shut()
	h.mu.Unlock()
	h.cancel()
	if started {
		<-h.done
	}
}

// shut closes every waiter; h.mu is held.
func (h *Hub) shut() {
	if h.closed {
		return
	}
	h.closed = true
	for k, ws := range h.keys {
		for _, w := range ws {
			close(w.c)
		}
		delete(h.keys, k)
	}
	h.n = 0
}

// Backoff between attempts to (re)start the watch.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// run keeps one watch of the bucket's new updates alive until Close. nats.go's ordered
// consumer already survives reconnects by resuming from the last sequence it delivered;
// this loop covers the watch ending anyway (its consumer could not be recreated).
func (h *Hub) run() {
	defer close(h.done)
	backoff := minBackoff
	for h.ctx.Err() == nil {
		w, err := h.kv.WatchAll(h.ctx, jetstream.UpdatesOnly())
		if err != nil {
			if errors.Is(err, nats.ErrConnectionClosed) {
				h.log.Info("waiters: NATS connection closed; waits answer as they stand")
				h.mu.Lock()
				h.shut()
				h.mu.Unlock()
				return
			}
			if h.ctx.Err() != nil {
				return
			}
			h.log.Warn("waiters: cannot watch the bucket; retrying", slog.Duration("in", backoff), slog.Any("err", err))
			select {
			case <-h.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		// Armed: whatever changed before now is read by the waiters themselves.
		h.broadcast(nil)
		for e := range w.Updates() {
			if e != nil && e.Operation() == jetstream.KeyValuePut {
				h.deliver(e)
			}
		}
		_ = w.Stop()
		if h.ctx.Err() == nil {
			h.log.Warn("waiters: the bucket's watch ended; restarting it")
		}
	}
}

// offer puts e in w's one-slot channel, replacing what is not taken yet. Only the hub sends
// and always under h.mu, so after the drain the send cannot block.
func offer(w *Waiter, e jetstream.KeyValueEntry) {
	select {
	case w.c <- e:
	default:
		select {
		case <-w.c:
		default:
		}
		w.c <- e
	}
}

func (h *Hub) deliver(e jetstream.KeyValueEntry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, w := range h.keys[e.Key()] {
		offer(w, e)
	}
}

func (h *Hub) broadcast(e jetstream.KeyValueEntry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ws := range h.keys {
		for _, w := range ws {
			offer(w, e)
		}
	}
}
