package main

// Timer lateness: how late requests whose deadlines fall close together are resolved
// timed_out.
//
//	func measureTimers(ctx context.Context, js jetstream.JetStream, o timerOptions) (timerResult, error)
//
// measureTimers creates o.Count standalone requests through the store (as POST /v1/requests
// does, without the HTTP hop), paced so that their deadlines are spread evenly over o.Window
// (creation, at up to o.CreateRate per second, ends a second before the first deadline),
// and waits until every one of them has been resolved or o.Wait has passed since the last
// deadline. It needs only a JetStream with hitl's streams in
// place (streams.Ensure) and at least one orchestrator consuming them, in this process or
// another: it can run against a server already filled with pending requests. A request's
// lateness is the server's timestamp of its hitl.resolved event (the moment the resolution
// was recorded) minus the deadline stored on the request; early counts those resolved before
// their deadline, which must be none. The expiry markers are read back afterwards (an
// expired timer is not deleted) to split lateness into the server's part (deadline →
// marker) and the orchestrators' part (marker → resolved). The timer consumer is sampled
// while the deadlines fall, so a consumer that has undelivered markers and delivers none is
// seen (stall_ms). CPU per expiry is this process's: all of it only when the server and the
// orchestrator run in it, as with -timers. The result is one JSON object (timerResult).
// o.Progress, when set, gets progress lines.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/engine"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
)

// timerOptions of measureTimers. Every zero field takes its default.
type timerOptions struct {
	Count  int           // requests; default 10000
	Window time.Duration // their deadlines spread over this; default 1s
	// CreateRate caps the creation rate (per second) the plan asks for: requests are created
	// over as many stretches of Window as needed, before the first deadline. Default 2500.
	CreateRate float64
	Creators   int           // concurrent creators; default 64
	Wait       time.Duration // give up this long after the last deadline; default 2m
	Progress   func(format string, args ...any)
}

