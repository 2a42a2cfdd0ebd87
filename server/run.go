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
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/engine"
	"github.com/hitl-dev/hitl/internal/httpguard"
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
	// defaultAllow is the egress allow-list when none is configured (Dev: loopback).
	defaultAllow []string
}

// run listens, connects to NATS, ensures the streams, and runs the selected services and
// the HTTP server (the API when the responder runs, /metrics, /healthz and /readyz always)
// until ctx ends. The HTTP server answers from the start, so that /readyz can say "not
// ready" (503) while the connection and the streams are retried; the API answers 503 with
// Retry-After until then. Ready and the "hitl serving" log come once everything runs.
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
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h := &health{}
	outer := http.NewServeMux()
	outer.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	outer.HandleFunc("GET /healthz", h.healthz)
	outer.HandleFunc("GET /readyz", h.readyz)
	outer.Handle("/", h) // the services' routes, once ready
	guard, err := httpguard.New(httpguard.Config{PublicURL: c.PublicURL, CheckHost: checkHost(ln.Addr(), p.responder && len(tokens) == 0),
		JSON: append([]string{"/v1/"}, jobapi.Paths...), Logger: log})
	if err != nil {
		return fmt.Errorf("public URL (--public-url, HITL_PUBLIC_URL): %w", err)
	}
	srv := httpServer(guard.Handler(outer), c.HTTPTimeouts)
	var wg sync.WaitGroup
	defer wg.Wait()
	serveErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr <- err
		}
	}()
	defer func() { // on early returns; the normal path shuts down below first
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	nc, err := connect(ctx, c, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	defer nc.Close()
	h.nc.Store(nc)
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if err := retryStart(ctx, log, "ensure streams", func(ctx context.Context) error {
		return streams.Ensure(ctx, js, streams.Config{Replicas: c.Replicas})
	}); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	st, err := store.Open(ctx, js)
	if err != nil {
		return err
	}

	m := metrics.New(reg)
	metrics.RegisterPending(reg, st.PendingStats, log)
	metrics.RegisterWorkflowBacklog(js, reg, log)

	var runners []func(context.Context) error
	mux := http.NewServeMux()
	var routes *routing.Routes // set by buildSurfaces, before any runner starts
	var onShutdown []func()    // run when the HTTP server starts shutting down
	if p.orchestrator {
		o, err := engine.New(engine.Config{Store: st, Registry: p.workflows, Logger: log, Metrics: m, Workers: c.Workers,
			CheckAssignees: func(a []string) error { return routes.CheckAll(a) }})
		if err != nil {
			return err
		}
		runners = append(runners, o.Run)
		// Requests stored before the pending index existed get their entries, once per
		// deployment, without holding up the start.
		go func() {
			if n, err := st.BackfillPending(ctx); err != nil && ctx.Err() == nil {
				log.Warn("pending index: backfill stopped; it starts again with the next orchestrator", slog.Any("err", err))
			} else if n > 0 {
				log.Info("pending index: backfilled requests stored before it existed", slog.Int("requests", n))
			}
		}()
	}
	d := deps{cfg: c, console: p.console, file: file, store: st, log: log, metrics: m, routes: &routes,
		defaultAllow: p.defaultAllow, tokens: tokens, limits: limits}
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
			Routes: routes, AllowPrivateTargets: d.allowPrivate(), Logger: log, Metrics: m,
			MaxWaits: c.MaxWaits, MaxWaitsPerCaller: c.MaxWaitsPerCaller, AuthFailures: limits.AuthFailures, Answers: limits.Answers})
		if err != nil {
			return err
		}
		mux.Handle("/v1/", api)
		onShutdown = append(onShutdown, api.Close) // long-polls answer now, not at their timeout
		jobs, err := jobapi.New(jobapi.Config{Store: st, Workflow: c.JobWorkflow, Tokens: tokens,
			LinkSecret: []byte(c.LinkSecret), Logger: log, Metrics: m, AuthFailures: limits.AuthFailures})
		if err != nil {
			return err
		}
		jobs.Mount(mux) // the Masumi job API: /start_job, /status, /provide_input, ...
		sys.mount(mux)  // Slack interactions, email links, web pages
	}

	for _, f := range onShutdown {
		srv.RegisterOnShutdown(f)
	}
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
	go func() { // the HTTP server's failure stops the services too
		defer wg.Done()
		select {
		case err := <-serveErr:
			errs <- err
			stop()
		case <-rctx.Done():
		}
	}()
	h.serve(mux)
	log.Info("hitl serving", slog.String("http", ln.Addr().String()), slog.String("public_url", c.PublicURL),
		slog.String("nats", RedactURL(c.NATS)), slog.Bool("orchestrator", p.orchestrator), slog.Bool("notifier", p.notifier),
		slog.Bool("responder", p.responder))
	if c.Ready != nil {
		c.Ready(Listening{HTTP: ln.Addr(), PublicURL: c.PublicURL, NATS: RedactURL(c.NATS), NATSEnv: c.natsEnv, AllowPrivateTargets: d.allowPrivate()})
	}
	<-rctx.Done()
	h.stopping.Store(true)
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

