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

	"github.com/nats-io/nats.go"
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
//
// It fetches only for workers that are free: it takes the free ones (at least one, waiting
// for it), asks the consumer for that many messages, starts each as it arrives, and asks
// again once the request is filled or has expired. An instance so never holds a message it
// cannot start: none waits unstarted in a busy instance while another is idle, and on a
// stream with per-subject rollups (the timers bucket, whose expiry markers roll their
// subject up) the server's walk over the consumer's unacknowledged messages at every write
// stays as short as the workers are few. Each request is a fetch of its own, so the client
// never has to refill a standing one (see PullExpiry).
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
	release := func(n int) {
		for range n {
			<-sem
		}
	}
	var wg sync.WaitGroup
	// Handlers get their own context so that a shutdown lets them finish their writes; it is
	// cancelled only if they overrun the grace period.
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()

	var failures int
fetching:
	for {
		// At least one free worker, then all that are free.
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break fetching
		}
		n := 1
	free:
		for n < o.Workers {
			select {
			case sem <- struct{}{}:
				n++
			default:
				break free
			}
		}
		// The fetch is not cut short at shutdown: the client would drop what is on its way
		// without a word, and the server would hold it for the ack wait. It ends by itself
		// within PullExpiry, and what comes meanwhile is naked below.
		batch, err := cons.Fetch(n, jetstream.FetchMaxWait(PullExpiry))
		if err != nil {
			release(n)
			if ctx.Err() != nil {
				break
			}
			failures++
			log.Debug("fetch", slog.String("consumer", o.Name), slog.Any("err", err))
			select { // JetStream unreachable, or the consumer gone: try again, a little later each time
			case <-time.After(min(time.Duration(failures)*100*time.Millisecond, 5*time.Second)):
			case <-ctx.Done():
			}
			continue
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			if ctx.Err() != nil {
				_ = msg.Nak() // another instance takes it now
				<-sem
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				handle(hctx, msg, h, o.Heartbeat, log, o.Name)
			}()
		}
		release(n - got)
		if err := batch.Error(); err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) &&
			!errors.Is(err, nats.ErrTimeout) {
			failures++
			log.Debug("fetch", slog.String("consumer", o.Name), slog.Any("err", err))
			if got == 0 {
				select {
				case <-time.After(min(time.Duration(failures)*100*time.Millisecond, 5*time.Second)):
				case <-ctx.Done():
				}
			}
			continue
		}
		failures = 0
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

// PullExpiry is how long one fetch waits for messages at most. The client's own Consume
// refills a standing pull as messages arrive, but skips a refill that falls due while its
// previous pull is still being sent and never retries it: when the messages it still expects
// arrive meanwhile (a busy or starved process), it is left with no pull at the server until
// its missing-heartbeat check, 30 s at its defaults: a 30-second stop with messages waiting
// and none unacknowledged. Fetches have no refill to miss. A fetch is short, so that a
// shutdown waits for the one in flight (it is never cancelled, see Run) at most this long,
// and a pull the server never got is asked again within it; an idle consumer costs one pull
// request per PullExpiry.
var PullExpiry = time.Second

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
