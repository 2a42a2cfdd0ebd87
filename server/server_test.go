package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/server"
)

const (
	secret   = "server-test-link-secret"
	apiToken = "server-test-api-token"
)

func TestFlagsReadTheEnvironment(t *testing.T) {
	t.Setenv("HITL_NATS", "nats://10.1.2.3:4222")
	t.Setenv("HITL_HTTP", "127.0.0.1:9999")
	t.Setenv("HITL_API_TOKENS", "first-api-token-1, ci:read:second-api-token")
	t.Setenv("HITL_LINK_SECRET", secret)
	t.Setenv("HITL_WORKERS", "7")
	t.Setenv("HITL_MAX_WAITS", "20000")
	t.Setenv("HITL_DATA", "/tmp/somewhere")
	t.Setenv("HITL_RATE_LIMIT_ANSWERS", "50/10s")
	t.Setenv("HITL_TRUSTED_PROXIES", "10.0.0.0/8")
	t.Setenv("HITL_HTTP_READ_TIMEOUT", "7s")
	t.Setenv("HITL_RETENTION", "168h")
	d := &server.Dev{}
	if err := server.Parse("test", d, []string{"--replicas", "3"}); err != nil {
		t.Fatal(err)
	}
	if d.NATS != "nats://10.1.2.3:4222" || d.HTTP != "127.0.0.1:9999" || d.Workers != 7 || d.Replicas != 3 ||
		d.LinkSecret != secret || d.Data != "/tmp/somewhere" || strings.Join(d.APITokens, ",") != "first-api-token-1,ci:read:second-api-token" ||
		d.MaxWaits != 20000 || d.MaxWaitsPerCaller != 1000 || d.Retention != 168*time.Hour {
		t.Fatalf("config from the environment: %+v", d)
	}
	if d.RateLimits.Answers != "50/10s" || d.RateLimits.Login != server.DefaultRateLimitLogin || d.RateLimits.TrustedProxies != "10.0.0.0/8" ||
		d.HTTPTimeouts.Read != 7*time.Second || d.HTTPTimeouts.Write != time.Minute {
		t.Fatalf("limits and timeouts from the environment: %+v %+v", d.RateLimits, d.HTTPTimeouts)
	}
	// A flag wins over its environment twin.
	o := &server.Orchestrator{}
	if err := server.Parse("test", o, []string{"--http", "127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	if o.HTTP != "127.0.0.1:1" {
		t.Fatalf("flag did not win: %q", o.HTTP)
	}
}

func TestBadFlagsAreErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--replicas", "2"},
		{"--workers", "0"},
		{"--max-waits", "0"},
		{"--max-waits-per-caller", "many"},
		{"--log-level", "loud"},
		{"--webhooks", "no-equals-sign"},
		{"--rate-limit-login", "ten"},
		{"--rate-limit-clients", "0"},
		{"--trusted-proxies", "somewhere"},
		{"--http-read-timeout", "0s"},
		{"--http-idle-timeout", "soon"},
		{"--retention", "0s"},
		{"--retention", "1.5s"},
		{"--retention", "100000h"},
		{"--retention", "a month"},
		{"--no-such-flag"},
	} {
		err := server.Parse("test", &server.Notifier{}, args)
		if err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	if err := server.Parse("test", &server.Notifier{}, []string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v, want flag.ErrHelp", err)
	}
}

