package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/engine"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/respond"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/surface/webhook"
)

const (
	apiToken      = "test-token-123456"
	linkSecret    = "0123456789abcdef0123456789abcdef"
	webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // Standard Webhooks' example secret
	// callbackSecret signs callbacks: never the bots' webhook secret.
	callbackSecret = "whsec_Y2FsbGJhY2stc2VjcmV0LWZvci10aGUtdGVzdHM="
)

// loopback is the egress allow-list of the harness: its bot and callback receivers are
// httptest servers on 127.0.0.1, which hitl refuses to reach unless allow-listed.
var loopback = []string{"127.0.0.1"}

// system is hitl on a real JetStream, with services started and stopped by the test.
type system struct {
	t    *testing.T
	env  *natstest.Env
	st   *store.Store
	reg  *hitl.Registry
	api  *httptest.Server
	bot  *bot
	logs *slog.Logger
}

func newSystem(t *testing.T, env *natstest.Env, reg *hitl.Registry) *system {
	t.Helper()
	s := &system{t: t, env: env, reg: reg, logs: testLogger(t)}
	s.st = s.newStore()
	s.bot = newBot(t)
	api, err := respond.New(respond.Config{Store: s.st, Tokens: []string{apiToken}, LinkSecret: []byte(linkSecret),
		AllowPrivateTargets: loopback, MaxBody: 64 << 10, Logger: s.logs})
	if err != nil {
		t.Fatal(err)
	}
	s.api = httptest.NewServer(api)
	t.Cleanup(s.api.Close)
	s.bot.api = s.api.URL
	return s
}

func (s *system) newStore() *store.Store {
	_, js := s.env.Connect(s.t)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

// instance is one running service; stop ends it and waits until it has drained.
type instance struct {
	stop func()
	reg  *prometheus.Registry
}

func (s *system) run(fn func(ctx context.Context) error) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				s.t.Errorf("service stopped with error: %v", err)
			}
		})
	}
	s.t.Cleanup(stop)
	return stop
}

// orchestrator starts an orchestrator on its own connection.
func (s *system) orchestrator() *instance {
	reg := prometheus.NewRegistry()
	st := s.newStore()
	o, err := engine.New(engine.Config{Store: st, Registry: s.reg, Logger: s.logs, Metrics: metrics.New(reg)})
	if err != nil {
		s.t.Fatal(err)
	}
	return &instance{stop: flushedStop(s.run(o.Run), st), reg: reg}
}

// flushedStop is stop, then a round trip on the instance's connection: a stopped consumer's
// last pull is withdrawn (unsubscribed) as its fetch ends, and the server must have seen that
// before the test publishes what the instance must not take. A process that stops closes its
// connection, to the same effect.
func flushedStop(stop func(), st *store.Store) func() {
	return func() {
		stop()
		_ = st.JetStream().Conn().Flush()
	}
}

