package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/engine"
	"github.com/hitl-dev/hitl/jobapi"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/respond"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
)

// process is what one process runs: some of the three services, on one NATS connection and
// one HTTP server.
type process struct {
	cfg                               Config // with defaults, validated by the role
	orchestrator, notifier, responder bool
	dev                               bool           // hitl dev: short API tokens pass, none means open
	workflows                         *hitl.Registry // the orchestrator's
	console                           io.Writer      // every question printed here when set
}

// run connects to NATS, ensures the streams, and runs the selected services and the HTTP
// server (the API when the responder runs, /metrics and /healthz always) until ctx ends.
func run(ctx context.Context, p *process) error {
	c := &p.cfg
	log := c.Logger
	if err := c.validate(); err != nil {
		return err
	}
	file, err := routing.Load(c.ConfigFile)
	if err != nil {
		return err
	}
	tokens, err := c.apiTokens(file, p.dev)
	if err != nil {
		return err
	}
	switch {
	case !p.responder || len(tokens) > 0:
	case p.dev:
		log.Warn("no HITL_API_TOKENS: the API accepts every caller (dev mode)")
	case !c.Insecure:
		return errors.New("HITL_API_TOKENS (or the config's api_tokens) must be set for the responder (or HITL_INSECURE=true for a trusted network)")
	}
	limits, err := c.RateLimits.build()
	if err != nil {
		return err
	}
	nc, err := nats.Connect(natsURL(c.NATS), nats.Name("hitl"), nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", slog.Any("err", err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", slog.String("url", nc.ConnectedUrl())) }))
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", c.NATS, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = streams.Ensure(ectx, js, streams.Config{Replicas: c.Replicas})
	cancel()
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, js)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)
	if _, err := metrics.WatchPending(ctx, st.Buckets().Requests, reg, log); err != nil {
		return fmt.Errorf("pending tracker: %w", err)
	}
	metrics.RegisterWorkflowBacklog(js, reg, log)

	ln, err := net.Listen("tcp", c.HTTP)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.HTTP, err)
	}
	defer ln.Close() // on early returns; Shutdown closes it otherwise
	if c.PublicURL == "" {
		c.PublicURL = file.PublicURL // the flag or HITL_PUBLIC_URL first, then the file
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://localhost:" + portOf(ln.Addr())
	}

	var runners []func(context.Context) error
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if nc.Status() != nats.CONNECTED {
			http.Error(w, `{"status":"nats disconnected"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	var routes *routing.Routes // set by buildSurfaces, before any runner starts
	if p.orchestrator {
		o, err := engine.New(engine.Config{Store: st, Registry: p.workflows, Logger: log, Metrics: m, Workers: c.Workers,
			CheckAssignees: func(a []string) error { return routes.CheckAll(a) }})
		if err != nil {
			return err
		}
		runners = append(runners, o.Run)
	}
	d := deps{cfg: c, console: p.console, file: file, store: st, log: log, metrics: m, routes: &routes,
		tokens: tokens, limits: limits}
	sys, err := buildSurfaces(d)
	if err != nil {
		return err
	}
	if p.notifier {
		n, err := sys.notifier(d)
		if err != nil {
			return err
		}
		runners = append(runners, n.Run)
	}
	if p.responder {
		api, err := respond.New(respond.Config{Store: st, Tokens: tokens, LinkSecret: []byte(c.LinkSecret),
			Routes: routes, Logger: log, Metrics: m, AuthFailures: limits.AuthFailures, Answers: limits.Answers})
		if err != nil {
			return err
		}
		mux.Handle("/v1/", api)
		jobs, err := jobapi.New(jobapi.Config{Store: st, Workflow: c.JobWorkflow, Tokens: tokens,
			LinkSecret: []byte(c.LinkSecret), Logger: log, Metrics: m, AuthFailures: limits.AuthFailures})
		if err != nil {
			return err
		}
		jobs.Mount(mux) // the Masumi job API: /start_job, /status, /provide_input, ...
		sys.mount(mux)  // Slack interactions, email links, web pages
	}

	srv := httpServer(mux, c.HTTPTimeouts)
	var wg sync.WaitGroup
	errs := make(chan error, len(runners)+1)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	for _, run := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(rctx); err != nil {
				errs <- err
				stop()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- err
			stop()
		}
	}()
	log.Info("hitl serving", slog.String("http", ln.Addr().String()), slog.String("public_url", c.PublicURL),
		slog.String("nats", c.NATS), slog.Bool("orchestrator", p.orchestrator), slog.Bool("notifier", p.notifier),
		slog.Bool("responder", p.responder))
	if c.Ready != nil {
		c.Ready(Listening{HTTP: ln.Addr(), PublicURL: c.PublicURL, NATS: c.NATS})
	}
	<-rctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// natsURL accepts host:port as well as nats://host:port, and comma-separated lists.
func natsURL(addr string) string {
	parts := strings.Split(addr, ",")
	for i, p := range parts {
		if p = strings.TrimSpace(p); !strings.Contains(p, "://") {
			parts[i] = "nats://" + p
		}
	}
	return strings.Join(parts, ",")
}

func portOf(a net.Addr) string {
	_, port, _ := net.SplitHostPort(a.String())
	return port
}
