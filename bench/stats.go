package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// tracker follows cycles by id: when their answer was accepted and when they finished. Either
// event may arrive first (a run can complete before the bot has read its 200), so entries
// are created by whichever side sees the id first.
type tracker struct {
	mu     sync.Mutex
	phase  int // cycles count towards the statistics of the phase they were first seen in
	cycles map[string]*cycle
	lat    []time.Duration
	early  int // finished before the answer's 200 was read: counted as 0 latency
}

type cycle struct {
	phase    int
	answered time.Time
	finished time.Time
	done     chan struct{}
	closed   bool
	err      error
}

func newTracker() *tracker { return &tracker{cycles: map[string]*cycle{}} }

func (t *tracker) get(id string) *cycle {
	c, ok := t.cycles[id]
	if !ok {
		c = &cycle{phase: t.phase, done: make(chan struct{})}
		t.cycles[id] = c
	}
	return c
}

// nextPhase starts counting anew: cycles seen before no longer add to the statistics.
func (t *tracker) nextPhase() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.phase++
	t.lat, t.early = nil, 0
}

// answered records the moment the answer for id was accepted.
func (t *tracker) answered(id string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.get(id)
	if !c.answered.IsZero() {
		return
	}
	c.answered = at
	if c.closed && c.err == nil && c.phase == t.phase {
		t.lat = append(t.lat, max(0, c.finished.Sub(at)))
		t.early++
	}
}

// finish records the end of cycle id; a non-nil err fails it. Repeats are ignored.
func (t *tracker) finish(id string, at time.Time, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.get(id)
	if c.closed {
		return
	}
	c.closed, c.finished, c.err = true, at, err
	if err == nil && !c.answered.IsZero() && c.phase == t.phase {
		t.lat = append(t.lat, max(0, at.Sub(c.answered)))
	}
	close(c.done)
}

// wait blocks until cycle id finishes, ctx ends or timeout passes.
func (t *tracker) wait(ctx context.Context, id string, timeout time.Duration) error {
	t.mu.Lock()
	c := t.get(id)
	t.mu.Unlock()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		t.mu.Lock()
		answered := !c.answered.IsZero()
		t.mu.Unlock()
		return fmt.Errorf("cycle %s did not finish within %s (answer accepted: %v)", id, timeout, answered)
	}
}

// latencies returns the sorted latencies of the current phase and how many were early.
func (t *tracker) latencies() ([]time.Duration, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := slices.Clone(t.lat)
	slices.Sort(l)
	return l, t.early
}

// quantile is the nearest-rank quantile of sorted durations, in milliseconds.
func quantile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = min(max(i, 0), len(sorted)-1)
	return ms(sorted[i])
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// window measures the wall, process and machine CPU time of fn.
func window(fn func()) (wall, cpu, others time.Duration) {
	c0, m0, t0 := cpuTime(), machineBusy(), time.Now()
	fn()
	wall, cpu = time.Since(t0), cpuTime()-c0
	if m := machineBusy() - m0; m > cpu && m0 > 0 {
		others = m - cpu
	}
	return wall, cpu, others
}

// closedLoop keeps n cycles in flight until total have completed: each of n workers runs
// one cycle after another. It returns the wall time from the first start to the last
// completion, and the first error, which stops every worker.
func closedLoop(ctx context.Context, n, total int, one func(ctx context.Context) error) (time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range min(n, total) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(total) {
				if err := one(ctx); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return wall, err
	}
	return wall, ctx.Err()
}

// result is one measured phase.
type result struct {
	name     string
	total    int
	wall     time.Duration
	cpu      time.Duration // process CPU time during the window (services, server and harness)
	others   time.Duration // CPU time other processes on the machine used during the window
	lat      []time.Duration
	early    int
	perCycle map[string]float64 // counters per cycle, for the human-readable report
	latAt    []time.Duration    // sorted latencies of the latency window
	latRuns  int                // in flight during the latency window; 0 without one
	counts   counted            // the counting window's
}

func (r result) cpuPerCycle() float64 {
	return float64(r.cpu.Microseconds()) / float64(r.total)
}

func (r result) cyclesPerSec() float64 {
	if r.wall <= 0 {
		return 0
	}
	return float64(r.total) / r.wall.Seconds()
}
