package layout_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/internal/layout"
)

const mod = layout.Module

// The module keeps its import rules.
func TestModuleLayout(t *testing.T) {
	t.Parallel()
	statSources(t, "../..")
	g, err := layout.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range layout.Check(g, append(slices.Clone(layout.Rules), layout.SurfaceRules()...)) {
		t.Error(v)
	}
}

// examples/host, a module of its own, hosts its workflow with public packages only.
func TestHostModuleLayout(t *testing.T) {
	t.Parallel()
	statSources(t, "../../examples/host")
	g, err := layout.Load("../../examples/host")
	if err != nil {
		t.Fatal(err)
	}
	host := []layout.Rule{{Why: "examples/host imports no internal package", From: []string{"./examples/host/..."},
		Forbid: []string{"./internal/..."}}}
	for _, v := range layout.Check(g, host) {
		t.Error(v)
	}
}

// statSources stats every Go source and go.mod under root. go list reads them in another
// process, which go test cannot see; stat'ing them here makes a cached pass of this test
// expire when any of them changes.
func statSources(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".go") || d.Name() == "go.mod") {
			_, err = os.Stat(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Check finds each kind of violation, and only those, in made-up graphs.
func TestCheck(t *testing.T) {
	t.Parallel()
	base := layout.Graph{
		mod:                      {mod + "/events", mod + "/journal"},
		mod + "/events":          {mod + "/input", "encoding/json"},
		mod + "/input":           {"encoding/json"},
		mod + "/streams":         {},
		mod + "/journal":         {mod + "/events", mod + "/input"},
		mod + "/store":           {mod + "/events", mod + "/journal", mod + "/streams"},
		mod + "/engine":          {mod, mod + "/store", "log/slog"},
		mod + "/respond":         {mod + "/store", "net/http"},
		mod + "/server":          {mod + "/engine", mod + "/respond"},
		mod + "/hitltest":        {mod, mod + "/journal"},
		mod + "/surface/slack":   {mod + "/events"},
		mod + "/surface/email":   {mod + "/events"},
		mod + "/surface/webhook": {mod + "/events"},
		mod + "/surface/console": {mod + "/events"},
		mod + "/surface/web":     {mod + "/store", "net/http"},
		"encoding/json":          {},
		"log/slog":               {},
		"net/http":               {"net"},
		"net":                    {},
		mod + "/examples/refund": {mod},
	}
	tests := []struct {
		name  string
		edit  func(g layout.Graph)
		rules []layout.Rule // default layout.Rules
		want  []string      // substrings, one per violation, in sorted order of the messages
	}{
		{name: "clean", edit: func(layout.Graph) {}},
		{name: "leaf imports the store", edit: func(g layout.Graph) { g[mod+"/events"] = append(g[mod+"/events"], mod+"/store") },
			want: []string{"events imports store: events, streams and input", "journal depends on store (journal → events → store)"}},
		{name: "leaf imports the root", edit: func(g layout.Graph) { g[mod+"/input"] = []string{mod} },
			want: []string{"input imports .: events, streams and input", "journal depends on . (journal → input → .)",
				"store depends on . (store → events → input → .)"}},
		{name: "leaves import each other", edit: func(g layout.Graph) { g[mod+"/streams"] = []string{mod + "/events"} }},
		{name: "store reaches the root through a dependency", edit: func(g layout.Graph) { g[mod+"/journal"] = append(g[mod+"/journal"], mod) },
			want: []string{"journal depends on . (journal → .)", "store depends on . (store → journal → .)"}},
		{name: "engine imports net/http", edit: func(g layout.Graph) { g[mod+"/engine"] = append(g[mod+"/engine"], "net/http") },
			want: []string{"engine imports net/http: the engine speaks no HTTP"}},
		{name: "engine reaches a surface", edit: func(g layout.Graph) { g[mod+"/store"] = append(g[mod+"/store"], mod+"/surface/slack") },
			want: []string{"engine depends on surface/slack (engine → store → surface/slack)",
				"respond depends on surface/slack (respond → store → surface/slack)"}},
		{name: "engine reaches a future surface", edit: func(g layout.Graph) {
			g[mod+"/surface/teams"] = []string{mod + "/events"}
			g[mod+"/engine"] = append(g[mod+"/engine"], mod+"/surface/teams")
		}, want: []string{"engine depends on surface/teams (engine → surface/teams)"}},
		{name: "surface reaches the engine", edit: func(g layout.Graph) { g[mod+"/surface/email"] = append(g[mod+"/surface/email"], mod+"/server") },
			want: []string{"surface/email depends on engine (surface/email → server → engine)"}},
		{name: "the server may import engine and surfaces", edit: func(g layout.Graph) {
			g[mod+"/server"] = []string{mod + "/engine", mod + "/surface/web"}
			g[mod+"/surface/web"] = []string{mod + "/store"}
		}},
		{name: "examples/host imports an internal package", edit: func(g layout.Graph) {
			g[mod+"/examples/host"] = []string{mod + "/internal/embedded", mod + "/engine"}
		}, want: []string{"examples/host imports internal/embedded"}},
		{name: "examples/host may depend on internal packages through public ones", edit: func(g layout.Graph) {
			g[mod+"/examples/host"] = []string{mod + "/engine"}
			g[mod+"/engine"] = append(g[mod+"/engine"], mod+"/internal/consume")
		}},
		{name: "a rule that matches nothing", edit: func(layout.Graph) {},
			rules: []layout.Rule{{Why: "gone", From: []string{"./orchestrator/..."}, Forbid: []string{"."}}},
			want:  []string{`rule "gone" applies to no package`}},
		{name: "an optional rule that matches nothing", edit: func(layout.Graph) {},
			rules: []layout.Rule{{Why: "later", From: []string{"./examples/host"}, Forbid: []string{"./internal/..."}, Optional: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := layout.Graph{}
			for p, imps := range base {
				g[p] = slices.Clone(imps)
			}
			tt.edit(g)
			rules := tt.rules
			if rules == nil {
				rules = layout.Rules
			}
			got := layout.Check(g, rules)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d violations, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("violation %d:\n%s\nwant it to contain %q", i, got[i], w)
				}
			}
		})
	}
}
