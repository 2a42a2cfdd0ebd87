package consume_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/internal/consume"
	"github.com/hitl-dev/hitl/internal/natstest"
)

// A busy instance takes no more messages than it has free workers:
// the rest stay with the consumer for another instance, instead of waiting, unstarted, in
// the busy one's hands up to the consumer's MaxAckPending.
func TestBusyInstanceLeavesMessagesToOthers(t *testing.T) {
	const n = 50
	env := natstest.Single(t)
	_, js := env.Connect(t)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "WORK", Subjects: []string{"work.>"}}); err != nil {
		t.Fatal(err)
	}
	cons, err := js.CreateConsumer(ctx, "WORK", jetstream.ConsumerConfig{Durable: "workers",
		AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 10000})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := js.Publish(ctx, fmt.Sprintf("work.%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}

	// Instance A: two workers, both stuck until the end of the test.
	release := make(chan struct{})
	var stuck atomic.Int64
	aRunning := make(chan struct{})
	actx, stopA := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = consume.Run(actx, cons, func(context.Context, jetstream.Msg) error {
			if stuck.Add(1) == 2 {
				close(aRunning)
			}
			<-release
			return nil
		}, consume.Options{Workers: 2, Name: "a"})
	}()
	defer func() { close(release); stopA(); wg.Wait() }()
	select {
	case <-aRunning:
	case <-time.After(30 * time.Second):
		t.Fatal("instance A never started its two handlers")
	}

	// Instance B: handles what A left, which is everything but what A holds.
	var handled atomic.Int64
	enough := make(chan struct{})
	// A holds its 2 running and nothing else.
	const want = n - 2
	bctx, stopB := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = consume.Run(bctx, cons, func(context.Context, jetstream.Msg) error {
			if handled.Add(1) == want {
				close(enough)
			}
			return nil
		}, consume.Options{Workers: 8, Name: "b"})
	}()
	defer stopB()
	select {
	case <-enough:
	case <-time.After(30 * time.Second):
		t.Fatalf("instance B handled %d messages while A was busy, want %d: A holds the rest", handled.Load(), want)
	}
	if got := stuck.Load(); got != 2 {
		t.Fatalf("instance A started %d handlers with 2 workers", got)
	}
}

// An instance that stops while messages keep coming leaves none of them waiting for the ack
// wait: what reaches it after the stop is naked back at once, and the next instance gets it.
func TestStopLeavesNothingAckPending(t *testing.T) {
	env := natstest.Single(t)
	_, js := env.Connect(t)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "WORK", Subjects: []string{"work.>"}}); err != nil {
		t.Fatal(err)
	}
	cons, err := js.CreateConsumer(ctx, "WORK", jetstream.ConsumerConfig{Durable: "workers",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, MaxAckPending: 10000})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		pctx, stopPublishing := context.WithCancel(ctx)
		var publishing sync.WaitGroup
		publishing.Add(1)
		go func() { // keeps messages coming while the instance stops
			defer publishing.Done()
			for i := 0; pctx.Err() == nil; i++ {
				_, _ = js.Publish(pctx, fmt.Sprintf("work.%d.%d", round, i), nil)
			}
		}()
		var handled atomic.Int64
		enough := make(chan struct{})
		rctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = consume.Run(rctx, cons, func(context.Context, jetstream.Msg) error {
				if handled.Add(1) == 200 {
					close(enough)
				}
				return nil
			}, consume.Options{Workers: 64, Name: "stopping"})
		}()
		select {
		case <-enough:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: handled %d messages", round, handled.Load())
		}
		stop()
		<-done
		stopPublishing()
		publishing.Wait()
		// Another instance takes over: everything the stopped one did not handle reaches it
		// well within the minute of the ack wait (a naked message counts as ack pending until
		// it is delivered again).
		nctx, stopNext := context.WithCancel(ctx)
		next := make(chan struct{})
		go func() {
			defer close(next)
			_ = consume.Run(nctx, cons, func(context.Context, jetstream.Msg) error { return nil },
				consume.Options{Workers: 64, Name: "next"})
		}()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			info, err := cons.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.NumAckPending == 0 && info.NumPending == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d messages wait for the ack wait after an instance stopped: %+v", round, info.NumAckPending, info)
			}
		}
		stopNext()
		<-next
	}
}
