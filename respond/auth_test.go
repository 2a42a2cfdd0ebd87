package respond_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/internal/ratelimit"
	"github.com/hitl-dev/hitl/respond"
	"github.com/hitl-dev/hitl/store"
)

const (
	linkSecret  = "respond-test-link-secret-0123456"
	readToken   = "read-token-0123456789"
	answerToken = "answer-token-0123456789"
	adminToken  = "admin-token-0123456789"
	bareToken   = "bare-token-0123456789"
)

var tokens = []string{"dash:read:" + readToken, "bot:answer:" + answerToken, "ops:admin:" + adminToken, bareToken}

// syncBuffer keeps logs for assertions.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type bundle struct {
	st   *store.Store
	url  string
	logs *syncBuffer
}

func setup(t *testing.T, cfg respond.Config) *bundle {
	t.Helper()
	env := natstest.Single(t)
	_, js := env.Connect(t)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cfg.Store, cfg.LinkSecret = st, []byte(linkSecret)
	cfg.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(logs, tWriter{t}), nil))
	if cfg.Tokens == nil {
		cfg.Tokens = tokens
	}
	api, err := respond.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &bundle{st: st, url: srv.URL, logs: logs}
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

type result struct {
	status int
	header http.Header
	body   map[string]any
}

func (r result) code() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func call(t *testing.T, method, url, token, body string) result {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return result{status: resp.StatusCode, header: resp.Header, body: v}
}

func (b *bundle) pending(t *testing.T) *events.Request {
	t.Helper()
	req := &events.Request{ID: uuid.NewString(), Title: "Deploy?", Input: input.Spec{Type: input.Approval}}
	if err := b.st.CreateRequest(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	return req
}

// Every endpoint with every scope: read looks, answer also answers, admin does everything.
// A refusal is 403 insufficient_scope and changes nothing.
func TestScopesPerEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, respond.Config{})
	req := b.pending(t)
	run, err := b.st.StartRun(context.Background(), "greet", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	answer := `{"data": {"approved": true}}`
	type row struct {
		method, path, body string
		need               string // the least scope that may call it
	}
	rows := []row{
		{"GET", "/v1/requests", "", "read"},
		{"GET", "/v1/requests/" + req.ID, "", "read"},
		{"GET", "/v1/requests/" + req.ID + "/wait?timeout=0s", "", "read"},
		{"GET", "/v1/runs/" + run.ID, "", "read"},
		{"GET", "/v1/runs/" + run.ID + "/wait?timeout=0s", "", "read"},
		{"GET", "/v1/export?since=2020-01-01T00:00:00Z&until=2030-01-01T00:00:00Z", "", "read"},
		{"POST", "/v1/requests/" + req.ID + "/respond", answer, "answer"},
		{"POST", "/v1/requests", `{"title": "t"}`, "admin"},
		{"POST", "/v1/requests/" + req.ID + "/cancel", `{}`, "admin"},
		{"POST", "/v1/runs", `{"workflow": "greet"}`, "admin"},
		{"POST", "/v1/runs/" + run.ID + "/cancel", `{}`, "admin"},
	}
	rank := map[string]int{"read": 1, "answer": 2, "admin": 3}
	scopes := []struct{ scope, token string }{{"read", readToken}, {"answer", answerToken}, {"admin", adminToken}}
	// Refusals first, while the request is pending: none may change it.
	for _, sc := range scopes {
		for _, r := range rows {
			if rank[sc.scope] >= rank[r.need] {
				continue
			}
			got := call(t, r.method, b.url+r.path, sc.token, r.body)
			if got.status != http.StatusForbidden || got.code() != "insufficient_scope" ||
				!strings.Contains(got.header.Get("WWW-Authenticate"), `scope="`+r.need+`"`) {
				t.Errorf("%s token, %s %s: %d %v %q, want 403 insufficient_scope", sc.scope, r.method, r.path, got.status, got.body, got.header.Get("WWW-Authenticate"))
			}
		}
	}
	if got, _, err := b.st.Request(context.Background(), req.ID); err != nil || got.Resolved() {
		t.Fatalf("a refused call changed the request: %+v %v", got, err)
	}
	// Then what each scope may do: never 401 or 403 (the answer itself may be 409 once
	// another scope answered first).
	for _, sc := range scopes {
		for _, r := range rows {
			if rank[sc.scope] < rank[r.need] {
				continue
			}
			got := call(t, r.method, b.url+r.path, sc.token, r.body)
			if got.status == http.StatusForbidden || got.status == http.StatusUnauthorized || got.status >= 500 {
				t.Errorf("%s token, %s %s: %d %v, want allowed", sc.scope, r.method, r.path, got.status, got.body)
			}
		}
	}
}

