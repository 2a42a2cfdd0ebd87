// Package metrics holds hitl's Prometheus collectors. Counters and histograms are per
// process (Prometheus sums them across instances); the pending gauges are derived from the
// requests bucket itself and the workflow backlog from the consumers' state, so every
// instance reports the same cluster-wide figure.
package metrics

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hitl-dev/hitl/events"
)

// Metrics are the collectors a service records into. A nil *Metrics records nothing.
type Metrics struct {
	requestsCreated  *prometheus.CounterVec
	requestsResolved *prometheus.CounterVec
	timeToAnswer     *prometheus.HistogramVec
	resumeLatency    prometheus.Histogram
	deliveries       *prometheus.CounterVec
	runsStarted      prometheus.Counter
	runsFinished     *prometheus.CounterVec
	waitsActive      prometheus.Gauge
	waitsRefused     *prometheus.CounterVec
}

// New creates the collectors and registers them with reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requestsCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hitl", Name: "requests_created_total",
			Help: "Requests created, by origin (workflow or standalone).",
		}, []string{"origin"}),
		requestsResolved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hitl", Name: "requests_resolved_total",
			Help: "Requests resolved, by outcome (answered, timed_out, cancelled).",
		}, []string{"outcome"}),
		timeToAnswer: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "hitl", Name: "request_resolution_seconds",
			Help:    "Time from a request's creation to its resolution, by outcome.",
			Buckets: []float64{1, 5, 15, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400},
		}, []string{"outcome"}),
		resumeLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "hitl", Name: "resume_latency_seconds",
			Help:    "Time from a response passing the gate to its run being resumed and checkpointed.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hitl", Name: "notifications_total",
			Help: "Notification delivery attempts, by channel and result (delivered, failed, dead_letter, skipped).",
		}, []string{"channel", "result"}),
		runsStarted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "hitl", Name: "runs_started_total", Help: "Runs started.",
		}),
		runsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hitl", Name: "runs_finished_total", Help: "Runs finished, by status.",
		}, []string{"status"}),
		waitsActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "hitl", Name: "waits_active",
			Help: "Long-polls (/wait) this process holds open now.",
		}),
		waitsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hitl", Name: "waits_refused_total",
			Help: "Long-polls refused with 429, by the cap they hit (total or caller).",
		}, []string{"limit"}),
	}
	reg.MustRegister(m.requestsCreated, m.requestsResolved, m.timeToAnswer, m.resumeLatency, m.deliveries,
		m.runsStarted, m.runsFinished, m.waitsActive, m.waitsRefused)
	return m
}

// RequestCreated counts a new request.
func (m *Metrics) RequestCreated(r *events.Request) {
	if m == nil {
		return
	}
	origin := "standalone"
	if r.RunID != "" {
		origin = "workflow"
	}
	m.requestsCreated.WithLabelValues(origin).Inc()
}

// RequestResolved counts a request this process resolved through the gate.
func (m *Metrics) RequestResolved(r *events.Request) {
	if m == nil || r.ResolvedAt == nil {
		return
	}
	m.requestsResolved.WithLabelValues(string(r.Status)).Inc()
	m.timeToAnswer.WithLabelValues(string(r.Status)).Observe(r.ResolvedAt.Sub(r.CreatedAt).Seconds())
}

// Resumed records the latency from a response to its run's resumption.
func (m *Metrics) Resumed(since time.Time) {
	if m == nil {
		return
	}
	m.resumeLatency.Observe(time.Since(since).Seconds())
}

// Delivery counts a notification attempt.
func (m *Metrics) Delivery(channel, result string) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(channel, result).Inc()
}

// RunStarted counts a run started.
func (m *Metrics) RunStarted() {
	if m != nil {
		m.runsStarted.Inc()
	}
}

// RunFinished counts a run reaching a final status.
func (m *Metrics) RunFinished(status events.RunStatus) {
	if m != nil {
		m.runsFinished.WithLabelValues(string(status)).Inc()
	}
}

// WaitStarted counts a long-poll that starts waiting; WaitEnded when it ends.
func (m *Metrics) WaitStarted() {
	if m != nil {
		m.waitsActive.Inc()
	}
}

// WaitEnded pairs with WaitStarted.
func (m *Metrics) WaitEnded() {
	if m != nil {
		m.waitsActive.Dec()
	}
}

// WaitRefused counts a long-poll refused by a cap ("total" or "caller").
func (m *Metrics) WaitRefused(limit string) {
	if m != nil {
		m.waitsRefused.WithLabelValues(limit).Inc()
	}
}

// Pending tracks the pending requests of the whole cluster by watching the requests bucket,
// and serves them as hitl_requests_pending and hitl_oldest_pending_request_age_seconds.
type Pending struct {
	mu      sync.Mutex
	created map[string]time.Time
	ready   bool
}

// WatchPending starts tracking and registers the two gauges. It returns when the watch has
// caught up with the bucket; tracking continues until ctx ends.
func WatchPending(ctx context.Context, requests jetstream.KeyValue, reg prometheus.Registerer, log *slog.Logger) (*Pending, error) {
	p := &Pending{created: map[string]time.Time{}}
	w, err := requests.WatchAll(ctx)
	if err != nil {
		return nil, err
	}
	caughtUp := make(chan struct{})
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					p.mu.Lock()
					p.ready = true
					p.mu.Unlock()
					close(caughtUp)
					continue
				}
				p.apply(e, log)
			}
		}
	}()
	select {
	case <-caughtUp:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "hitl", Name: "requests_pending",
			Help: "Requests waiting for an answer, across the whole cluster.",
		}, func() float64 { n, _ := p.Stats(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "hitl", Name: "oldest_pending_request_age_seconds",
			Help: "Age of the oldest request still waiting for an answer (0 when none).",
		}, func() float64 { _, age := p.Stats(); return age.Seconds() }),
	)
	return p, nil
}

func (p *Pending) apply(e jetstream.KeyValueEntry, log *slog.Logger) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(p.created, e.Key())
		return
	}
	var r struct {
		Status    events.Status `json:"status"`
		CreatedAt time.Time     `json:"created_at"`
	}
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		log.Warn("pending tracker: undecodable request record", slog.String("key", e.Key()), slog.Any("err", err))
		return
	}
	if r.Status == events.StatusPending {
		p.created[e.Key()] = r.CreatedAt
	} else {
		delete(p.created, e.Key())
	}
}

// Stats returns how many requests are pending and the age of the oldest.
func (p *Pending) Stats() (int, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var oldest time.Time
	for _, c := range p.created {
		if oldest.IsZero() || c.Before(oldest) {
			oldest = c
		}
	}
	if oldest.IsZero() {
		return len(p.created), 0
	}
	return len(p.created), time.Since(oldest)
}
