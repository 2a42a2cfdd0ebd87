package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/engine"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/respond"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
	"github.com/hitl-dev/hitl/surface/webhook"
)

const (
	workflowName  = "bench"
	apiToken      = "bench-api-token-0123456789"
	linkSecret    = "bench-link-secret-0123456789abcdef"
	webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // Standard Webhooks' example secret
	botTarget     = "bot"
)

// benchWorkflow asks one approval of the webhook bot, with a deadline so that arming and
// disarming the timer is part of every cycle.
func benchWorkflow(ctx context.Context, _ struct{}) (bool, error) {
	a, err := hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{
		Title:     "Approve the benchmark step?",
		Input:     input.Spec{Type: input.Approval},
		Assignees: []string{"webhook:" + botTarget},
		Timeout:   time.Hour,
	})
	return a.Approved, err
}

// fullSystem is hitl as `hitl dev` wires it (one NATS connection, one store, one instance
// of each service, the API under /v1/ on net/http), plus a webhook bot and an observer of
// run.finished events.
type fullSystem struct {
	cfg    *config
	srv    *natsServer
	nc     *nats.Conn // the services' connection
	obs    *nats.Conn // the benchmark's observer connection
	reg    *prometheus.Registry
	apiURL string
	client *http.Client
	// webhookTransport is the webhook channel's, when -webhook-conns sets one.
	webhookTransport *http.Transport
	tracker          *tracker
	bot              *bot

	stop     context.CancelFunc
	svcWG    sync.WaitGroup // orchestrator and notifier
	httpWG   sync.WaitGroup // API and bot servers
	errMu    sync.Mutex
	errs     []error
	httpSrvs []*http.Server

	failed  atomic.Int64 // runs that finished other than completed
	retries atomic.Int64 // HTTP calls of the harness (start run, bot answer) retried after a 503
}

func startFull(ctx context.Context, cfg *config, log *slog.Logger) (_ *fullSystem, err error) {
	f := &fullSystem{cfg: cfg, tracker: newTracker(), reg: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	// Goroutines inherit pprof labels from the goroutine that starts them, so labelling where
	// each part starts attributes the CPU profile by component (go tool pprof -tags).
	labelled("nats-server", func() { f.srv, err = startNATS(cfg, "full") })
	if err != nil {
		return f, err
	}
	labelled("nats-client", func() { f.nc, err = f.srv.connect("hitl") })
	if err != nil {
		return f, err
	}
	js, err := jetstream.New(f.nc)
	if err != nil {
		return f, err
	}
	ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = streams.Ensure(ectx, js, streams.Config{Storage: jetstream.FileStorage})
	cancel()
	if err != nil {
		return f, err
	}
	st, err := store.Open(ctx, js)
	if err != nil {
		return f, err
	}
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	f.stop = stop
	m := metrics.New(f.reg)
	metrics.RegisterPending(f.reg, st.PendingStats, log)

	// The bench's own HTTP client plays the world outside: the caller starting runs and the
	// bot answering. It keeps enough idle connections for every run in flight.
	f.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 4 * cfg.runs, MaxIdleConnsPerHost: 2 * cfg.runs, IdleConnTimeout: time.Minute,
		DisableCompression: true,
	}}

	signer, err := webhook.NewSigner(webhookSecret)
	if err != nil {
		return f, err
	}
	f.bot = &bot{signer: signer, client: f.client, tracker: f.tracker, log: log, retries: &f.retries}
	var botURL string
	labelled("bot", func() { botURL, err = f.serve(f.bot) })
	if err != nil {
		return f, err
	}

	wfs := hitl.NewRegistry()
	hitl.Register(wfs, workflowName, benchWorkflow)
	// Bind the API listener first: its address is the PublicURL of the respond_url links.
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return f, err
	}
	f.apiURL = "http://" + apiLn.Addr().String()
	served := false
	defer func() {
		if !served {
			apiLn.Close()
		}
	}()

	o, err := engine.New(engine.Config{Store: st, Registry: wfs, Logger: log, Metrics: m, Workers: cfg.workers})
	if err != nil {
		return f, err
	}
	// The bot runs on loopback, which webhook targets may reach only when allow-listed.
	whCfg := webhook.Config{Targets: map[string]string{botTarget: botURL + "/hook/" + botTarget}, Secret: webhookSecret,
		AllowPrivate: []string{"127.0.0.1"}}
	if cfg.webhookConns > 0 { // an experiment: hitl dev leaves Client nil (http.DefaultTransport)
		f.webhookTransport = &http.Transport{MaxIdleConns: cfg.webhookConns, MaxIdleConnsPerHost: cfg.webhookConns,
			IdleConnTimeout: time.Minute}
		whCfg.Client = &http.Client{Timeout: 10 * time.Second, Transport: f.webhookTransport}
	}
	wh, err := webhook.New(whCfg)
	if err != nil {
		return f, err
	}
	n, err := notify.New(notify.Config{Store: st, Channels: []notify.Channel{wh},
		LinkSecret: []byte(linkSecret), PublicURL: f.apiURL, Workers: cfg.workers, Logger: log, Metrics: m})
	if err != nil {
		return f, err
	}
	api, err := respond.New(respond.Config{Store: st, Tokens: []string{apiToken}, LinkSecret: []byte(linkSecret),
		Logger: log, Metrics: m})
	if err != nil {
		return f, err
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", api)
	labelled("responder", func() { f.serveOn(apiLn, mux) })
	served = true
	for _, svc := range []struct {
		name string
		run  func(context.Context) error
	}{{"orchestrator", o.Run}, {"notifier", n.Run}} {
		f.svcWG.Add(1)
		labelled(svc.name, func() {
			go func() {
				defer f.svcWG.Done()
				if err := svc.run(rctx); err != nil {
					f.addErr(err)
				}
			}()
		})
	}

	// Completion is observed on the run.finished events, on a connection of its own.
	labelled("bench", func() { f.obs, err = f.srv.connect("bench-observer") })
	if err != nil {
		return f, err
	}
	completed := []byte(`"` + events.TypeRunCompleted + `"`)
	sub, err := f.obs.Subscribe(streams.SubjectRunFinished+">", func(msg *nats.Msg) {
		at := time.Now()
		id := strings.TrimPrefix(msg.Subject, streams.SubjectRunFinished)
		if bytes.Contains(msg.Data, completed) {
			f.tracker.finish(id, at, nil)
			return
		}
		f.failed.Add(1)
		_, rf, err := events.DecodeAs[events.RunFinished](msg.Data)
		if err == nil {
			err = fmt.Errorf("run %s finished %s: %s", id, rf.Status, rf.Error)
		}
		f.tracker.finish(id, at, err)
	})
	if err != nil {
		return f, err
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return f, err
	}
	if err := f.obs.Flush(); err != nil {
		return f, err
	}
	return f, nil
}