// A bare token (the form before scopes) is an admin and answers as "api"; a named token
// answers as its name.
func TestBareTokenIsAdminAndNamedTokenIsTheResponder(t *testing.T) {
	t.Parallel()
	b := setup(t, respond.Config{})
	if got := call(t, "POST", b.url+"/v1/runs", bareToken, `{"workflow": "greet"}`); got.status != http.StatusCreated {
		t.Fatalf("bare token starts a run: %d %v", got.status, got.body)
	}
	for token, want := range map[string]string{bareToken: "api", answerToken: "bot"} {
		req := b.pending(t)
		got := call(t, "POST", b.url+"/v1/requests/"+req.ID+"/respond", token, `{"data": {"approved": true}}`)
		resp, _ := got.body["response"].(map[string]any)
		if got.status != http.StatusOK || resp["responder"] != want {
			t.Errorf("answered with %s: %d %v, want responder %q", token, got.status, got.body, want)
		}
	}
	// The body's responder still wins, as documented.
	req := b.pending(t)
	got := call(t, "POST", b.url+"/v1/requests/"+req.ID+"/respond", answerToken, `{"data": {"approved": true}, "responder": "alice"}`)
	if resp, _ := got.body["response"].(map[string]any); resp["responder"] != "alice" {
		t.Errorf("responder from the body: %v", got.body)
	}
}

func TestBadTokensAreRefusedAtNew(t *testing.T) {
	_, err := respond.New(respond.Config{Store: &store.Store{}, LinkSecret: []byte(linkSecret), Tokens: []string{"ci:write:some-secret-0123456"}})
	if err == nil || !strings.Contains(err.Error(), "scope") || strings.Contains(err.Error(), "some-secret") {
		t.Fatalf("unknown scope: %v", err)
	}
}

// A refused bearer token is logged as a warning with the client's address, never the token;
// past the limit of refusals the client gets 429 with Retry-After, even with a good token,
// and recovers once the bucket refills.
func TestRefusedBearerIsLoggedAndLimited(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: time.Unix(1_000_000, 0)}
	failures := ratelimit.New(ratelimit.Config{Rate: ratelimit.Rate{Burst: 2, Per: time.Minute}, Now: clock.now})
	b := setup(t, respond.Config{AuthFailures: failures})
	const wrong = "wrong-token-guess-0123456789"
	for i := range 2 {
		if got := call(t, "GET", b.url+"/v1/requests", wrong, ""); got.status != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d", i+1, got.status)
		}
	}
	logs := b.logs.String()
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "bearer token refused") ||
		!strings.Contains(logs, "client=127.0.0.1") || !strings.Contains(logs, "remote=127.0.0.1:") {
		t.Errorf("the refusal was not logged with the client: %s", logs)
	}
	if strings.Contains(logs, wrong) {
		t.Errorf("the log shows the token: %s", logs)
	}
	for _, tok := range []string{wrong, adminToken} {
		got := call(t, "GET", b.url+"/v1/requests", tok, "")
		ra, err := strconv.Atoi(got.header.Get("Retry-After"))
		if got.status != http.StatusTooManyRequests || got.code() != "rate_limited" || err != nil || ra < 1 || ra > 30 {
			t.Fatalf("past the limit: %d %v Retry-After %q", got.status, got.body, got.header.Get("Retry-After"))
		}
	}
	// Callers without a credential are not counted or blocked: they only get 401.
	if got := call(t, "GET", b.url+"/v1/requests", "", ""); got.status != http.StatusUnauthorized {
		t.Errorf("no credential: %d", got.status)
	}
	clock.add(30 * time.Second)
	if got := call(t, "GET", b.url+"/v1/requests", adminToken, ""); got.status != http.StatusOK {
		t.Fatalf("after the refill: %d %v", got.status, got.body)
	}
	// A good token costs nothing.
	for range 5 {
		if got := call(t, "GET", b.url+"/v1/requests", readToken, ""); got.status != http.StatusOK {
			t.Fatalf("good token: %d", got.status)
		}
	}
}

// Answers through links count against Answers: past it 429, then recovered.
func TestLinkAnswersAreLimited(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: time.Unix(1_000_000, 0)}
	answers := ratelimit.New(ratelimit.Config{Rate: ratelimit.Rate{Burst: 2, Per: 10 * time.Second}, Now: clock.now})
	b := setup(t, respond.Config{Answers: answers})
	link := func(req *events.Request) string {
		tok, err := linktoken.Sign([]byte(linkSecret), linktoken.Claims{RequestID: req.ID, Subject: "webhook:bot",
			Expires: time.Now().Add(time.Hour).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		return b.url + "/v1/requests/" + req.ID + "/respond?token=" + tok
	}
	for i := range 2 {
		if got := call(t, "POST", link(b.pending(t)), "", `{"data": {"approved": true}}`); got.status != http.StatusOK {
			t.Fatalf("link answer %d: %d %v", i+1, got.status, got.body)
		}
	}
	req := b.pending(t)
	got := call(t, "POST", link(req), "", `{"data": {"approved": true}}`)
	if got.status != http.StatusTooManyRequests || got.code() != "rate_limited" || got.header.Get("Retry-After") == "" {
		t.Fatalf("third link answer: %d %v", got.status, got.body)
	}
	if r, _, _ := b.st.Request(context.Background(), req.ID); r.Resolved() {
		t.Fatal("a limited answer was recorded")
	}
	// Reading with the link is not an answer.
	if got := call(t, "GET", strings.Replace(link(req), "/respond", "", 1), "", ""); got.status != http.StatusOK {
		t.Errorf("reading with the link: %d", got.status)
	}
	clock.add(5 * time.Second)
	if got := call(t, "POST", link(req), "", `{"data": {"approved": true}}`); got.status != http.StatusOK {
		t.Fatalf("after the refill: %d %v", got.status, got.body)
	}
}

type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