func TestRolesRefuseIncompleteConfig(t *testing.T) {
	ctx := context.Background()
	quiet := server.Config{Logger: slog.New(slog.DiscardHandler), HTTP: "127.0.0.1:0"}
	cases := map[string]struct {
		role server.Role
		want string
	}{
		"orchestrator without workflows": {&server.Orchestrator{Config: quiet}, "Workflows is required"},
		"notifier without link secret":   {&server.Notifier{Config: quiet}, "HITL_LINK_SECRET"},
		"responder without tokens": {&server.Responder{Config: func() server.Config {
			c := quiet
			c.LinkSecret = secret
			return c
		}()}, "HITL_API_TOKENS"},
		"responder with a short token": {&server.Responder{Config: func() server.Config {
			c := quiet
			c.LinkSecret, c.APITokens = secret, []string{"ci:read:short-token"}
			return c
		}()}, "HITL_API_TOKENS (then the config's api_tokens): tokens must be at least 16 characters: ci is shorter"},
		"responder with a short bare token": {&server.Responder{Config: func() server.Config {
			c := quiet
			c.LinkSecret, c.APITokens = secret, []string{apiToken, "tok"}
			return c
		}()}, "token-2 is shorter"},
		"responder with an unknown scope": {&server.Responder{Config: func() server.Config {
			c := quiet
			c.LinkSecret, c.APITokens = secret, []string{"ci:root:" + apiToken}
			return c
		}()}, `scope "root" is not read, answer or admin`},
		"notifier with a bad rate limit": {&server.Notifier{Config: func() server.Config {
			c := quiet
			c.LinkSecret, c.RateLimits.Login = secret, "ten a minute"
			return c
		}()}, "HITL_RATE_LIMIT_LOGIN"},
		"bad replicas": {&server.Orchestrator{Config: func() server.Config {
			c := quiet
			c.Replicas = 2
			return c
		}(), Workflows: hitl.NewRegistry()}, "replicas"},
		"retention under a second": {&server.Orchestrator{Config: func() server.Config {
			c := quiet
			c.Retention = 500 * time.Millisecond
			return c
		}(), Workflows: hitl.NewRegistry()}, "HITL_RETENTION"},
		"public URL without a scheme": {&server.Orchestrator{Config: func() server.Config {
			c := quiet
			c.PublicURL = "hitl.example.com"
			return c
		}(), Workflows: hitl.NewRegistry()}, "HITL_PUBLIC_URL"},
	}
	for name, tc := range cases {
		err := tc.role.Run(ctx)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, tc.want)
		}
	}
}

func TestWithDefaults(t *testing.T) {
	c := server.Config{}.WithDefaults()
	if c.NATS != server.DefaultNATS || c.HTTP != server.DefaultHTTP || c.Replicas != 1 || c.Workers != server.DefaultWorkers ||
		c.LogLevel != "info" || c.JobWorkflow != "approval-gate" || c.Logger == nil ||
		c.RateLimits.Login != "10/1m" || c.RateLimits.AuthFailures != "20/1m" || c.RateLimits.Answers != "300/1m" ||
		c.RateLimits.Interactions != "600/1m" || c.RateLimits.MaxClients != 10_000 ||
		c.HTTPTimeouts != (server.HTTPTimeouts{ReadHeader: 10 * time.Second, Read: 30 * time.Second, Write: time.Minute, Idle: 2 * time.Minute}) ||
		c.Retention != 720*time.Hour {
		t.Fatalf("defaults: %+v", c)
	}
	if d := (server.Dev{}).WithDefaults(); d.Data != server.DefaultData || d.Workflows == nil || d.Workers != server.DefaultWorkers {
		t.Fatalf("dev defaults: %+v", d)
	}
	if o := (server.Orchestrator{Config: server.Config{Workers: 3}}).WithDefaults(); o.Workers != 3 || o.HTTP != server.DefaultHTTP {
		t.Fatalf("orchestrator defaults: %+v", o.Config)
	}
}

