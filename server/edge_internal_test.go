package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/internal/apitoken"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
)

// Tokens come from HITL_API_TOKENS, then the routing file's api_tokens (secrets from the
// environment); dev accepts short ones, every other role refuses them at start.
func TestAPITokensFromEnvironmentAndFile(t *testing.T) {
	t.Setenv("HITL_TEST_CI_TOKEN", "ci-token-from-env-0123456789")
	path := filepath.Join(t.TempDir(), "hitl.yaml")
	file := "api_tokens:\n  - name: ci\n    scope: read\n    token: ${HITL_TEST_CI_TOKEN}\n  - {name: ops, scope: admin, token: ops-token-in-file-0123456}\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := routing.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c := Config{APITokens: []string{"bare-env-token-0123456789"}}
	entries, err := c.apiTokens(f, false)
	if err != nil {
		t.Fatal(err)
	}
	toks, err := apitoken.Parse(entries)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, tk := range toks {
		got = append(got, tk.Name+"/"+string(tk.Scope)+"/"+tk.Secret)
	}
	want := "token-1/admin/bare-env-token-0123456789 ci/read/ci-token-from-env-0123456789 ops/admin/ops-token-in-file-0123456"
	if strings.Join(got, " ") != want {
		t.Fatalf("tokens %v, want %s", got, want)
	}

	short := Config{APITokens: []string{"dev-tok"}}
	if _, err := short.apiTokens(&routing.File{}, true); err != nil {
		t.Errorf("dev refused a short token: %v", err)
	}
	if _, err := short.apiTokens(&routing.File{}, false); err == nil || !strings.Contains(err.Error(), "HITL_API_TOKENS") {
		t.Errorf("a short token outside dev: %v", err)
	}
	for name, tc := range map[string]struct {
		file routing.File
		want string
	}{
		"unset variable": {routing.File{APITokens: []routing.APIToken{{Name: "ci", Scope: "read"}}}, "api_tokens[0] (ci): the token is empty"},
		"no scope":       {routing.File{APITokens: []routing.APIToken{{Name: "ci", Token: "x-0123456789abcdef"}}}, "name and scope are required"},
		"same name as an env token": {routing.File{APITokens: []routing.APIToken{{Name: "token-1", Scope: "read", Token: "y-0123456789abcdef"}}},
			`"token-1" is used twice`},
	} {
		if _, err := c.apiTokens(&tc.file, false); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	// An unknown key in an entry is an error, as everywhere in the file.
	if err := os.WriteFile(path, []byte("api_tokens:\n  - {name: ci, scope: read, token: x, role: admin}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := routing.Load(path); err == nil || !strings.Contains(err.Error(), "role") {
		t.Errorf("unknown key in api_tokens: %v", err)
	}
}

// Every surface's answer-taking endpoint gets its limit: Slack's and Telegram's
// interactions, the email links' POST, the inbox's forms. The first request passes to the
// surface (which refuses it for its own reasons: no signature, no token); the next ones
// are 429.
func TestSurfacesAreRateLimited(t *testing.T) {
	env := natstest.Single(t)
	_, js := env.Connect(t)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "hitl.yaml")
	file := "slack:\n  bot_token: xoxb-test\n  signing_secret: slack-signing-secret\n  api_url: http://127.0.0.1:1/api/\n" +
		"telegram:\n  bot_token: 123:abc\n  secret_token: telegram-secret-token\n  api_url: http://127.0.0.1:1\n" +
		"email:\n  smtp_url: smtp://127.0.0.1:1\n  from: hitl@example.com\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := routing.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	one := RateLimits{Login: "1/1h", AuthFailures: "1/1h", Answers: "1/1h", Interactions: "1/1h"}.WithDefaults()
	limits, err := one.build()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{LinkSecret: "surface-test-link-secret", PublicURL: "http://localhost:8080"}
	var routes *routing.Routes
	sys, err := buildSurfaces(deps{cfg: &cfg, file: f, store: st, log: slog.New(slog.DiscardHandler), routes: &routes, limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	sys.mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	// Slack and Telegram share the client's Interactions; the email links and the inbox
	// share its Answers.
	for _, group := range [][]string{{"/slack/interactions", "/telegram/webhook"},
		{"/email/act", "/inbox/requests/00000000-0000-4000-8000-000000000000"}} {
		for i, p := range []string{group[0], group[1], group[0]} {
			resp, err := http.Post(srv.URL+p, "application/x-www-form-urlencoded", strings.NewReader("payload=x"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			switch {
			case i == 0 && resp.StatusCode == http.StatusTooManyRequests:
				t.Errorf("%s: the first request was limited", p)
			case i > 0 && (resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == ""):
				t.Errorf("%s, request %d: %d Retry-After %q, want 429 with Retry-After", p, i+1, resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}
	}
}