func (o timerOptions) withDefaults() timerOptions {
	if o.Count <= 0 {
		o.Count = 10000
	}
	if o.Window <= 0 {
		o.Window = time.Second
	}
	if o.CreateRate <= 0 {
		o.CreateRate = 2500
	}
	if o.Creators <= 0 {
		o.Creators = 64
	}
	if o.Wait <= 0 {
		o.Wait = 2 * time.Minute
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	return o
}

func (o timerOptions) validate() error {
	if o.Window > time.Hour {
		return fmt.Errorf("timers: window %s is over an hour", o.Window)
	}
	return nil
}

// timerResult is measureTimers' JSON line.
type timerResult struct {
	Mode  string `json:"mode"` // "timers"
	Count int    `json:"count"`
	// Fired is how many ended timed_out; Other how many ended otherwise (none expected);
	// Early how many were resolved before their deadline (must be 0).
	Fired int `json:"fired"`
	Other int `json:"other"`
	Early int `json:"early"`
	// WindowMs is the planned spread of the deadlines; DeadlineSpanMs the one reached (creation
	// slower than Count per Window spreads them wider).
	WindowMs       float64 `json:"window_ms"`
	DeadlineSpanMs float64 `json:"deadline_span_ms"`
	CreatePerSec   float64 `json:"create_per_sec"`
	// Lateness, resolved minus deadline.
	LateP50 float64 `json:"lateness_p50_ms"`
	LateP99 float64 `json:"lateness_p99_ms"`
	LateMax float64 `json:"lateness_max_ms"`
	// The server's part: deadline → expiry marker written.
	MarkerP50 float64 `json:"marker_p50_ms"`
	MarkerP99 float64 `json:"marker_p99_ms"`
	// The orchestrators' part: marker → resolved.
	HandleP50 float64 `json:"handle_p50_ms"`
	HandleP99 float64 `json:"handle_p99_ms"`
	// ExpiredPerSec is fired divided by the time from the first deadline to the last resolution.
	ExpiredPerSec float64 `json:"expired_per_sec"`
	// StallMs is the longest time the timer consumer had markers waiting and delivered none.
	StallMs float64 `json:"stall_ms"`
	Missing int     `json:"missing"` // not resolved within Wait after the last deadline
	// CPU of this process from the first deadline to the last resolution, per request, and
	// the cores other processes used meanwhile (> 0.05: the figures are from a shared machine).
	CPUPerExpiry float64 `json:"cpu_us_per_expiry"`
	OtherCores   float64 `json:"other_cores"`
}

// measureTimers: see the top of this file.
func measureTimers(ctx context.Context, js jetstream.JetStream, o timerOptions) (timerResult, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return timerResult{}, err
	}
	res := timerResult{Mode: "timers", Count: o.Count, WindowMs: ms(o.Window)}
	st, err := store.Open(ctx, js)
	if err != nil {
		return res, err
	}
	hitlStream, err := js.Stream(ctx, streams.Stream)
	if err != nil {
		return res, err
	}
	timerStream, err := js.Stream(ctx, streams.TimerStream)
	if err != nil {
		return res, err
	}

	// Resolutions, as the server timestamps them, from now on.
	var mu sync.Mutex
	deadlines := make(map[string]time.Time, o.Count)
	resolved := make(map[string]time.Time, o.Count)
	bodies := make(map[string][]byte, o.Count)
	var seen atomic.Int64
	allSeen := make(chan struct{})
	watch, err := hitlStream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{streams.SubjectResolved + ">"}, DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return res, err
	}
	wctx, err := watch.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			return
		}
		id := strings.TrimPrefix(m.Subject(), streams.SubjectResolved)
		mu.Lock()
		defer mu.Unlock()
		if _, ours := deadlines[id]; !ours || !resolved[id].IsZero() {
			return
		}
		// Decoded once the deadlines have passed, so as not to take CPU from what is measured.
		resolved[id], bodies[id] = md.Timestamp, m.Data()
		if seen.Add(1) == int64(o.Count) {
			close(allSeen)
		}
	})
	if err != nil {
		return res, err
	}
	defer wctx.Stop()

	// Create, paced. Timeouts are whole seconds, so deadlines d_i = D0 + i×Window/Count are
	// reached by creating in groups: group k (of K) is created during its own stretch of
	// Window, each request at d_i - T_k, with timeout T_k = Lead - k×ceil(Window). K is the
	// smallest that keeps creation at or under CreateRate, so deadlines land where planned
	// unless the creators fall behind (DeadlineSpanMs says so).
	wsec := (o.Window + time.Second - 1) / time.Second * time.Second
	groups := max(1, int(math.Ceil(float64(o.Count)/(o.CreateRate*o.Window.Seconds()))))
	lead := time.Duration(groups)*wsec + time.Second
	start := time.Now().Add(200 * time.Millisecond).Truncate(time.Millisecond)
	d0 := start.Add(lead)
	type plan struct {
		at      time.Time // when to create it
		timeout time.Duration
	}
	plans := make([]plan, 0, o.Count)
	for k := range groups {
		t := lead - time.Duration(k)*wsec
		for i := k; i < o.Count; i += groups {
			d := d0.Add(time.Duration(i) * o.Window / time.Duration(o.Count))
			plans = append(plans, plan{at: d.Add(-t), timeout: t})
		}
	}
	o.Progress("timers: creating %d requests in %d groups, deadlines over %s from %s", o.Count, groups, o.Window,
		d0.Format("15:04:05.000"))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, o.Creators)
	cctx, cancelCreate := context.WithCancel(ctx)
	defer cancelCreate()
	for range o.Creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(plans)) {
					return
				}
				p := plans[i]
				if d := time.Until(p.at); d > 0 {
					select {
					case <-time.After(d):
					case <-cctx.Done():
						return
					}
				}
				r := &events.Request{ID: uuid.NewString(), Title: "timer bench", Input: input.Spec{Type: input.Boolean},
					Timeout: events.Duration(p.timeout)}
				// Registered before the create, so that a resolution can never come first.
				mu.Lock()
				deadlines[r.ID] = time.Time{}
				mu.Unlock()
				if err := st.CreateRequest(cctx, r); err != nil {
					errs <- fmt.Errorf("create request: %w", err)
					cancelCreate()
					return
				}
				mu.Lock()
				deadlines[r.ID] = *r.Deadline
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	created := time.Now()
	select {
	case err := <-errs:
		return res, err
	default:
	}
	var first, last time.Time
	for _, d := range deadlines {
		if first.IsZero() || d.Before(first) {
			first = d
		}
		if d.After(last) {
			last = d
		}
	}
	res.DeadlineSpanMs = ms(last.Sub(first))
	res.CreatePerSec = round(float64(o.Count) / created.Sub(plans[0].at).Seconds())
	o.Progress("timers: created at %.0f/s; deadlines from %s to %s", res.CreatePerSec,
		first.Format("15:04:05.000"), last.Format("15:04:05.000"))
	if time.Now().After(first) {
		o.Progress("timers: creation ended after the first deadline: expiry overlapped creation")
	}

	// Sample the timer consumer while the deadlines fall: the longest time it held
	// undelivered messages and delivered none.
	stall := make(chan time.Duration, 1)
	sctx, stopSampling := context.WithCancel(ctx)
	go func() { stall <- sampleStalls(sctx, js, o.Progress) }()

	// CPU from the first deadline on: this process's (all of it when the server and the
	// orchestrator run in it, as with -timers) and the machine's.
	time.Sleep(time.Until(first))
	c0, m0, t0 := cpuTime(), machineBusy(), time.Now()
	giveUp := time.NewTimer(time.Until(last.Add(o.Wait)))
	defer giveUp.Stop()
	select {
	case <-allSeen:
	case <-giveUp.C:
	case <-ctx.Done():
		stopSampling()
		return res, ctx.Err()
	}
	stopSampling()
	if cpu, wall := cpuTime()-c0, time.Since(t0); wall > 0 {
		res.CPUPerExpiry = math.Round(float64(cpu.Microseconds()) / float64(o.Count))
		if m := machineBusy() - m0; m > cpu && m0 > 0 {
			res.OtherCores = round((m - cpu).Seconds() / wall.Seconds())
		}
	}
	res.StallMs = ms(<-stall)
	wctx.Stop()

	mu.Lock()
	defer mu.Unlock()
	var late, markerLag, handleLag []time.Duration
	var lastResolved time.Time
	var lk sync.Mutex
	ids := make(chan string)
	var rg sync.WaitGroup
	for range 16 {
		rg.Add(1)
		go func() {
			defer rg.Done()
			for id := range ids {
				// The expiry marker the server wrote (kept: an expired timer is not deleted).
				m, err := timerStream.GetLastMsgForSubject(ctx, "$KV."+streams.BucketTimers+"."+id)
				if err != nil || m.Header.Get(jetstream.MarkerReasonHeader) != "MaxAge" {
					continue
				}
				lk.Lock()
				markerLag = append(markerLag, m.Time.Sub(deadlines[id]))
				handleLag = append(handleLag, resolved[id].Sub(m.Time))
				lk.Unlock()
			}
		}()
	}
	for id, d := range deadlines {
		at := resolved[id]
		if at.IsZero() {
			res.Missing++
			continue
		}
		if _, r, err := events.DecodeAs[events.Request](bodies[id], events.TypeResolved); err != nil || r.Status != events.StatusTimedOut {
			res.Other++
			continue
		}
		res.Fired++
		l := at.Sub(d)
		if l < 0 {
			res.Early++
		}
		late = append(late, l)
		if at.After(lastResolved) {
			lastResolved = at
		}
		ids <- id
	}
	close(ids)
	rg.Wait()
	res.LateP50, res.LateP99, res.LateMax = quantileMs(late, 0.5), quantileMs(late, 0.99), quantileMs(late, 1)
	res.MarkerP50, res.MarkerP99 = quantileMs(markerLag, 0.5), quantileMs(markerLag, 0.99)
	res.HandleP50, res.HandleP99 = quantileMs(handleLag, 0.5), quantileMs(handleLag, 0.99)
	if span := lastResolved.Sub(first); res.Fired > 0 && span > 0 {
		res.ExpiredPerSec = round(float64(res.Fired) / span.Seconds())
	}
	if res.Missing > 0 {
		return res, fmt.Errorf("timers: %d of %d requests not resolved %s after the last deadline", res.Missing, o.Count, o.Wait)
	}
	return res, nil
}

