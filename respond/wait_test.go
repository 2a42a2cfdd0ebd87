package respond_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/respond"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
)

const (
	tokenA         = "wait-test-token-a"
	tokenB         = "wait-test-token-b"
	waitLinkSecret = "0123456789abcdef0123456789abcdef"
)

type fixture struct {
	t   *testing.T
	js  jetstream.JetStream
	st  *store.Store
	api *respond.Server
	srv *httptest.Server
	reg *prometheus.Registry
}

func setupWaits(t *testing.T, cfg respond.Config) *fixture { return setupWrapped(t, cfg, nil) }

// setupWrapped is setup with the real buckets wrapped by wrap, to inject faults.
func setupWrapped(t *testing.T, cfg respond.Config, wrap func(streams.Buckets) streams.Buckets) *fixture {
	t.Helper()
	env := natstest.Single(t)
	_, js := env.Connect(t)
	b, err := streams.OpenBuckets(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		b = wrap(b)
	}
	st := store.New(js, b)
	reg := prometheus.NewRegistry()
	if cfg.Tokens == nil { // an empty, non-nil list: no authentication, as in dev
		cfg.Tokens = []string{tokenA, tokenB}
	}
	cfg.Store, cfg.LinkSecret = st, []byte(waitLinkSecret)
	cfg.Metrics = metrics.New(reg)
	cfg.Logger = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	api, err := respond.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	t.Cleanup(api.Close) // runs first: the waits end, so srv.Close does not wait for them
	return &fixture{t: t, js: js, st: st, api: api, srv: srv, reg: reg}
}

var client = &http.Client{Timeout: 60 * time.Second}

// call makes an API call with token ("" for none) and decodes a JSON answer into out.
func (f *fixture) call(method, path, token string, body any, out any) (int, http.Header) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			f.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode, resp.Header
}

func (f *fixture) createRequest() *events.Request {
	f.t.Helper()
	var req events.Request
	if code, _ := f.call("POST", "/v1/requests", tokenA, map[string]any{"title": "Deploy?", "assignees": []string{"webhook:bot"}}, &req); code != 201 {
		f.t.Fatalf("create request: %d", code)
	}
	return &req
}

func (f *fixture) startRun() string {
	f.t.Helper()
	var v respond.RunView
	if code, _ := f.call("POST", "/v1/runs", tokenA, map[string]any{"workflow": "nobody-hosts-this"}, &v); code != 201 {
		f.t.Fatalf("start run: %d", code)
	}
	return v.ID
}

func (f *fixture) answer(id string) {
	f.t.Helper()
	if code, _ := f.call("POST", "/v1/requests/"+id+"/respond", tokenA, map[string]any{"data": map[string]any{"approved": true}}, nil); code != 200 {
		f.t.Fatalf("answer %s: %d", id, code)
	}
}

// gauge reads a metric of the fixture's registry (0 when absent).
func (f *fixture) gauge(name string, labels ...string) float64 {
	f.t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		f.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i, lp := range m.GetLabel() {
				if i*2+1 >= len(labels) || lp.GetName() != labels[i*2] || lp.GetValue() != labels[i*2+1] {
					continue metric
				}
			}
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
			return m.Counter.GetValue()
		}
	}
	return 0
}

