package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hitl-dev/hitl/streams"
)

// BacklogTimeout bounds the JetStream requests of one scrape of the workflow backlog.
var BacklogTimeout = 5 * time.Second

// RegisterWorkflowBacklog registers hitl_workflow_commands_pending{workflow}: for each
// workflow's durable consumer (streams.WorkflowConsumer), the run commands (start, cancel,
// resume) in the stream that no orchestrator has taken yet. It grows while a workflow's hosts
// are down or cannot keep up, and is the same on every instance. It is read at scrape time:
// one stream info and one consumer listing (a JetStream API request per 256 consumers), and
// nothing is kept in memory. A workflow that no orchestrator has ever hosted has no consumer
// yet, so its queued runs are not counted here (GET /v1/runs/{id} shows them as queued).
func RegisterWorkflowBacklog(js jetstream.JetStream, reg prometheus.Registerer, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg.MustRegister(&workflowBacklog{js: js, log: log, desc: prometheus.NewDesc("hitl_workflow_commands_pending",
		"Run commands (start, cancel, resume) of a workflow that no orchestrator has taken yet, across the whole cluster.",
		[]string{"workflow"}, nil)})
}

type workflowBacklog struct {
	js   jetstream.JetStream
	log  *slog.Logger
	desc *prometheus.Desc
}

func (b *workflowBacklog) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }

// Collect reports nothing, and logs why, when JetStream does not answer: one missing series
// is better than failing the whole scrape.
func (b *workflowBacklog) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), BacklogTimeout)
	defer cancel()
	st, err := b.js.Stream(ctx, streams.Stream)
	if err != nil {
		b.log.Warn("workflow backlog: read the stream", slog.Any("err", err))
		return
	}
	list := st.ListConsumers(ctx)
	for info := range list.Info() {
		if wf, ok := streams.WorkflowOfConsumer(info.Name); ok {
			ch <- prometheus.MustNewConstMetric(b.desc, prometheus.GaugeValue, float64(info.NumPending), wf)
		}
	}
	if err := list.Err(); err != nil {
		b.log.Warn("workflow backlog: list consumers", slog.Any("err", err))
	}
}