var maxWaiting atomic.Int64

// sampleStalls polls the timer consumer until ctx ends and returns the longest stretch in
// which it had messages pending, none unacknowledged, and delivered nothing; a stretch over
// a second is reported with the fewest pull requests the server held meanwhile.
func sampleStalls(ctx context.Context, js jetstream.JetStream, progress func(string, ...any)) time.Duration {
	defer func() { progress("timers: at most %d pull requests waiting", maxWaiting.Load()) }()
	cons, err := js.Consumer(ctx, streams.TimerStream, streams.ConsumerTimers)
	if err != nil {
		return 0
	}
	var longest time.Duration
	var since time.Time
	var lastDelivered uint64
	var waiting int
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return longest
		case <-t.C:
		}
		info, err := cons.Info(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return longest
			}
			continue
		}
		now := time.Now()
		maxWaiting.Store(max(maxWaiting.Load(), int64(info.NumWaiting)))
		idle := info.NumPending > 0 && info.NumAckPending == 0 && info.Delivered.Stream == lastDelivered
		lastDelivered = info.Delivered.Stream
		switch {
		case !idle:
			if !since.IsZero() && now.Sub(since) > time.Second {
				progress("timers: the timer consumer delivered nothing for %s with %d pending (%d pull requests waiting)",
					now.Sub(since).Round(time.Millisecond), info.NumPending, waiting)
			}
			since = time.Time{}
		case since.IsZero():
			since, waiting = now, info.NumWaiting
		default:
			longest = max(longest, now.Sub(since))
			waiting = min(waiting, info.NumWaiting)
		}
	}
}

