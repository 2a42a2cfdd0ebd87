// Package consume runs a handler over a durable pull consumer with bounded concurrency, and
// turns the handler's error into the ack: the one place where that rule lives.
package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Handler handles one message. Its error decides the ack:
//   - nil acks;
//   - an error wrapping ErrTerminal terminates the message (never redelivered), with the
//     error as the reason;
//   - a *RetryError naks with its delay;
//   - any other error naks with a backoff that grows with the delivery count.
//
// Handlers run concurrently and must be idempotent: a message can be delivered again after a
// crash or an expired ack wait.
type Handler func(ctx context.Context, msg jetstream.Msg) error

// ErrTerminal marks an error no retry can fix (a malformed message, an unknown id).
var ErrTerminal = errors.New("terminal")

// Terminal wraps err so the message is terminated rather than retried.
func Terminal(err error) error { return fmt.Errorf("%w: %w", ErrTerminal, err) }

// RetryError asks for redelivery after Delay.
type RetryError struct {
	Delay time.Duration
	Err   error
}

func (e *RetryError) Error() string { return fmt.Sprintf("retry in %s: %v", e.Delay, e.Err) }
func (e *RetryError) Unwrap() error { return e.Err }

// RetryAfter wraps err so the message is redelivered after d.
func RetryAfter(d time.Duration, err error) error { return &RetryError{Delay: d, Err: err} }

// Backoff is the delay before delivery attempt n+1: 250ms doubling up to 30s.
func Backoff(delivered uint64) time.Duration {
	d := 250 * time.Millisecond
	for i := uint64(1); i < delivered && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

// Options for Run.
type Options struct {
	Workers   int           // concurrent handlers; default 128
	Heartbeat time.Duration // how often a running handler extends its ack wait; default a third of the consumer's AckWait
	Logger    *slog.Logger
	Name      string // for logs
}

// Run consumes until ctx ends, then stops fetching, waits for running handlers and returns.
func Run(ctx context.Context, cons jetstream.Consumer, h Handler, o Options) error {
	if o.Workers <= 0 {
		o.Workers = 128
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 10 * time.Second
		if info := cons.CachedInfo(); info != nil && info.Config.AckWait > 0 {
			o.Heartbeat = info.Config.AckWait / 3
		}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sem := make(chan struct{}, o.Workers)
	var wg sync.WaitGroup
	// Handlers get their own context so that a shutdown lets them finish their writes; it is
	// cancelled only if they overrun the grace period.
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()

	// The message handed over by the client but still waiting for a worker is kept here and
	// its ack wait extended, so that a busy instance never lets it be redelivered to another
	// while it still holds it.
	var mu sync.Mutex
	waiting := map[jetstream.Msg]struct{}{}
	closing := false
	stopBeats := make(chan struct{})
	go func() {
		t := time.NewTicker(o.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-stopBeats:
				return
			case <-t.C:
				mu.Lock()
				for m := range waiting {
					_ = m.InProgress()
				}
				mu.Unlock()
			}
		}
	}()
	defer close(stopBeats)

	// The client's callback takes a worker before it returns, so the client hands over the
	// next message only when one is free: an instance holds at most Workers messages plus
	// the client's prefetch, never the consumer's whole MaxAckPending. Messages an instance
	// holds but cannot start are delayed for nothing, kept from idle instances, and, on a
	// stream with per-subject rollups (the timers bucket, whose expiry markers roll their
	// subject up), make every write the server does there walk them all.
	stopping := make(chan struct{})
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		mu.Lock()
		if closing {
			mu.Unlock()
			_ = msg.Nak() // another instance takes it now
			return
		}
		waiting[msg] = struct{}{}
		mu.Unlock()
		acquired := false
		select {
		case sem <- struct{}{}:
			acquired = true
		case <-stopping: // closing is set
		}
		mu.Lock()
		delete(waiting, msg)
		stop := closing
		if !stop {
			wg.Add(1)
		}
		mu.Unlock()
		if stop {
			if acquired {
				<-sem
			}
			_ = msg.Nak()
			return
		}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			handle(hctx, msg, h, o.Heartbeat, log, o.Name)
		}()
	}, jetstream.PullMaxMessages(prefetch(o.Workers)), jetstream.PullExpiry(PullExpiry), jetstream.PullHeartbeat(PullHeartbeat),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if ctx.Err() == nil && !errors.Is(err, jetstream.ErrNoHeartbeat) {
				log.Debug("consume", slog.String("consumer", o.Name), slog.Any("err", err))
			}
		}))
	if err != nil {
		return fmt.Errorf("consume %s: %w", o.Name, err)
	}
	<-ctx.Done()
	mu.Lock()
	closing = true
	mu.Unlock()
	close(stopping)
	cc.Drain()
	select {
	case <-cc.Closed():
	case <-time.After(5 * time.Second):
		cc.Stop()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(ShutdownGrace):
		log.Warn("handlers still running after the shutdown grace period; cancelling them", slog.String("consumer", o.Name))
		cancel()
		<-done
	}
	return nil
}

