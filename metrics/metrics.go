// Package metrics holds hitl's Prometheus collectors. Counters and histograms are per
// process (Prometheus sums them across instances); the pending gauges are read from the
// pending index and the workflow backlog from the consumers' state, at scrape time, so every
// instance reports the same cluster-wide figure.
package metrics

import (
	"context"
	"log/slog"
	"time"

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

// PendingStats reports how many requests are pending across the cluster and when the
// oldest was created (zero when none): store.Store.PendingStats.
type PendingStats func(ctx context.Context) (int, time.Time, error)

// PendingTimeout bounds the JetStream request of one scrape of the pending gauges.
var PendingTimeout = 5 * time.Second

// RegisterPending registers hitl_requests_pending and hitl_oldest_pending_request_age_seconds,
// read at scrape time from stats: one JetStream stream info per scrape, nothing kept in
// memory, the same figures on every instance.
func RegisterPending(reg prometheus.Registerer, stats PendingStats, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg.MustRegister(&pendingGauges{stats: stats, log: log,
		count: prometheus.NewDesc("hitl_requests_pending", "Requests waiting for an answer, across the whole cluster.", nil, nil),
		age: prometheus.NewDesc("hitl_oldest_pending_request_age_seconds",
			"Age of the oldest request still waiting for an answer (0 when none).", nil, nil),
	})
}

type pendingGauges struct {
	stats      PendingStats
	log        *slog.Logger
	count, age *prometheus.Desc
}

func (g *pendingGauges) Describe(ch chan<- *prometheus.Desc) { ch <- g.count; ch <- g.age }

// Collect reports nothing, and logs why, when JetStream does not answer: missing series are
// better than a failed scrape or a wrong zero.
func (g *pendingGauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), PendingTimeout)
	defer cancel()
	n, oldest, err := g.stats(ctx)
	if err != nil {
		g.log.Warn("pending gauges: read the pending index", slog.Any("err", err))
		return
	}
	var age float64
	if !oldest.IsZero() {
		age = max(time.Since(oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(g.count, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(g.age, prometheus.GaugeValue, age)
}