// labelled runs fn with the pprof label component=name; goroutines fn starts keep it.
func labelled(name string, fn func()) {
	pprof.Do(context.Background(), pprof.Labels("component", name), func(context.Context) { fn() })
}

func (f *fullSystem) addErr(err error) {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	f.errs = append(f.errs, err)
}

// serve starts an HTTP server on a loopback port and returns its base URL.
func (f *fullSystem) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	f.serveOn(ln, h)
	return "http://" + ln.Addr().String(), nil
}

func (f *fullSystem) serveOn(ln net.Listener, h http.Handler) {
	// The timeouts of hitl's own server (server.HTTPTimeouts' defaults); the bench holds no
	// long-poll, so one write timeout fits every response.
	s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	f.httpSrvs = append(f.httpSrvs, s)
	f.httpWG.Add(1)
	go func() {
		defer f.httpWG.Done()
		if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			f.addErr(err)
		}
	}()
}

// cycle is one full cycle: start a run over HTTP and wait for its run.finished event. The
// bot answers in between, when the notifier's webhook reaches it.
func (f *fullSystem) cycle(ctx context.Context) error {
	status, b, err := post(ctx, f.client, f.apiURL+"/v1/runs", `{"workflow":"`+workflowName+`","input":{}}`, apiToken, &f.retries)
	if err != nil {
		return fmt.Errorf("start run: %w", err)
	}
	if status != http.StatusCreated {
		return fmt.Errorf("start run: %d: %s", status, b)
	}
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.ID == "" {
		return fmt.Errorf("start run: no id in %s", b)
	}
	return f.tracker.wait(ctx, v.ID, f.cfg.cycleTimeout)
}

var fullStreams = []string{streams.Stream, "KV_" + streams.BucketRuns, "KV_" + streams.BucketRequests,
	streams.TimerStream, "KV_" + streams.BucketDeliveries}

func (f *fullSystem) counters(ctx context.Context) counters {
	return readCounters(ctx, f.srv, f.nc, fullStreams, [][2]string{{streams.Stream, streams.ConsumerOrchestrator},
		{streams.Stream, streams.WorkflowConsumerName(workflowName)},
		{streams.Stream, streams.ConsumerNotifier}, {streams.TimerStream, streams.ConsumerTimers}})
}

// close stops the services (letting them drain their handlers, whose deliveries still reach
// the bot), then the HTTP servers, the connections and the server, and reports what the
// services returned.
func (f *fullSystem) close() error {
	if f.stop != nil {
		f.stop()
	}
	f.svcWG.Wait()
	if f.bot != nil {
		f.bot.answers.Wait() // each bounded by its own timeout
	}
	// Close the clients' idle connections first: http.Server.Shutdown waits up to 5s for a
	// connection that was dialled but never carried a request. The webhook channel's client
	// uses http.DefaultTransport.
	if f.client != nil {
		f.client.CloseIdleConnections()
	}
	http.DefaultClient.CloseIdleConnections()
	if f.webhookTransport != nil {
		f.webhookTransport.CloseIdleConnections()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range f.httpSrvs {
		if err := s.Shutdown(sctx); err != nil {
			f.addErr(fmt.Errorf("http shutdown: %w", err))
		}
	}
	f.httpWG.Wait()
	if f.obs != nil {
		f.obs.Close()
	}
	if f.nc != nil {
		f.nc.Close()
	}
	if f.srv != nil {
		f.srv.shutdown()
	}
	f.errMu.Lock()
	defer f.errMu.Unlock()
	return errors.Join(f.errs...)
}