// PullExpiry and PullHeartbeat are those of the client's pull requests. The client refills
// its pulls as messages arrive, but skips the refill when one falls due while its previous
// pull is still being sent, and never retries it: when the messages it still expects arrive
// meanwhile (a busy or starved process), it is left with no pull at the server and waits for
// the missing-heartbeat check, two heartbeats, before it asks again. At the client's default
// (30 s expiry, 15 s heartbeat) that was a 30-second stop with messages waiting and none
// unacknowledged; a one-second heartbeat makes it two seconds.
var (
	PullExpiry    = 10 * time.Second
	PullHeartbeat = time.Second
)

// prefetch is how many messages the client asks for ahead of the workers: enough to keep
// them fed between two pulls, few enough that little waits in this instance unstarted.
func prefetch(workers int) int { return max(1, workers/4) }

// ShutdownGrace is how long running handlers may take to finish once shutdown begins.
var ShutdownGrace = 15 * time.Second

type deliveryKey struct{}

// Delivery returns how many times the message being handled has been delivered (1 the first
// time), from a handler's context.
func Delivery(ctx context.Context) uint64 {
	n, _ := ctx.Value(deliveryKey{}).(uint64)
	return max(n, 1)
}

func handle(ctx context.Context, msg jetstream.Msg, h Handler, heartbeat time.Duration, log *slog.Logger, name string) {
	// Extend the ack wait while the handler runs; a timer, not a goroutine, per message.
	var mu sync.Mutex
	var beat *time.Timer
	stopped := false
	beat = time.AfterFunc(heartbeat, func() {
		_ = msg.InProgress()
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			beat.Reset(heartbeat)
		}
	})
	defer func() {
		mu.Lock()
		stopped = true
		beat.Stop()
		mu.Unlock()
	}()
	if md, err := msg.Metadata(); err == nil {
		ctx = context.WithValue(ctx, deliveryKey{}, md.NumDelivered)
	}
	err := safeCall(ctx, msg, h)
	var retry *RetryError
	switch {
	case err == nil:
		err = msg.Ack()
	case errors.Is(err, ErrTerminal):
		log.Warn("dropping message", slog.String("consumer", name), slog.String("subject", msg.Subject()), slog.Any("err", err))
		err = msg.TermWithReason(truncate(err.Error(), 200))
	case errors.As(err, &retry):
		log.Debug("retrying message", slog.String("consumer", name), slog.String("subject", msg.Subject()), slog.Any("err", err))
		err = msg.NakWithDelay(retry.Delay)
	default:
		var n uint64 = 1
		if md, merr := msg.Metadata(); merr == nil {
			n = md.NumDelivered
		}
		log.Warn("handler failed, will retry", slog.String("consumer", name), slog.String("subject", msg.Subject()),
			slog.Uint64("delivery", n), slog.Any("err", err))
		err = msg.NakWithDelay(Backoff(n))
	}
	if err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		log.Debug("ack failed", slog.String("consumer", name), slog.Any("err", err))
	}
}

func safeCall(ctx context.Context, msg jetstream.Msg, h Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return h(ctx, msg)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
