package server

import (
	"flag"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/surface/webhook"
)

// FuzzConfigFile reads a routing file (hitl.yaml) and builds every surface from it, as a
// process does at start. A file is refused with an error or gives a configuration that
// reads back the same after being written out again; the surfaces build from it or fail
// with an error, never a panic; and every group it defines is then a valid assignee.
func FuzzConfigFile(f *testing.F) {
	example, err := os.ReadFile("../hitl.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	for _, s := range []string{
		"", "{}", "null", "public_url: http://localhost:8080\n",
		"webhooks:\n  ops-bot: http://127.0.0.1:9000/hitl\ngroups:\n  finance:\n    - webhook:ops-bot\n",
		"groups:\n  g: []\n", "groups:\n  g:\n    - group:h\n", "groups:\n  g:\n    - email:not an address\n",
		"slack:\n  bot_token: xoxb-1\n", "slack:\n  bot_token: x\n  signing_secret: y\n  api_url: http://127.0.0.1:1/api/\n",
		"slack:\n  bot_tokn: x\n", "telegram:\n  bot_token: 1:x\n  secret_token: s\n", "email:\n  smtp_url: smtp://u:p@h:99999\n",
		"email:\n  smtp_url: smtp://127.0.0.1:2525?tls=none\n  from: hitl <h@example.com>\n", "web: {}\n", "nosuch: 1\n",
		"public_url: [1, 2]\n", "public_url: a\npublic_url: b\n", "slack: &a\n  bot_token: x\nemail: *a\n", "${HITL_FUZZ_UNSET}: x\n",
		"groups:\n  finance:\n    - slack:#finance\n    - email:cfo@example.com\n", "webhooks:\n  a: ftp://x\n", "? [a]\n: b\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := routing.Parse(b)
		if err != nil {
			if file != nil {
				t.Fatalf("Parse refused %q but returned %+v", b, file)
			}
			return
		}
		// What was read is written out and read back the same. The surface sections stay
		// as YAML nodes, which may alias each other's anchors, so they are left out.
		if !strings.Contains(string(b), "${") { // expansion does not survive a round trip
			out, err := yaml.Marshal(&routing.File{PublicURL: file.PublicURL, Webhooks: file.Webhooks, Groups: file.Groups})
			if err != nil {
				t.Fatalf("marshal %+v: %v", file, err)
			}
			again, err := routing.Parse(out)
			if err != nil {
				t.Fatalf("written out as %q, the file no longer parses: %v", out, err)
			}
			if again.PublicURL != file.PublicURL || !maps.Equal(again.Webhooks, file.Webhooks) ||
				!maps.EqualFunc(again.Groups, file.Groups, slices.Equal) {
				t.Fatalf("round trip of %q via %q:\n %+v\n %+v", b, out, file, again)
			}
		}
		var routes *routing.Routes
		d := deps{cfg: &Config{LinkSecret: "0123456789abcdef0123"}, file: file, log: slog.New(slog.DiscardHandler), routes: &routes}
		sys, err := buildSurfaces(d)
		if err != nil {
			if sys != nil || routes != nil {
				t.Fatalf("buildSurfaces failed (%v) but returned a system", err)
			}
			return
		}
		for name := range file.Sections {
			if !slices.Contains(surfaceNames(), name) {
				t.Fatalf("section %q names no surface, and was accepted", name)
			}
		}
		for name := range file.Groups {
			if err := routes.Check("group:" + name); err != nil && name != "" {
				t.Fatalf("group %q was accepted but is not an assignee: %v", name, err)
			}
		}
		if !reflect.DeepEqual(sys.routes, routes) {
			t.Fatal("the system's routes are not the ones published")
		}
	})
}

// FuzzFlags parses a service's command line (flags win over their HITL_* twins, which are
// unset here): refused with an error, or a configuration every role's checks accept, whose
// webhook targets (--webhooks, HITL_WEBHOOKS) and API tokens are what was given.
func FuzzFlags(f *testing.F) {
	for _, a := range [][3]string{
		{"--replicas", "3", "--workers=7"}, {"--webhooks", "ops-bot=https://bot.internal/hook,audit=http://127.0.0.1:9000/x", ""},
		{"--api-tokens", " a, b ,,c", "--log-level=debug"}, {"--replicas", "2", ""}, {"--workers", "0", ""}, {"--log-level", "loud", ""},
		{"--webhooks", "no-equals-sign", ""}, {"--no-such-flag", "", ""}, {"--help", "", ""}, {"-replicas=05", "--workers", "+3"},
		{"--nats", "nats://u:p@10.1.2.3:4222", "--public-url=https://hitl.example.com"}, {"positional", "--replicas", "x"},
	} {
		f.Add(a[0], a[1], a[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		var n Notifier
		var stderr strings.Builder
		fs := flag.NewFlagSet("fuzz", flag.ContinueOnError)
		fs.SetOutput(&stderr)
		complete := n.Flags(fs)
		err := fs.Parse([]string{a, b, c})
		if err == nil {
			err = complete()
		}
		if err != nil {
			return
		}
		if err := n.Config.validate(); err != nil {
			t.Fatalf("%q accepted, but the config is invalid: %v", []string{a, b, c}, err)
		}
		given := ""
		if w := fs.Lookup("webhooks"); w != nil {
			given = w.Value.String()
		}
		want, err := webhook.ParseTargets(given)
		if err != nil || !maps.Equal(want, n.Webhooks) && len(want)+len(n.Webhooks) > 0 {
			t.Fatalf("--webhooks %q gave %v, ParseTargets %v (%v)", given, n.Webhooks, want, err)
		}
		for _, tok := range n.APITokens {
			if tok == "" || strings.TrimSpace(tok) != tok || strings.Contains(tok, ",") {
				t.Fatalf("API token %q from %q", tok, []string{a, b, c})
			}
		}
	})
}
