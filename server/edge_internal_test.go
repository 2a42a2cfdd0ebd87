package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/internal/apitoken"
	"github.com/hitl-dev/hitl/routing"
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
