package layout

// Surfaces are the packages where people are asked and answer, and the REST API: the
// services around the engine. "./surface/..." covers every surface kept under surface/.
var Surfaces = []string{"./surface/...", "./respond/...", "./jobapi/..."}

// SurfaceNames are the folders under surface/, each one surface with both of its halves.
var SurfaceNames = []string{"slack", "email", "webhook", "web", "console", "telegram"}

// Leaves are the packages every other package may build on: the wire model, the JetStream
// layout and input specs.
var Leaves = []string{"./events/...", "./streams/...", "./input/..."}

// Rules are the module's import rules. To add one, append it.
var Rules = []Rule{
	{
		Why:    "events, streams and input import no package of the module but each other",
		From:   Leaves,
		Forbid: []string{"./..."},
		Allow:  Leaves,
	},
	{
		Why:        "the store does not depend on the SDK root: run bookkeeping is package journal",
		From:       []string{"./store/..."},
		Forbid:     []string{"."},
		Transitive: true,
	},
	{
		Why:        "journal is shared by the root, the engine, the store and hitltest, so it depends on none of them",
		From:       []string{"./journal/..."},
		Forbid:     []string{".", "./engine/...", "./store/...", "./hitltest/..."},
		Transitive: true,
	},
	{
		Why:    "the engine speaks no HTTP: it consumes JetStream, and the surfaces serve people",
		From:   []string{"./engine/..."},
		Forbid: []string{"net/http"},
	},
	{
		Why:        "the engine depends on no surface",
		From:       []string{"./engine/..."},
		Forbid:     Surfaces,
		Transitive: true,
	},
	{
		Why:        "no surface depends on the engine: surfaces talk to it through JetStream",
		From:       Surfaces,
		Forbid:     []string{"./engine/..."},
		Transitive: true,
	},
	{
		Why:        "the REST and job APIs answer through the store, not through a surface",
		From:       []string{"./respond/...", "./jobapi/..."},
		Forbid:     []string{"./surface/..."},
		Transitive: true,
	},
	{
		Why:      "examples/host shows how to host workflows from outside the module, so it uses no internal package",
		From:     []string{"./examples/host/..."},
		Forbid:   []string{"./internal/..."},
		Optional: true, // a module of its own: checked when its graph is loaded (TestHostModuleLayout)
	},
}

// SurfaceRules keep surfaces apart: none depends on another, so a new channel is one folder.
func SurfaceRules() []Rule {
	var rules []Rule
	for _, name := range SurfaceNames {
		own := "./surface/" + name + "/..."
		rules = append(rules, Rule{
			Why:        "surface/" + name + " depends on no other surface (package surface is the contract they share)",
			From:       []string{own},
			Forbid:     []string{"./surface/..."},
			Allow:      []string{own, "./surface"},
			Transitive: true,
		})
	}
	return rules
}
