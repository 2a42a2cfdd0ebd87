package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// The floor: the fewest JetStream writes one question-and-answer cycle can take, on a server
// of the same kind with file storage and the same consumer concurrency as the services.
const (
	floorStream   = "FLOOR"
	floorBucket   = "floor_runs"
	floorRequest  = "floor.req."
	floorAnswer   = "floor.ans."
	floorReqCons  = "floor-requests"
	floorAnsCons  = "floor-answers"
	floorKVStream = "KV_" + floorBucket
)

var floorStreams = []string{floorStream, floorKVStream}

type floorSystem struct {
	cfg     *config
	srv     *natsServer
	nc      *nats.Conn
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	tracker *tracker
	stops   []func()
}

func startFloor(ctx context.Context, cfg *config) (_ *floorSystem, err error) {
	f := &floorSystem{cfg: cfg, tracker: newTracker()}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	if f.srv, err = startNATS(cfg, "floor"); err != nil {
		return f, err
	}
	if f.nc, err = f.srv.connect("floor"); err != nil {
		return f, err
	}
	if f.js, err = jetstream.New(f.nc); err != nil {
		return f, err
	}
	if _, err := f.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: floorStream, Subjects: []string{"floor.>"},
		Storage: jetstream.FileStorage}); err != nil {
		return f, err
	}
	if f.kv, err = f.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: floorBucket, History: 1,
		Storage: jetstream.FileStorage}); err != nil {
		return f, err
	}
	for _, c := range []struct {
		name, filter string
		h            func(context.Context, jetstream.Msg)
	}{{floorReqCons, floorRequest + ">", f.onRequest}, {floorAnsCons, floorAnswer + ">", f.onAnswer}} {
		cons, err := f.js.CreateOrUpdateConsumer(ctx, floorStream, jetstream.ConsumerConfig{Durable: c.name,
			FilterSubject: c.filter, AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 10000})
		if err != nil {
			return f, err
		}
		stop, err := consumePool(cons, cfg.workers, c.h)
		if err != nil {
			return f, err
		}
		f.stops = append(f.stops, stop)
	}
	return f, nil
}

// cycle creates the checkpoint, publishes the request and waits until the answer updated
// the checkpoint.
func (f *floorSystem) cycle(ctx context.Context) error {
	id := nuid.Next()
	rev, err := f.kv.Create(ctx, id, []byte(`{"status":"waiting"}`))
	if err != nil {
		return fmt.Errorf("create checkpoint: %w", err)
	}
	if _, err := f.js.Publish(ctx, floorRequest+id, strconv.AppendUint(nil, rev, 10)); err != nil {
		return fmt.Errorf("publish request: %w", err)
	}
	return f.tracker.wait(ctx, id, f.cfg.cycleTimeout)
}

// onRequest plays the notifier and the person: ack the request, publish the answer.
func (f *floorSystem) onRequest(ctx context.Context, msg jetstream.Msg) {
	id := strings.TrimPrefix(msg.Subject(), floorRequest)
	if err := msg.Ack(); err != nil {
		f.tracker.finish(id, time.Now(), fmt.Errorf("ack request: %w", err))
		return
	}
	if _, err := f.js.Publish(ctx, floorAnswer+id, msg.Data()); err != nil {
		f.tracker.finish(id, time.Now(), fmt.Errorf("publish answer: %w", err))
		return
	}
	f.tracker.answered(id, time.Now())
}

// onAnswer plays the orchestrator: update the checkpoint at the revision it was created
// with, then ack.
func (f *floorSystem) onAnswer(ctx context.Context, msg jetstream.Msg) {
	id := strings.TrimPrefix(msg.Subject(), floorAnswer)
	rev, err := strconv.ParseUint(string(msg.Data()), 10, 64)
	if err == nil {
		_, err = f.kv.Update(ctx, id, []byte(`{"status":"completed"}`), rev)
	}
	if err != nil {
		f.tracker.finish(id, time.Now(), fmt.Errorf("update checkpoint: %w", err))
		_ = msg.Term()
		return
	}
	f.tracker.finish(id, time.Now(), nil)
	_ = msg.Ack()
}

func (f *floorSystem) counters(ctx context.Context) counters {
	return readCounters(ctx, f.srv, f.nc, floorStreams, [][2]string{{floorStream, floorReqCons}, {floorStream, floorAnsCons}})
}

func (f *floorSystem) close() error {
	for _, stop := range f.stops {
		stop()
	}
	if f.nc != nil {
		f.nc.Close()
	}
	if f.srv != nil {
		f.srv.shutdown()
	}
	return nil
}

// consumePool runs h on up to workers messages at once, as internal/consume does for the
// services, without its ack rules and heartbeats. The returned stop drains and waits.
func consumePool(cons jetstream.Consumer, workers int, h func(context.Context, jetstream.Msg)) (func(), error) {
	ctx, cancel := context.WithCancel(context.Background())
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			h(ctx, msg)
		}()
	}, jetstream.PullMaxMessages(2*workers), jetstream.ConsumeErrHandler(func(jetstream.ConsumeContext, error) {}))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("consume: %w", err)
	}
	return func() {
		cc.Drain()
		select {
		case <-cc.Closed():
		case <-time.After(5 * time.Second):
			cc.Stop()
		}
		wg.Wait()
		cancel()
	}, nil
}

func (f *floorSystem) parts() (*natsServer, *nats.Conn, *tracker) { return f.srv, f.nc, f.tracker }
func (f *floorSystem) streams() []string                          { return floorStreams }
