package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// tap counts JetStream round trips at the NATS level: on a connection of its own it
// subscribes to the JetStream API, to the acks, and to the subjects the streams store, and
// sorts what the clients send. It adds a subscriber to every message, so it is on only in
// the counting window, never while cycles/s, CPU or latency are measured.
type tap struct {
	nc   *nats.Conn
	subs []*nats.Subscription

	publishes  atomic.Int64 // publishes to stored subjects, duplicates and refused ones included
	directGets atomic.Int64 // $JS.API.DIRECT.GET (KV gets of buckets with AllowDirect, direct gets)
	msgGets    atomic.Int64 // $JS.API.STREAM.MSG.GET (reads from the stream's leader)
	infos      atomic.Int64 // $JS.API.INFO, STREAM.INFO, CONSUMER.INFO
	purges     atomic.Int64 // $JS.API.STREAM.PURGE and STREAM.MSG.DELETE
	pulls      atomic.Int64 // $JS.API.CONSUMER.MSG.NEXT: pull requests of the consumers
	otherAPI   atomic.Int64 // any other API call (consumer create, ...)
	acks       atomic.Int64 // acks, naks, in-progress and terms of deliveries

	mu     sync.Mutex
	byKind map[string]int64 // reads and API writes by kind and stream: "direct get KV_hitl_runs"
}

// startTap subscribes to the API, the acks and each of stored (subject patterns of the
// streams), and returns once the server has the subscriptions.
func startTap(srv *natsServer, stored []string) (*tap, error) {
	nc, err := srv.connect("bench-tap")
	if err != nil {
		return nil, err
	}
	t := &tap{nc: nc, byKind: map[string]int64{}}
	add := func(subj string, h nats.MsgHandler) error {
		sub, err := nc.Subscribe(subj, h)
		if err != nil {
			return fmt.Errorf("tap %s: %w", subj, err)
		}
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			return err
		}
		t.subs = append(t.subs, sub)
		return nil
	}
	if err := add("$JS.API.>", t.api); err != nil {
		t.close()
		return nil, err
	}
	if err := add("$JS.ACK.>", func(*nats.Msg) { t.acks.Add(1) }); err != nil {
		t.close()
		return nil, err
	}
	for _, subj := range stored {
		if err := add(subj, func(*nats.Msg) { t.publishes.Add(1) }); err != nil {
			t.close()
			return nil, err
		}
	}
	if err := nc.Flush(); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

func (t *tap) api(m *nats.Msg) {
	s := strings.TrimPrefix(m.Subject, "$JS.API.")
	kind := func(k, rest string) {
		stream, _, _ := strings.Cut(rest, ".")
		t.mu.Lock()
		t.byKind[k+" "+stream]++
		t.mu.Unlock()
	}
	switch {
	case strings.HasPrefix(s, "DIRECT.GET."):
		t.directGets.Add(1)
		kind("direct get", strings.TrimPrefix(s, "DIRECT.GET."))
	case strings.HasPrefix(s, "STREAM.MSG.GET."):
		t.msgGets.Add(1)
		kind("msg get", strings.TrimPrefix(s, "STREAM.MSG.GET."))
	case s == "INFO", strings.HasPrefix(s, "STREAM.INFO."), strings.HasPrefix(s, "CONSUMER.INFO."):
		t.infos.Add(1)
		kind("info", strings.TrimPrefix(strings.TrimPrefix(s, "STREAM.INFO."), "CONSUMER.INFO."))
	case strings.HasPrefix(s, "STREAM.PURGE."), strings.HasPrefix(s, "STREAM.MSG.DELETE."):
		t.purges.Add(1)
		kind("purge or delete", strings.TrimPrefix(strings.TrimPrefix(s, "STREAM.PURGE."), "STREAM.MSG.DELETE."))
	case strings.HasPrefix(s, "CONSUMER.MSG.NEXT."):
		t.pulls.Add(1)
	default:
		t.otherAPI.Add(1)
	}
}

// tapCounts is a snapshot of a tap.
type tapCounts struct {
	publishes, directGets, msgGets, infos, purges, pulls, otherAPI, acks int64
	byKind                                                               map[string]int64
}

// snapshot waits until the tap has read everything the server sent it so far (a round trip
// on its connection, behind the messages already queued to it), then reads the counts.
func (t *tap) snapshot() tapCounts {
	_ = t.nc.FlushTimeout(5 * time.Second)
	for _, s := range t.subs { // the handlers run behind the flush; wait until they caught up
		for n, _, err := s.Pending(); err == nil && n > 0; n, _, err = s.Pending() {
			time.Sleep(time.Millisecond)
		}
	}
	t.mu.Lock()
	byKind := maps.Clone(t.byKind)
	t.mu.Unlock()
	return tapCounts{t.publishes.Load(), t.directGets.Load(), t.msgGets.Load(), t.infos.Load(), t.purges.Load(),
		t.pulls.Load(), t.otherAPI.Load(), t.acks.Load(), byKind}
}