// The three roles as separate services on one JetStream, each with its own /healthz and
// /metrics: a run of a workflow only the orchestrator hosts completes over the responder's
// REST API.
func TestRolesServeTogether(t *testing.T) {
	env := natstest.Single(t)
	reg := hitl.NewRegistry()
	hitl.Register(reg, "greet", func(ctx context.Context, in struct{ Name string }) (string, error) {
		ok, err := hitl.Ask[bool](ctx, hitl.Request{Title: "Greet " + in.Name + "?"})
		if err != nil || !ok {
			return "", err
		}
		return "hello " + in.Name, nil
	})
	base := server.Config{NATS: env.URL, HTTP: "127.0.0.1:0", LinkSecret: secret, APITokens: []string{apiToken},
		Logger: slog.New(slog.NewTextHandler(tWriter{t}, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := map[string]string{}
	done := make(chan error, 3)
	for name, role := range map[string]server.Role{
		"orchestrator": &server.Orchestrator{Config: base, Workflows: reg},
		"notifier":     &server.Notifier{Config: base},
		"responder":    &server.Responder{Config: base},
	} {
		ready := make(chan string, 1)
		setReady(role, func(l server.Listening) { ready <- l.HTTP.String() })
		go func() { done <- role.Run(ctx) }()
		select {
		case addrs[name] = <-ready:
		case err := <-done:
			t.Fatalf("%s: %v", name, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("%s did not start", name)
		}
	}
	t.Cleanup(func() {
		cancel()
		for range 3 {
			if err := <-done; err != nil {
				t.Errorf("stop: %v", err)
			}
		}
	})
	for name, addr := range addrs {
		if code, body := call(t, "GET", "http://"+addr+"/healthz", ""); code != 200 || !strings.Contains(body, "ok") {
			t.Errorf("%s /healthz: %d %s", name, code, body)
		}
		if code, body := call(t, "GET", "http://"+addr+"/readyz", ""); code != 200 || !strings.Contains(body, `"ready"`) {
			t.Errorf("%s /readyz: %d %s", name, code, body)
		}
		if code, body := call(t, "GET", "http://"+addr+"/metrics", ""); code != 200 || !strings.Contains(body, "hitl_") {
			t.Errorf("%s /metrics: %d", name, code)
		}
	}
	// Every role refuses cross-site POSTs, and, listening on loopback, foreign Host names.
	for name, addr := range addrs {
		if code, body := call(t, "POST", "http://"+addr+"/v1/runs", `{"workflow":"greet","input":{"Name":"Eve"}}`,
			"Origin", "https://evil.example"); code != http.StatusForbidden || !strings.Contains(body, "cross_origin") {
			t.Errorf("%s, cross-site POST: %d %s", name, code, body)
		}
		if code, body := call(t, "GET", "http://"+addr+"/metrics", "", "Host", "evil.example"); code != http.StatusMisdirectedRequest {
			t.Errorf("%s, foreign Host: %d %s", name, code, body)
		}
	}
	api := "http://" + addrs["responder"]
	if code, body := call(t, "POST", api+"/v1/runs", `{"workflow":"greet","input":{"Name":"Eve"}}`,
		"Content-Type", "text/plain"); code != http.StatusUnsupportedMediaType || !strings.Contains(body, "application/json") {
		t.Errorf("text/plain POST: %d %s", code, body)
	}
	code, body := call(t, "POST", api+"/v1/runs", `{"workflow":"greet","input":{"Name":"Ada"}}`)
	if code != http.StatusAccepted && code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("start run: %d %s", code, body)
	}
	var run struct{ ID string }
	_ = json.Unmarshal([]byte(body), &run)
	var reqID string
	waitFor(t, "the question", func() bool {
		_, body := call(t, "GET", api+"/v1/runs/"+run.ID, "")
		var r struct{ Pending []struct{ ID string } }
		_ = json.Unmarshal([]byte(body), &r)
		if len(r.Pending) > 0 {
			reqID = r.Pending[0].ID
		}
		return reqID != ""
	})
	if code, body := call(t, "POST", api+"/v1/requests/"+reqID+"/respond", `{"data":true}`); code != 200 {
		t.Fatalf("respond: %d %s", code, body)
	}
	waitFor(t, "the run to complete", func() bool {
		_, body := call(t, "GET", api+"/v1/runs/"+run.ID, "")
		return strings.Contains(body, `"completed"`) && strings.Contains(body, "hello Ada")
	})
}

func setReady(r server.Role, f func(server.Listening)) {
	switch r := r.(type) {
	case *server.Orchestrator:
		r.Ready = f
	case *server.Notifier:
		r.Ready = f
	case *server.Responder:
		r.Ready = f
	}
}

// call sends a request with the API token and a JSON body; hdr are more headers, name
// then value, "Host" among them.
func call(t *testing.T, method, url, body string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Each surface parses its own section of the routing file; a section that names no surface,
// a misspelt key and a half-configured surface all stop the service at start.
func TestRoutingFileSections(t *testing.T) {
	env := natstest.Single(t)
	for name, tc := range map[string]struct{ file, want string }{
		"unknown section":      {"slak:\n  bot_token: x\n", `section "slak" names no surface`},
		"misspelt key":         {"telegram:\n  token: x\n", "token"},
		"half a slack section": {"slack:\n  bot_token: xoxb-1\n", "HITL_SLACK_SIGNING_SECRET"},
		"a web section":        {"web:\n  title: x\n", "no settings in the routing file"},
	} {
		path := t.TempDir() + "/hitl.yaml"
		if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
			t.Fatal(err)
		}
		n := &server.Notifier{Config: server.Config{NATS: env.URL, HTTP: "127.0.0.1:0", LinkSecret: secret,
			ConfigFile: path, Logger: slog.New(slog.DiscardHandler)}}
		err := n.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
}

// The Host check follows where a responder listens and whether it needs tokens: on every
// interface with tokens any name reaches it (internal names, load balancers, probes); on
// every interface without tokens (--insecure) only IP addresses, localhost and the public
// URL's host do, since a DNS-rebinding page would need nothing else.
func TestHostCheck(t *testing.T) {
	env := natstest.Single(t)
	for name, tc := range map[string]struct {
		insecure bool
		host     string
		want     int
	}{
		"tokens, internal name":       {false, "hitl-responder.internal:8080", http.StatusOK},
		"insecure, internal name":     {true, "hitl-responder.internal:8080", http.StatusMisdirectedRequest},
		"insecure, public URL's host": {true, "hitl.example.com", http.StatusOK},
		"insecure, an IP address":     {true, "10.1.2.3:8080", http.StatusOK},
		"insecure, localhost":         {true, "localhost", http.StatusOK},
	} {
		t.Run(name, func(t *testing.T) {
			r := &server.Responder{Config: server.Config{NATS: env.URL, HTTP: ":0", LinkSecret: secret, Insecure: tc.insecure,
				PublicURL: "https://hitl.example.com/", Logger: slog.New(slog.NewTextHandler(tWriter{t}, nil))}}
			if !tc.insecure {
				r.APITokens = []string{apiToken}
			}
			port := portOf(serve(t, r, &r.Config))
			if code, body := call(t, "GET", "http://127.0.0.1:"+port+"/v1/requests", "", "Host", tc.host); code != tc.want {
				t.Errorf("GET /v1/requests, Host %s: %d %s", tc.host, code, body)
			}
		})
	}
}

// An orchestrator serves no API, only /metrics and the health checks: on every interface,
// without API tokens, Prometheus reaches it by whatever name it scrapes.
func TestOrchestratorMetricsAnyHost(t *testing.T) {
	env := natstest.Single(t)
	o := &server.Orchestrator{Config: server.Config{NATS: env.URL, HTTP: ":0", Logger: slog.New(slog.NewTextHandler(tWriter{t}, nil))},
		Workflows: hitl.NewRegistry()}
	port := portOf(serve(t, o, &o.Config))
	if code, body := call(t, "GET", "http://127.0.0.1:"+port+"/metrics", "", "Host", "hitl-orchestrator.internal:9101"); code != http.StatusOK {
		t.Errorf("GET /metrics by an internal name: %d %.200s", code, body)
	}
}

func portOf(a net.Addr) string {
	_, port, _ := net.SplitHostPort(a.String())
	return port
}

// TestEgressConfig: the allow-list comes from the environment, else the routing file; a
// literal loopback webhook target is refused at start without it; the callback secret is
// checked and must not be the webhook secret.
func TestEgressConfig(t *testing.T) {
	t.Setenv("HITL_ALLOW_PRIVATE_TARGETS", " 127.0.0.1/32, 10.0.0.0/8,bot.internal ")
	t.Setenv("HITL_CALLBACK_SECRET", "whsec_Y2FsbGJhY2stc2VjcmV0LWZvci10aGUtdGVzdHM=")
	n := &server.Notifier{}
	if err := server.Parse("test", n, nil); err != nil {
		t.Fatal(err)
	}
	if strings.Join(n.AllowPrivateTargets, ",") != "127.0.0.1/32,10.0.0.0/8,bot.internal" ||
		n.CallbackSecret != "whsec_Y2FsbGJhY2stc2VjcmV0LWZvci10aGUtdGVzdHM=" {
		t.Fatalf("from the environment: %q %q", n.AllowPrivateTargets, n.CallbackSecret)
	}

	env := natstest.Single(t)
	quiet := server.Config{NATS: env.URL, HTTP: "127.0.0.1:0", LinkSecret: secret, Logger: slog.New(slog.DiscardHandler)}
	const wh = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	for name, tc := range map[string]struct {
		cfg  func(*server.Config)
		want string
	}{
		"bad allow-list":      {func(c *server.Config) { c.AllowPrivateTargets = []string{"10.0.0.0/99"} }, "HITL_ALLOW_PRIVATE_TARGETS"},
		"bad callback secret": {func(c *server.Config) { c.CallbackSecret = "secret" }, "HITL_CALLBACK_SECRET"},
		"shared secret":       {func(c *server.Config) { c.CallbackSecret, c.WebhookSecret = wh, wh }, "must differ"},
		"bad webhook secret":  {func(c *server.Config) { c.WebhookSecret = "whsec_c2hvcnQ=" }, "HITL_WEBHOOK_SECRET"},
		"loopback webhook":    {func(c *server.Config) { c.Webhooks = map[string]string{"bot": "http://127.0.0.1:9/x"} }, "127.0.0.1 is a loopback address"},
		"metadata webhook":    {func(c *server.Config) { c.Webhooks = map[string]string{"bot": "http://169.254.169.254/"} }, "link-local"},
		"localhost webhook":   {func(c *server.Config) { c.Webhooks = map[string]string{"bot": "http://localhost:9/x"} }, "localhost is a loopback address"},
		"allowed, other prefix": {func(c *server.Config) {
			c.Webhooks = map[string]string{"bot": "http://[::1]:9/x"}
			c.AllowPrivateTargets = []string{"127.0.0.1"}
		}, "::1 is a loopback address"},
	} {
		c := quiet
		tc.cfg(&c)
		err := (&server.Notifier{Config: c}).Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}

	// The routing file's allow-list opens a loopback target; HITL_ALLOW_PRIVATE_TARGETS would win.
	path := t.TempDir() + "/hitl.yaml"
	file := "allow_private_targets: [127.0.0.1, \"::1\"]\nwebhooks:\n  bot: http://127.0.0.1:9/x\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	c := quiet
	c.ConfigFile = path
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan []string, 1)
	c.Ready = func(l server.Listening) { got <- l.AllowPrivateTargets; cancel() }
	if err := (&server.Notifier{Config: c}).Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err) // stopped at once: a consumer that had not started yet ends with ctx
	}
	if a := <-got; strings.Join(a, ",") != "127.0.0.1,::1" {
		t.Fatalf("allow-list in effect: %q", a)
	}
}

// Shutting down answers the long-polls in progress at once, with the state as it stands,
// rather than holding them (and the shutdown) for their timeout.
func TestShutdownAnswersTheLongPolls(t *testing.T) {
	env := natstest.Single(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &server.Responder{Config: server.Config{NATS: env.URL, HTTP: "127.0.0.1:0", LinkSecret: secret,
		APITokens: []string{apiToken}, Logger: slog.New(slog.NewTextHandler(tWriter{t}, nil))}}
	ready := make(chan string, 1)
	r.Ready = func(l server.Listening) { ready <- l.HTTP.String() }
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var api string
	select {
	case addr := <-ready:
		api = "http://" + addr
	case err := <-done:
		t.Fatal(err)
	}
	code, body := call(t, "POST", api+"/v1/requests", `{"title":"Ship?"}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var req struct{ ID, Status string }
	_ = json.Unmarshal([]byte(body), &req)
	type answer struct {
		code int
		body string
	}
	waited := make(chan answer, 1)
	go func() {
		hr, _ := http.NewRequest("GET", api+"/v1/requests/"+req.ID+"/wait?timeout=5m", nil)
		hr.Header.Set("Authorization", "Bearer "+apiToken)
		resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(hr)
		if err != nil {
			waited <- answer{0, err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		waited <- answer{resp.StatusCode, string(b)}
	}()
	waitFor(t, "the wait to be held", func() bool {
		_, body := call(t, "GET", api+"/metrics", "")
		return strings.Contains(body, "hitl_waits_active 1")
	})
	// A connection that never finishes its request holds the shutdown for a few seconds, so
	// the wait must be answered while the server is still shutting down, not after.
	slow, err := net.Dial("tcp", strings.TrimPrefix(api, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := slow.Write([]byte("GET /healthz HTTP/1.1\r\n")); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case a := <-waited:
		if a.code != 200 || !strings.Contains(a.body, `"status":"pending"`) {
			t.Fatalf("wait at shutdown: %d %s", a.code, a.body)
		}
	case err := <-done:
		t.Fatalf("the server stopped (%v) before it answered the wait", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("stop: %v", err)
	}
}