// notifier starts a notifier on its own connection with the bot's webhook targets.
func (s *system) notifier(targets ...string) *instance {
	if len(targets) == 0 {
		targets = []string{"ops-bot"}
	}
	m := map[string]string{}
	for _, name := range targets {
		m[name] = s.bot.srv.URL + "/hook/" + name
	}
	wh, err := webhook.New(webhook.Config{Targets: m, Secret: webhookSecret, AllowPrivate: loopback})
	if err != nil {
		s.t.Fatal(err)
	}
	cb, err := webhook.NewCallbacks(webhook.CallbacksConfig{Secret: callbackSecret, AllowPrivate: loopback})
	if err != nil {
		s.t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	n, err := notify.New(notify.Config{Store: s.newStore(), Channels: []notify.Channel{wh}, Callbacks: cb,
		LinkSecret: []byte(linkSecret), PublicURL: s.api.URL, Logger: s.logs, Metrics: metrics.New(reg)})
	if err != nil {
		s.t.Fatal(err)
	}
	return &instance{stop: s.run(n.Run), reg: reg}
}

// counter reads a counter's value summed over label sets matching labels.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			if matches(m, labels) {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func matches(m *dto.Metric, labels map[string]string) bool {
	for k, v := range labels {
		found := false
		for _, lp := range m.Label {
			if lp.GetName() == k && lp.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// ---- HTTP client ----

type apiResp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r apiResp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

func (s *system) call(method, path string, body any) apiResp {
	s.t.Helper()
	return doCall(s.t, method, s.api.URL+path, apiToken, body)
}

func doCall(t testing.TB, method, url, token string, body any) apiResp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return apiResp{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func (s *system) startRun(workflow string, in any) string {
	s.t.Helper()
	r := s.call("POST", "/v1/runs", map[string]any{"workflow": workflow, "input": in})
	if r.Status != http.StatusCreated {
		s.t.Fatalf("start run: %d %s", r.Status, r.Body)
	}
	var v respond.RunView
	r.decode(s.t, &v)
	return v.ID
}

func (s *system) getRun(id string) respond.RunView {
	s.t.Helper()
	r := s.call("GET", "/v1/runs/"+id, nil)
	if r.Status != http.StatusOK {
		s.t.Fatalf("get run: %d %s", r.Status, r.Body)
	}
	var v respond.RunView
	r.decode(s.t, &v)
	return v
}

// waitRun polls until the run's status satisfies ok.
func (s *system) waitRun(id string, timeout time.Duration, ok func(respond.RunView) bool) respond.RunView {
	s.t.Helper()
	var v respond.RunView
	eventually(s.t, timeout, func() bool { v = s.getRun(id); return ok(v) }, func() string {
		return fmt.Sprintf("run %s is %s with %d pending, error %q", id, v.Status, len(v.Pending), v.Error)
	})
	return v
}

func waiting(n int) func(respond.RunView) bool {
	return func(v respond.RunView) bool { return v.Status == events.RunWaiting && len(v.Pending) == n }
}

func finished(v respond.RunView) bool { return v.Status.Final() }

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, timeout time.Duration, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not reached within %s: %s", timeout, describe())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---- the webhook bot ----

// bot receives webhooks like a real bot: it verifies the Standard Webhooks signature, counts
// deliveries per (request, target), and answers through the respond_url it was given.
type bot struct {
	t      *testing.T
	srv    *httptest.Server
	api    string
	signer *webhook.Signer

	mu       sync.Mutex
	received map[string]int // request id + "/" + target → request_info deliveries
	resolved map[string]int // request id + "/" + target → resolved deliveries
	links    map[string]string
	badSigs  atomic.Int64
	// answer, if set, decides the answer to post for a request; nil answers nothing.
	answer atomic.Pointer[func(req events.Request) any]
}

func newBot(t *testing.T) *bot {
	s, err := webhook.NewSigner(webhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	b := &bot{t: t, signer: s, received: map[string]int{}, resolved: map[string]int{}, links: map[string]string{}}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *bot) onRequest(fn func(req events.Request) any) { b.answer.Store(&fn) }

func (b *bot) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := b.signer.Verify(r.Header, body, time.Now(), 5*time.Minute); err != nil {
		b.badSigs.Add(1)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	target := strings.TrimPrefix(r.URL.Path, "/hook/")
	var ev struct {
		Type string `json:"type"`
		Data struct {
			events.Request
			RespondURL string `json:"respond_url"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	key := ev.Data.ID + "/" + target
	b.mu.Lock()
	switch ev.Type {
	case events.TypeRequestInfo:
		b.received[key]++
		b.links[key] = ev.Data.RespondURL
	case events.TypeResolved:
		b.resolved[key]++
	}
	b.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	if fn := b.answer.Load(); fn != nil && ev.Type == events.TypeRequestInfo {
		if data := (*fn)(ev.Data.Request); data != nil {
			go b.respond(ev.Data.RespondURL, data)
		}
	}
}

// respond answers through a respond_url, with no API token: the link is the credential.
func (b *bot) respond(url string, data any) {
	r := doCall(b.t, "POST", url, "", map[string]any{"data": data})
	if r.Status != http.StatusOK && r.Status != http.StatusConflict {
		b.t.Errorf("bot answer: %d %s", r.Status, r.Body)
	}
}

func (b *bot) counts() (received, resolved map[string]int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	received, resolved = map[string]int{}, map[string]int{}
	for k, v := range b.received {
		received[k] = v
	}
	for k, v := range b.resolved {
		resolved[k] = v
	}
	return received, resolved
}

func (b *bot) link(requestID, target string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.links[requestID+"/"+target]
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func jetstreamSubjects(filter string) jetstream.StreamInfoOpt {
	return jetstream.WithSubjectFilter(filter)
}
