package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
)

// Module is the module path; a pattern starting with "./" is relative to it.
const Module = "github.com/hitl-dev/hitl"

// Rule forbids the packages matching From to depend on the packages matching Forbid, except
// those matching Allow.
//
// Patterns are import paths as in `go list`: "./events" is the module's events package, "."
// the module root, "./surface/..." a package and every package below it (also one created
// later), "./..." every package of the module; a pattern without "./" is a standard or
// third-party import path ("net/http").
type Rule struct {
	Why    string   // the rule in a sentence, shown with each violation
	From   []string // the packages the rule applies to
	Forbid []string // what they must not import
	Allow  []string // exceptions to Forbid
	// Transitive checks every dependency, not only direct imports: a forbidden package
	// reached through another import is a violation too, reported with the chain.
	Transitive bool
	// Optional lets From match no package (a package that may not exist yet, or was moved);
	// otherwise a rule that applies to nothing is reported, so that a rename cannot
	// silently disable it.
	Optional bool
}

// Graph maps each package's import path to its direct imports (non-test files).
type Graph map[string][]string

// Check returns one message per violation of rules in g, sorted.
func Check(g Graph, rules []Rule) []string {
	var out []string
	pkgs := make([]string, 0, len(g))
	for p := range g {
		if isModule(p) {
			pkgs = append(pkgs, p)
		}
	}
	slices.Sort(pkgs)
	for _, r := range rules {
		matched := false
		for _, p := range pkgs {
			if !matchAny(r.From, p) {
				continue
			}
			matched = true
			forbidden := func(imp string) bool { return matchAny(r.Forbid, imp) && !matchAny(r.Allow, imp) && imp != p }
			if !r.Transitive {
				for _, imp := range g[p] {
					if forbidden(imp) {
						out = append(out, fmt.Sprintf("%s imports %s: %s", rel(p), rel(imp), r.Why))
					}
				}
				continue
			}
			for _, chain := range reach(g, p, forbidden) {
				out = append(out, fmt.Sprintf("%s depends on %s (%s): %s", rel(p), rel(chain[len(chain)-1]),
					strings.Join(relAll(chain), " → "), r.Why))
			}
		}
		if !matched && !r.Optional {
			out = append(out, fmt.Sprintf("rule %q applies to no package (From %q): was a package renamed?", r.Why, r.From))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// reach returns, for each forbidden package reachable from p, the shortest import chain from
// p to it. The search does not go past a forbidden package.
func reach(g Graph, p string, forbidden func(string) bool) [][]string {
	prev := map[string]string{p: ""}
	queue := []string{p}
	var found [][]string
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, imp := range g[cur] {
			if _, seen := prev[imp]; seen {
				continue
			}
			prev[imp] = cur
			if forbidden(imp) {
				var chain []string
				for n := imp; n != ""; n = prev[n] {
					chain = append(chain, n)
				}
				slices.Reverse(chain)
				found = append(found, chain)
				continue
			}
			queue = append(queue, imp)
		}
	}
	return found
}

func isModule(p string) bool { return p == Module || strings.HasPrefix(p, Module+"/") }

// match reports whether import path p matches pattern.
func match(pattern, p string) bool {
	full := pattern
	switch {
	case pattern == "." || pattern == "./...":
		full = Module + strings.TrimPrefix(pattern, ".")
	case strings.HasPrefix(pattern, "./"):
		full = Module + "/" + strings.TrimPrefix(pattern, "./")
	}
	if base, ok := strings.CutSuffix(full, "/..."); ok {
		return p == base || strings.HasPrefix(p, base+"/")
	}
	return p == full
}

func matchAny(patterns []string, p string) bool {
	return slices.ContainsFunc(patterns, func(pat string) bool { return match(pat, p) })
}

// rel names a module package as its directory ("." for the root), others as they are.
func rel(p string) string {
	if p == Module {
		return "."
	}
	if r, ok := strings.CutPrefix(p, Module+"/"); ok {
		return r
	}
	return p
}

func relAll(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = rel(p)
	}
	return out
}

// Load lists the import graph of every package of the module in dir and of their
// dependencies, with `go list -deps -json`.
func Load(dir string) (Graph, error) {
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports", "./...")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, stderr.Bytes())
	}
	g := Graph{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list: decode: %w", err)
		}
		g[p.ImportPath] = p.Imports
	}
	if _, ok := g[Module]; !ok {
		return nil, fmt.Errorf("go list in %s found no package %s", dir, Module)
	}
	return g, nil
}
