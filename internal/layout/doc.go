// Package layout checks the module's import rules: which packages may depend on which. The
// rules are data (Rules, in rules.go), read against the import graph that `go list`
// reports, so that a new rule is one more entry and a broken one names the import at fault.
package layout