// startBudget bounds how long a starting process retries the first NATS connection, and
// then streams.Ensure: long enough for a JetStream meta-leader election or a NATS node's
// restart, short enough that a wrong address fails the start visibly.
const startBudget = 60 * time.Second

// connect makes the first NATS connection, retrying with backoff within startBudget; once
// connected, the client reconnects by itself forever.
func connect(ctx context.Context, c *Config, log *slog.Logger) (*nats.Conn, error) {
	opts, err := natsOptions(c)
	if err != nil {
		return nil, err
	}
	opts = append(opts, nats.Timeout(5*time.Second))
	var nc *nats.Conn
	err = retryStart(ctx, log, "connect to NATS", func(context.Context) error {
		var err error
		nc, err = nats.Connect(natsURL(c.NATS), opts...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", RedactURL(c.NATS), err)
	}
	return nc, nil
}

// retryStart runs fn until it succeeds, with a backoff from 250 ms to 5 s, for up to
// startBudget in all; each attempt has 10 s. Failures are logged at warn with the attempt.
func retryStart(ctx context.Context, log *slog.Logger, what string, fn func(context.Context) error) error {
	deadline := time.Now().Add(startBudget)
	wait := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, min(10*time.Second, max(time.Until(deadline), time.Second)))
		err := fn(actx)
		cancel()
		if err == nil {
			if attempt > 1 {
				log.Info(what+": done", slog.Int("attempt", attempt))
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) {
			return fmt.Errorf("%s: %w (check the HITL_NATS_* credentials)", what, err) // a retry cannot fix it
		}
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("%s: gave up after %d attempts in %s: %w", what, attempt, startBudget, err)
		}
		log.Warn(what+" failed; retrying", slog.Int("attempt", attempt), slog.Duration("in", wait), slog.Any("err", err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// health answers /healthz and /readyz, and serves the services' routes once they run.
//   - /healthz: 200 while the process is connected to NATS, else 503 (its meaning since the
//     first release: a liveness check of the process and its connection).
//   - /readyz: 200 once the streams are ensured and every service runs, while connected to
//     NATS; 503 before (starting), while disconnected, and once shutting down (stopping).
//     Send traffic by this one.
type health struct {
	nc       atomic.Pointer[nats.Conn]
	ready    atomic.Pointer[http.ServeMux] // the services' routes, set once they run
	stopping atomic.Bool                   // shutting down: not ready any more
}

func (h *health) connected() bool {
	nc := h.nc.Load()
	return nc != nil && nc.Status() == nats.CONNECTED
}

func (h *health) healthz(w http.ResponseWriter, _ *http.Request) {
	if !h.connected() {
		writeStatus(w, http.StatusServiceUnavailable, "nats disconnected")
		return
	}
	writeStatus(w, http.StatusOK, "ok")
}

func (h *health) readyz(w http.ResponseWriter, _ *http.Request) {
	switch {
	case h.stopping.Load():
		writeStatus(w, http.StatusServiceUnavailable, "stopping")
	case h.ready.Load() == nil:
		writeStatus(w, http.StatusServiceUnavailable, "starting")
	case !h.connected():
		writeStatus(w, http.StatusServiceUnavailable, "nats disconnected")
	default:
		writeStatus(w, http.StatusOK, "ready")
	}
}

func (h *health) serve(mux *http.ServeMux) { h.ready.Store(mux) }

// ServeHTTP passes requests to the services' routes, or answers 503 while they start.
func (h *health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if mux := h.ready.Load(); mux != nil {
		mux.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"hitl is starting; retry"}}` + "\n"))
}

func writeStatus(w http.ResponseWriter, code int, status string) {
	w.Header().Set("Content-Type", "application/json")
	if code != http.StatusOK {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, `{"status":%q}`+"\n", status)
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

// checkHost says whether the server refuses foreign Host names (DNS rebinding): when it
// listens on loopback only, or serves the API without tokens (dev, --insecure). An
// orchestrator or notifier serves no API, only /metrics and the health checks, which
// Prometheus and probes reach by names we cannot list. A server
// on a network with tokens accepts every name, since internal names, load balancers and
// probes are not ours to list, and a rebinding page holds no token.
func checkHost(a net.Addr, insecure bool) bool {
	if insecure {
		return true
	}
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

func portOf(a net.Addr) string {
	_, port, _ := net.SplitHostPort(a.String())
	return port
}
