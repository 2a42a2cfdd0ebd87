package routing_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/routing"
)

func routes(t *testing.T, groups map[string][]string) *routing.Routes {
	t.Helper()
	r, err := routing.New([]string{"slack", "email", "webhook"}, groups, map[string]func(string) error{
		"webhook": func(name string) error {
			if name != "ops-bot" {
				return os.ErrNotExist
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCheck(t *testing.T) {
	r := routes(t, map[string][]string{"finance": {"slack:#finance", "email:cfo@example.com"}})
	for _, ok := range []string{"slack:#ops", "slack:@U123", "email:a@b.c", "webhook:ops-bot", "group:finance"} {
		if err := r.Check(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for bad, want := range map[string]string{
		"ops":               "not of the form kind:target",
		"slack:ops":         "#channel or @USERID",
		"email:not-an-addr": "not an email address",
		"email:A <a@b.c>":   "not an email address",
		"webhook:ghost":     "assignee \"webhook:ghost\"",
		"pager:oncall":      "the pager channel is not configured",
		"group:nobody":      "no group named \"nobody\"",
	} {
		err := r.Check(bad)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error containing %q", bad, err, want)
		}
	}
}

func TestBadGroupsFailAtStart(t *testing.T) {
	for name, groups := range map[string]map[string][]string{
		"empty":          {"g": {}},
		"nested":         {"a": {"group:b"}, "b": {"email:x@y.z"}},
		"unknown kind":   {"g": {"pager:x"}},
		"unknown target": {"g": {"webhook:ghost"}},
	} {
		if _, err := routing.New([]string{"email", "webhook"}, groups, map[string]func(string) error{
			"webhook": func(string) error { return os.ErrNotExist },
		}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestExpandAndAllows(t *testing.T) {
	r := routes(t, map[string][]string{"finance": {"slack:#finance", "email:cfo@example.com"}})
	got := r.Expand([]string{"group:finance", "email:cfo@example.com", "webhook:ops-bot"})
	if strings.Join(got, ",") != "slack:#finance,email:cfo@example.com,webhook:ops-bot" {
		t.Fatalf("Expand = %v", got)
	}
	req := &events.Request{Assignees: []string{"group:finance"}}
	for ids, want := range map[string]bool{
		"email:cfo@example.com":     true,
		"EMAIL:CFO@example.com":     true,
		"email:mallory@example.com": false,
		"slack:@U9,slack:#finance":  true, // a click in the channel asked
		"slack:@U9,slack:#random":   false,
		routing.Operator:            true,
		"webhook:ops-bot":           false,
	} {
		if got := r.Allows(req, strings.Split(ids, ",")...); got != want {
			t.Errorf("Allows(%s) = %v, want %v", ids, got, want)
		}
	}
	narrowed := &events.Request{Assignees: []string{"group:finance"}, Approvers: []string{"slack:@U1"}}
	if r.Allows(narrowed, "email:cfo@example.com") || !r.Allows(narrowed, "slack:@U1") {
		t.Error("approvers do not narrow who may answer")
	}
	if !r.Allows(&events.Request{}, "email:anyone@example.com") {
		t.Error("a request asked of nobody in particular is open to every authenticated caller")
	}
	// Approvers naming a group that no longer exists leave the request to operators.
	gone := &events.Request{Assignees: []string{"group:finance"}, Approvers: []string{"group:removed"}}
	if r.Allows(gone, "email:cfo@example.com") || !r.Allows(gone, routing.Operator) {
		t.Error("approvers that expand to nobody opened the request to its assignees, or closed it to operators")
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hitl.yaml")
	t.Setenv("TEST_SLACK_TOKEN", "xoxb-from-env")
	if err := os.WriteFile(path, []byte(`
public_url: https://hitl.example.com
slack:
  bot_token: ${TEST_SLACK_TOKEN}
email:
  from: file <file@example.com>
webhooks:
  ops-bot: http://127.0.0.1:9000/x
groups:
  finance: [email:cfo@example.com]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := routing.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.PublicURL != "https://hitl.example.com" || f.Webhooks["ops-bot"] == "" || len(f.Groups["finance"]) != 1 {
		t.Fatalf("Load = %+v", f)
	}
	// Each surface's section is kept for the surface to parse, ${NAME} expanded.
	var slack struct {
		BotToken string `yaml:"bot_token"`
	}
	if n := f.Section("slack"); n == nil || n.Decode(&slack) != nil || slack.BotToken != "xoxb-from-env" {
		t.Fatalf("slack section: %+v", slack)
	}
	if f.Section("email") == nil || f.Section("telegram") != nil {
		t.Fatal("sections: email missing, or telegram present")
	}
	t.Setenv("HITL_PUBLIC_URL", "https://env.example.com")
	if f, err = routing.Load(path); err != nil || f.PublicURL != "https://env.example.com" {
		t.Fatalf("HITL_PUBLIC_URL does not win: %+v %v", f, err)
	}
	if err := os.WriteFile(path, []byte("groups: [not, a, map]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := routing.Load(path); err == nil {
		t.Fatal("groups of the wrong type were accepted")
	}
	if _, err := routing.Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("a missing file was accepted")
	}
}

// TestAllowPrivateTargets: the allow-list is a YAML list or one comma-separated string (what
// a ${NAME} reference expands to); a mapping is an error. The shipped example loads.
func TestAllowPrivateTargets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hitl.yaml")
	t.Setenv("TEST_ALLOW", "10.0.0.0/8, bot.internal")
	for file, want := range map[string]string{
		"allow_private_targets: [127.0.0.1, \"::1\"]\n":           "127.0.0.1|::1",
		"allow_private_targets: ${TEST_ALLOW}\n":                  "10.0.0.0/8|bot.internal",
		"allow_private_targets:\n  - 192.168.0.0/16\n  - \"*\"\n": "192.168.0.0/16|*",
		"public_url: https://x\n":                                 "",
	} {
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := routing.Load(path)
		if err != nil || strings.Join(f.AllowPrivateTargets, "|") != want {
			t.Errorf("%q: %q %v, want %q", file, f.AllowPrivateTargets, err, want)
		}
	}
	if err := os.WriteFile(path, []byte("allow_private_targets: {a: b}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := routing.Load(path); err == nil {
		t.Error("a mapping was accepted as the allow-list")
	}
	f, err := routing.Load("../hitl.example.yaml")
	if err != nil || strings.Join(f.AllowPrivateTargets, ",") != "127.0.0.1" {
		t.Fatalf("hitl.example.yaml: %+v %v", f, err)
	}
}