// quantileMs is the nearest-rank q-quantile of ds in milliseconds, 0 when empty.
func quantileMs(ds []time.Duration, q float64) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return quantile(s, q)
}

// runTimers is the -timers mode: an embedded JetStream, one orchestrator as hitl dev wires
// it, pending requests that stay pending (-timers-pending), and measureTimers against them.
func runTimers(ctx context.Context, cfg *config, o timerOptions, pending int, log *slog.Logger) (timerResult, error) {
	var srv *natsServer
	var err error
	labelled("nats-server", func() { srv, err = startNATS(cfg, "timers") })
	if err != nil {
		return timerResult{}, err
	}
	defer srv.shutdown()
	nc, err := srv.connect("hitl")
	if err != nil {
		return timerResult{}, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return timerResult{}, err
	}
	ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = streams.Ensure(ectx, js, streams.Config{Storage: jetstream.FileStorage})
	cancel()
	if err != nil {
		return timerResult{}, err
	}
	st, err := store.Open(ctx, js)
	if err != nil {
		return timerResult{}, err
	}
	orch, err := engine.New(engine.Config{Store: st, Registry: hitl.NewRegistry(), Logger: log, Workers: cfg.workers})
	if err != nil {
		return timerResult{}, err
	}
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	labelled("orchestrator", func() { go func() { done <- orch.Run(rctx) }() })
	defer func() { stop(); <-done }()
	// The bench's own connection: the orchestrator's is not shared with the measurement.
	mnc, err := srv.connect("bench")
	if err != nil {
		return timerResult{}, err
	}
	defer mnc.Close()
	mjs, err := jetstream.New(mnc)
	if err != nil {
		return timerResult{}, err
	}
	if pending > 0 {
		o.Progress("timers: filling %d pending requests first", pending)
		if err := fillPending(ctx, mjs, pending, 64, o.Progress); err != nil {
			return timerResult{}, err
		}
	}
	stopProfile, err := startProfile(cfg.cpuProfile)
	if err != nil {
		return timerResult{}, err
	}
	defer stopProfile()
	var res timerResult
	labelled("bench", func() { res, err = measureTimers(ctx, mjs, o) })
	return res, err
}

// fillPending creates n standalone pending requests that stay pending for a day, so that
// timer lateness can be measured with that many waiting.
func fillPending(ctx context.Context, js jetstream.JetStream, n, creators int, progress func(string, ...any)) error {
	st, err := store.Open(ctx, js)
	if err != nil {
		return err
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, creators)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t0 := time.Now()
	for range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				r := &events.Request{ID: uuid.NewString(), Title: "pending", Input: input.Spec{Type: input.Boolean},
					Timeout: events.Duration(24 * time.Hour)}
				if err := st.CreateRequest(cctx, r); err != nil {
					errs <- fmt.Errorf("fill: %w", err)
					cancel()
					return
				}
				if i%50000 == 0 {
					progress("fill: %d pending, %.0f/s", i, float64(i)/time.Since(t0).Seconds())
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}
