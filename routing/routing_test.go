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
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hitl.yaml")
	t.Setenv("TEST_SLACK_TOKEN", "xoxb-from-env")
	t.Setenv("HITL_EMAIL_FROM", "env <env@example.com>")
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
	if f.Slack.BotToken != "xoxb-from-env" || f.Email.From != "env <env@example.com>" || f.PublicURL != "https://hitl.example.com" ||
		f.Webhooks["ops-bot"] == "" || len(f.Groups["finance"]) != 1 {
		t.Fatalf("Load = %+v", f)
	}
	if err := os.WriteFile(path, []byte("slak:\n  bot_token: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := routing.Load(path); err == nil || !strings.Contains(err.Error(), "slak") {
		t.Fatalf("a misspelt section: %v", err)
	}
	if _, err := routing.Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("a missing file was accepted")
	}
}

func TestLoadTelegram(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hitl.yaml")
	t.Setenv("TEST_TELEGRAM_TOKEN", "123456:from-file")
	t.Setenv("HITL_TELEGRAM_SECRET_TOKEN", "secret-from-env-0123456789")
	if err := os.WriteFile(path, []byte(`
telegram:
  bot_token: ${TEST_TELEGRAM_TOKEN}
  secret_token: secret-from-file-0123456789
  api_url: http://127.0.0.1:9999
`), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := routing.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// The file's values, ${NAME} expanded; the environment wins where it is set.
	if tc := f.Telegram; tc.BotToken != "123456:from-file" || tc.SecretToken != "secret-from-env-0123456789" || tc.APIURL != "http://127.0.0.1:9999" {
		t.Fatalf("telegram section %+v", tc)
	}
	t.Setenv("HITL_TELEGRAM_BOT_TOKEN", "654321:from-env")
	t.Setenv("HITL_TELEGRAM_API_URL", "http://127.0.0.1:8888")
	if f, err = routing.Load(""); err != nil || f.Telegram.BotToken != "654321:from-env" || f.Telegram.APIURL != "http://127.0.0.1:8888" {
		t.Fatalf("from the environment alone: %+v, %v", f.Telegram, err)
	}
	if err := os.WriteFile(path, []byte("telegram:\n  token: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := routing.Load(path); err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("a misspelt key: %v", err)
	}
}
