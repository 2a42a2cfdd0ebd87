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