func (t *tap) close() {
	if t.nc != nil {
		t.nc.Close()
	}
}

// counted is what a counting window found, per cycle.
type counted struct {
	// Writes: messages the streams stored (every KV create, put, update, delete and purge
	// marker is one, and so is every event), plus purges and message deletes by API.
	Writes float64 `json:"writes"`
	// Reads: direct gets (every KV get here), stream message gets (reads from a stream's
	// leader) and stream, consumer and account info calls.
	Reads float64 `json:"reads"`
	// The parts, and what is counted apart from reads and writes.
	Stored       float64            `json:"stored"`
	Purges       float64            `json:"purges"`
	DirectGets   float64            `json:"direct_gets"`
	MsgGets      float64            `json:"msg_gets"`
	Infos        float64            `json:"infos"`
	Publishes    float64            `json:"publishes"`  // publish round trips, duplicates and refused ones included
	NotStored    float64            `json:"not_stored"` // publishes dropped as duplicates or refused (the gate's losers)
	Pulls        float64            `json:"pulls"`      // consumers' pull requests, shared by the messages they fetch
	Acks         float64            `json:"acks"`       // acks, naks and in-progress of deliveries
	OtherAPI     float64            `json:"other_api"`  // other API calls
	StoredByName map[string]float64 `json:"-"`          // stored messages per stream
	ByKind       map[string]float64 `json:"-"`          // reads and API writes per kind and stream
}

// countWindow runs cycles with the tap on and returns the counts per cycle, over every
// stream on the server.
func countWindow(ctx context.Context, srv *natsServer, nc *nats.Conn, runs, cycles int,
	one func(context.Context) error) (counted, error) {
	names, stored, err := allStreams(ctx, nc)
	if err != nil {
		return counted{}, err
	}
	t, err := startTap(srv, stored)
	if err != nil {
		return counted{}, err
	}
	defer t.close()
	// The window holds the work of its cycles only: what earlier cycles left to do (a
	// notifier's resolved delivery after the run finished, the backstop's check after its
	// grace) is done before it starts, and what its own cycles leave is waited for.
	t.settle(ctx)
	before := readCounters(ctx, srv, nc, names, nil) // its info calls come before the tap's snapshot
	c0 := t.snapshot()
	if _, err := closedLoop(ctx, runs, cycles, one); err != nil {
		return counted{}, err
	}
	t.settle(ctx)
	c1 := t.snapshot()
	after := readCounters(ctx, srv, nc, names, nil)
	n := float64(cycles)
	out := counted{StoredByName: map[string]float64{}, ByKind: map[string]float64{}}
	for _, name := range names {
		w := float64(after.streamSeq[name]-before.streamSeq[name]) / n
		out.StoredByName[name] = w
		out.Stored += w
	}
	per := func(a, b int64) float64 { return float64(b-a) / n }
	for k, v := range c1.byKind {
		out.ByKind[k] = per(c0.byKind[k], v)
	}
	out.Purges = per(c0.purges, c1.purges)
	out.DirectGets, out.MsgGets, out.Infos = per(c0.directGets, c1.directGets), per(c0.msgGets, c1.msgGets), per(c0.infos, c1.infos)
	out.Publishes, out.Pulls, out.Acks, out.OtherAPI = per(c0.publishes, c1.publishes), per(c0.pulls, c1.pulls),
		per(c0.acks, c1.acks), per(c0.otherAPI, c1.otherAPI)
	out.Writes = round(out.Stored + out.Purges)
	out.Reads = round(out.DirectGets + out.MsgGets + out.Infos)
	// Purge markers the server writes itself are not published; ignore that rounding here.
	out.NotStored = round(max(0, out.Publishes-out.Stored))
	return out, nil
}

// allStreams lists the streams on the server and the subjects they store.
func allStreams(ctx context.Context, nc *nats.Conn) (names, subjects []string, err error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, nil, err
	}
	l := js.ListStreams(ctx)
	for info := range l.Info() {
		names = append(names, info.Config.Name)
		subjects = append(subjects, info.Config.Subjects...)
	}
	if err := l.Err(); err != nil {
		return nil, nil, fmt.Errorf("list streams: %w", err)
	}
	slices.Sort(names)
	return names, subjects, nil
}

// settle waits until the tap has seen no publish, read, purge or ack for a second (at most
// 20 s): the system is idle.
func (t *tap) settle(ctx context.Context) {
	busy := func(c tapCounts) int64 { return c.publishes + c.directGets + c.msgGets + c.purges + c.acks }
	last, since, deadline := busy(t.snapshot()), time.Now(), time.Now().Add(20*time.Second)
	for time.Since(since) < time.Second && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		if n := busy(t.snapshot()); n != last {
			last, since = n, time.Now()
		}
	}
}