func (f *fixture) waitFor(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("after 60s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (f *fixture) activeWaits(n int) {
	f.t.Helper()
	f.waitFor(fmt.Sprintf("%d waits active (have %v)", n, f.gauge("hitl_waits_active")),
		func() bool { return f.gauge("hitl_waits_active") == float64(n) })
}

// consumers counts the consumers of the account and of the two buckets' streams.
func (f *fixture) consumers() (account, requests, runs int) {
	f.t.Helper()
	ctx := context.Background()
	ai, err := f.js.AccountInfo(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	count := func(stream string) int {
		s, err := f.js.Stream(ctx, stream)
		if err != nil {
			f.t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		return info.State.Consumers
	}
	return ai.Consumers, count("KV_" + streams.BucketRequests), count("KV_" + streams.BucketRuns)
}

// rawWait is a long-poll on a bare connection: no client goroutine per wait, so that 2,000 of
// them cost the test process little beyond the server side being measured (and stay under
// the race detector's limit on goroutines).
type rawWait struct{ conn net.Conn }

func (f *fixture) openWait(path, token string) *rawWait {
	f.t.Helper()
	conn, err := net.Dial("tcp", f.srv.Listener.Addr().String())
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { conn.Close() })
	auth := ""
	if token != "" {
		auth = "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: hitl\r\n%sConnection: close\r\n\r\n", path, auth); err != nil {
		f.t.Fatal(err)
	}
	return &rawWait{conn: conn}
}

func (w *rawWait) read(t *testing.T, out any) int {
	t.Helper()
	_ = w.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(w.conn), nil)
	if err != nil {
		t.Fatalf("read the wait's answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("wait answer %d %s: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode
}

func TestTwoThousandWaitsCreateNoConsumers(t *testing.T) {
	const (
		nRequests, perRequest = 100, 15 // 1,500 waits on requests
		nRuns, perRun         = 50, 10  // 500 on runs
		total                 = nRequests*perRequest + nRuns*perRun
	)
	raiseFileLimit(t, 2*total+500) // both ends of every connection live in this process
	f := setupWaits(t, respond.Config{MaxWaits: total, MaxWaitsPerCaller: total})
	reqs := make([]*events.Request, nRequests)
	for i := range reqs {
		reqs[i] = f.createRequest()
	}
	runs := make([]string, nRuns)
	for i := range runs {
		runs[i] = f.startRun()
	}
	acc0, rq0, rn0 := f.consumers()

	var before, during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var reqWaits, runWaits []*rawWait
	for _, r := range reqs {
		for range perRequest {
			reqWaits = append(reqWaits, f.openWait("/v1/requests/"+r.ID+"/wait?timeout=5m", tokenA))
		}
	}
	for _, id := range runs {
		for range perRun {
			runWaits = append(runWaits, f.openWait("/v1/runs/"+id+"/wait?timeout=5m", tokenA))
		}
	}
	f.activeWaits(total)
	runtime.GC()
	runtime.ReadMemStats(&during)
	perWait := (int64(during.HeapInuse+during.StackInuse) - int64(before.HeapInuse+before.StackInuse)) / total
	t.Logf("memory per wait: %d bytes (Go heap and stacks of both ends of the connection, the handler and its waiter)", perWait)
	if perWait > 64<<10 {
		t.Errorf("a wait costs %d bytes, over the 64 KiB bound", perWait)
	}

	// One watch per bucket, whatever the number of waits.
	acc, rq, rn := f.consumers()
	if rq != rq0+1 || rn != rn0+1 || acc != acc0+2 {
		t.Fatalf("consumers during %d waits: account %d→%d, requests bucket %d→%d, runs bucket %d→%d; want one more per bucket",
			total, acc0, acc, rq0, rq, rn0, rn)
	}

	// The rest of the API answers meanwhile.
	if code, _ := f.call("GET", "/healthz", "", nil, nil); code != 200 {
		t.Fatalf("healthz during the waits: %d", code)
	}
	var list struct{ Count int }
	if code, _ := f.call("GET", "/v1/requests?status=pending&limit=500", tokenB, nil, &list); code != 200 || list.Count != nRequests {
		t.Fatalf("list during the waits: %d, %d pending", code, list.Count)
	}
	extra := f.createRequest()
	var got events.Request
	if code, _ := f.call("GET", "/v1/requests/"+extra.ID, tokenB, nil, &got); code != 200 || got.ID != extra.ID {
		t.Fatalf("read during the waits: %d %+v", code, got)
	}
	var v respond.RunView
	if code, _ := f.call("GET", "/v1/runs/"+runs[0], tokenB, nil, &v); code != 200 || v.ID != runs[0] {
		t.Fatalf("read run during the waits: %d", code)
	}
	// A wait that need not wait is answered at the cap too.
	if code, _ := f.call("GET", "/v1/requests/"+extra.ID+"/wait?timeout=0s", tokenB, nil, &got); code != 200 {
		t.Fatalf("wait with timeout 0 at the cap: %d", code)
	}

	// Past the cap: 429, Retry-After, the API's error body.
	var e struct {
		Error struct{ Code, Message string }
	}
	code, h := f.call("GET", "/v1/requests/"+extra.ID+"/wait?timeout=5m", tokenB, nil, &e)
	if code != http.StatusTooManyRequests || h.Get("Retry-After") != "5" || e.Error.Code != "too_many_waits" {
		t.Fatalf("past the cap: %d, Retry-After %q, %+v", code, h.Get("Retry-After"), e)
	}
	if n := f.gauge("hitl_waits_refused_total", "limit", "total"); n != 1 {
		t.Fatalf("hitl_waits_refused_total{limit=total} = %v", n)
	}

	// Every wait answers once its request resolves or its run finishes.
	for _, r := range reqs {
		f.answer(r.ID)
	}
	for _, id := range runs {
		if code, _ := f.call("POST", "/v1/runs/"+id+"/cancel", tokenA, nil, nil); code != 202 {
			t.Fatalf("cancel run: %d", code)
		}
	}
	for _, w := range reqWaits {
		var r events.Request
		if code := w.read(t, &r); code != 200 || r.Status != events.StatusAnswered {
			t.Fatalf("request wait: %d %s", code, r.Status)
		}
	}
	for _, w := range runWaits {
		var r respond.RunView
		if code := w.read(t, &r); code != 200 || r.Status != events.RunCancelled {
			t.Fatalf("run wait: %d %s", code, r.Status)
		}
	}
	f.activeWaits(0)
}

func TestWaitCapPerCaller(t *testing.T) {
	f := setupWaits(t, respond.Config{MaxWaitsPerCaller: 2})
	r1, r2, r3 := f.createRequest(), f.createRequest(), f.createRequest()
	a1 := f.openWait("/v1/requests/"+r1.ID+"/wait?timeout=5m", tokenA)
	f.openWait("/v1/requests/"+r2.ID+"/wait?timeout=5m", tokenA)
	f.activeWaits(2)

	var e struct{ Error struct{ Code string } }
	code, h := f.call("GET", "/v1/requests/"+r3.ID+"/wait?timeout=5m", tokenA, nil, &e)
	if code != 429 || h.Get("Retry-After") != "5" || e.Error.Code != "too_many_waits" {
		t.Fatalf("third wait of one token: %d %q %+v", code, h.Get("Retry-After"), e)
	}
	if code, _ := f.call("GET", "/v1/runs/"+f.startRun()+"/wait?timeout=5m", tokenA, nil, &e); code != 429 {
		t.Fatalf("a run wait counts against the same caller: %d", code)
	}
	// Another token is another caller.
	var got events.Request
	if code, _ := f.call("GET", "/v1/requests/"+r3.ID+"/wait?timeout=10ms", tokenB, nil, &got); code != 200 || got.Status != events.StatusPending {
		t.Fatalf("another token's wait: %d %s", code, got.Status)
	}

	// Every link sent to one subject counts as one caller, whatever the request.
	link := func(r *events.Request, subject string) string {
		tok, err := linktoken.Sign([]byte(waitLinkSecret), linktoken.Claims{RequestID: r.ID, Subject: subject, Expires: time.Now().Add(time.Hour).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		return "/v1/requests/" + r.ID + "/wait?timeout=5m&token=" + url.QueryEscape(tok)
	}
	f.openWait(link(r1, "webhook:bot"), "")
	f.openWait(link(r2, "webhook:bot"), "")
	f.activeWaits(4)
	if code, _ := f.call("GET", link(r3, "webhook:bot"), "", nil, &e); code != 429 {
		t.Fatalf("third wait of one link subject: %d", code)
	}
	if n := f.gauge("hitl_waits_refused_total", "limit", "caller"); n != 3 {
		t.Fatalf("hitl_waits_refused_total{limit=caller} = %v, want 3", n)
	}

	// A wait that ends frees its slot.
	f.answer(r1.ID)
	var r events.Request
	if code := a1.read(t, &r); code != 200 || r.Status != events.StatusAnswered {
		t.Fatalf("first wait: %d %s", code, r.Status)
	}
	f.activeWaits(2) // both waits on r1 ended: token A's and the link's
	f.openWait("/v1/requests/"+r3.ID+"/wait?timeout=5m", tokenA)
	f.activeWaits(3)
}

// Without API tokens (dev) a caller is its IP address, whatever Authorization it sends.
func TestWaitCapPerAddressWithoutTokens(t *testing.T) {
	f := setupWaits(t, respond.Config{Tokens: []string{}, MaxWaitsPerCaller: 1})
	r1, r2 := f.createRequest(), f.createRequest()
	f.openWait("/v1/requests/"+r1.ID+"/wait?timeout=5m", "made-up-1")
	f.activeWaits(1)
	var e struct{ Error struct{ Code string } }
	if code, _ := f.call("GET", "/v1/requests/"+r2.ID+"/wait?timeout=5m", "made-up-2", nil, &e); code != 429 || e.Error.Code != "too_many_waits" {
		t.Fatalf("a second wait from the same address: %d %+v", code, e)
	}
}

// A wait with the longest timeout answers as soon as its request resolves or its run settles:
// the client gives up after 60s, far before the 5m wait.
func TestWaitAnswersWhenTheRequestResolves(t *testing.T) {
	f := setupWaits(t, respond.Config{})
	req := f.createRequest()
	w := f.openWait("/v1/requests/"+req.ID+"/wait?timeout=5m", tokenA)
	run := f.startRun()
	rw := f.openWait("/v1/runs/"+run+"/wait?timeout=5m", tokenA)
	f.activeWaits(2)
	f.answer(req.ID)
	var got events.Request
	if code := w.read(t, &got); code != 200 || got.Status != events.StatusAnswered || got.Response == nil {
		t.Fatalf("wait: %d %+v", code, got)
	}
	if code, _ := f.call("POST", "/v1/runs/"+run+"/cancel", tokenA, nil, nil); code != 202 {
		t.Fatalf("cancel: %d", code)
	}
	var v respond.RunView
	if code := rw.read(t, &v); code != 200 || v.Status != events.RunCancelled || v.Pending == nil {
		t.Fatalf("run wait: %d %+v", code, v)
	}
	f.activeWaits(0)
}

// afterGet is a real bucket that runs a hook once, after a Get has read its value and before
// it returns: the hook changes the record, so the reader holds a stale copy.
type afterGet struct {
	jetstream.KeyValue
	mu   sync.Mutex
	hook func(key string)
}

func (a *afterGet) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	e, err := a.KeyValue.Get(ctx, key)
	a.mu.Lock()
	hook := a.hook
	a.hook = nil
	a.mu.Unlock()
	if hook != nil {
		hook(key)
	}
	return e, err
}

func (a *afterGet) arm(hook func(string)) { a.mu.Lock(); a.hook = hook; a.mu.Unlock() }

// A resolution that lands after the wait's first read and before it registers is not
// missed: the wait reads again once registered. (A missed one would leave the wait pending
// until its timeout, and it would answer "pending".)
func TestAResolutionBeforeTheRegistrationIsNotMissed(t *testing.T) {
	var reqs, runs *afterGet
	f := setupWrapped(t, respond.Config{}, func(b streams.Buckets) streams.Buckets {
		reqs, runs = &afterGet{KeyValue: b.Requests}, &afterGet{KeyValue: b.Runs}
		b.Requests, b.Runs = reqs, runs
		return b
	})
	warm := f.createRequest() // the hubs are armed already: only the handler's order counts
	w := f.openWait("/v1/requests/"+warm.ID+"/wait?timeout=50s", tokenA)
	rw := f.openWait("/v1/runs/"+f.startRun()+"/wait?timeout=50s", tokenA)
	f.activeWaits(2)
	w.conn.Close()
	rw.conn.Close()
	f.activeWaits(0)

	req := f.createRequest()
	reqs.arm(func(string) { f.answer(req.ID) })
	var got events.Request
	if code, _ := f.call("GET", "/v1/requests/"+req.ID+"/wait?timeout=50s", tokenA, nil, &got); code != 200 || got.Status != events.StatusAnswered {
		t.Fatalf("request wait: %d %s", code, got.Status)
	}

	run := f.startRun()
	runs.arm(func(string) {
		if code, _ := f.call("POST", "/v1/runs/"+run+"/cancel", tokenA, nil, nil); code != 202 {
			t.Errorf("cancel: %d", code)
		}
	})
	var v respond.RunView
	if code, _ := f.call("GET", "/v1/runs/"+run+"/wait?timeout=50s", tokenA, nil, &v); code != 200 || v.Status != events.RunCancelled {
		t.Fatalf("run wait: %d %s", code, v.Status)
	}
}

// Answers racing waits, without injected order: each wait answers "answered".
func TestAResolutionRacingTheWaitIsNotMissed(t *testing.T) {
	f := setupWaits(t, respond.Config{})
	for range 40 {
		req := f.createRequest()
		var wg sync.WaitGroup
		var got events.Request
		var code int
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _ = f.call("GET", "/v1/requests/"+req.ID+"/wait?timeout=50s", tokenA, nil, &got)
		}()
		f.answer(req.ID)
		wg.Wait()
		if code != 200 || got.Status != events.StatusAnswered {
			t.Fatalf("wait racing the answer: %d %s", code, got.Status)
		}
	}
}

// Close (the server shutting down) answers the waits at once, each with its state as it stands.
func TestCloseAnswersTheWaits(t *testing.T) {
	f := setupWaits(t, respond.Config{})
	req := f.createRequest()
	w := f.openWait("/v1/requests/"+req.ID+"/wait?timeout=5m", tokenA)
	rw := f.openWait("/v1/runs/"+f.startRun()+"/wait?timeout=5m", tokenA)
	f.activeWaits(2)
	f.api.Close()
	var got events.Request
	if code := w.read(t, &got); code != 200 || got.Status != events.StatusPending {
		t.Fatalf("wait at close: %d %s", code, got.Status)
	}
	var v respond.RunView
	if code := rw.read(t, &v); code != 200 || v.Status != events.RunQueued {
		t.Fatalf("run wait at close: %d %s", code, v.Status)
	}
}

func TestNegativeWaitCapsAreRefused(t *testing.T) {
	env := natstest.Single(t)
	_, js := env.Connect(t)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []respond.Config{{MaxWaits: -1}, {MaxWaitsPerCaller: -1}} {
		cfg.Store, cfg.LinkSecret = st, []byte(waitLinkSecret)
		if _, err := respond.New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
