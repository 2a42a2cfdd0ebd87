// Package routing maps assignees to the channels that reach them: "slack:#channel",
// "slack:@U123", "email:a@b.c", "webhook:name", "console:name", and named groups
// ("group:finance") that stand for several of those. It also decides who may answer a
// request: only the people it was sent to (or its explicit approvers), plus operators.
package routing

import (
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/hitl-dev/hitl/events"
)

// Operator is the identity of API token holders: operators may answer any request.
const Operator = "api"

// File is the configuration file (hitl.yaml). Values of the form ${NAME} are read from the
// environment, so secrets stay out of the file.
type File struct {
	PublicURL string              `yaml:"public_url"` // HITL_PUBLIC_URL wins
	Webhooks  map[string]string   `yaml:"webhooks"`
	Groups    map[string][]string `yaml:"groups"`
	// AllowPrivateTargets is the egress allow-list (HITL_ALLOW_PRIVATE_TARGETS wins): a
	// YAML list or one comma-separated string of CIDRs, addresses, host names or "*".
	AllowPrivateTargets List `yaml:"allow_private_targets"`
	// APITokens are API tokens beside HITL_API_TOKENS, each with a name and a scope; the
	// token itself should come from the environment (token: ${HITL_TOKEN_CI}).
	APITokens []APIToken `yaml:"api_tokens"`
	// Sections are every other top-level key: one per surface ("slack:", "email:",
	// "telegram:", ...), each parsed by its own surface. The server refuses a key that
	// names no surface.
	Sections map[string]yaml.Node `yaml:",inline"`
}

// APIToken is one entry of api_tokens.
type APIToken struct {
	Name  string `yaml:"name"`
	Scope string `yaml:"scope"` // read, answer or admin
	Token string `yaml:"token"`
}

// Load reads the file at path ("" for none) and then the environment, which wins.
func Load(path string) (*File, error) {
	f := &File{}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if f, err = Parse(b); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if v := os.Getenv("HITL_PUBLIC_URL"); v != "" {
		f.PublicURL = v
	}
	return f, nil
}

// List is a list of strings written either as a YAML sequence or as one comma-separated
// string (which is what a ${NAME} reference expands to).
type List []string

// UnmarshalYAML accepts a sequence or a scalar.
func (l *List) UnmarshalYAML(n *yaml.Node) error {
	var items []string
	switch n.Kind {
	case yaml.SequenceNode:
		if err := n.Decode(&items); err != nil {
			return err
		}
	case yaml.ScalarNode:
		items = strings.Split(n.Value, ",")
	default:
		return fmt.Errorf("line %d: want a list or a comma-separated string", n.Line)
	}
	*l = nil
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" {
			*l = append(*l, it)
		}
	}
	return nil
}

// Parse reads a configuration file's contents, ${NAME} expanded from the environment. An
// unknown key of a known section is an error; an empty file is an empty File.
func Parse(b []byte) (*File, error) {
	f := &File{}
	dec := yaml.NewDecoder(strings.NewReader(expandEnv(string(b))))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return f, nil
}

// Section is the file's section named name, nil when it has none.
func (f *File) Section(name string) *yaml.Node {
	if n, ok := f.Sections[name]; ok {
		return &n
	}
	return nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func expandEnv(s string) string {
	return envRef.ReplaceAllStringFunc(s, func(m string) string { return os.Getenv(m[2 : len(m)-1]) })
}

// Routes resolves assignees. Build it with New; it is read-only afterwards.
type Routes struct {
	kinds  map[string]bool     // channel kinds that are configured
	groups map[string][]string // group name → members (never groups)
	checks map[string]func(target string) error
}

// New checks the groups against the configured channel kinds. check, per kind, validates a
// target (e.g. the webhook names that exist); kinds without a check accept any target.
func New(kinds []string, groups map[string][]string, checks map[string]func(target string) error) (*Routes, error) {
	r := &Routes{kinds: map[string]bool{}, groups: map[string][]string{}, checks: checks}
	for _, k := range kinds {
		r.kinds[k] = true
	}
	var errs []error
	names := make([]string, 0, len(groups))
	for n := range groups {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		members := groups[name]
		if len(members) == 0 {
			errs = append(errs, fmt.Errorf("group %q has no members", name))
		}
		for _, m := range members {
			if strings.HasPrefix(m, "group:") {
				errs = append(errs, fmt.Errorf("group %q: member %q is a group; groups hold people and channels only", name, m))
				continue
			}
			if err := r.Check(m); err != nil {
				errs = append(errs, fmt.Errorf("group %q: %w", name, err))
			}
		}
		r.groups[name] = members
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// Check reports an assignee that cannot be reached, with a sentence saying why.
func (r *Routes) Check(a string) error {
	kind, target, ok := strings.Cut(a, ":")
	if !ok || kind == "" || target == "" {
		return fmt.Errorf("assignee %q is not of the form kind:target (e.g. slack:#ops, email:a@b.c, webhook:bot, group:finance)", a)
	}
	if kind == "group" {
		if _, ok := r.groups[target]; !ok {
			return fmt.Errorf("assignee %q: no group named %q is configured", a, target)
		}
		return nil
	}
	if !r.kinds[kind] {
		return fmt.Errorf("assignee %q: the %s channel is not configured", a, kind)
	}
	switch kind {
	case "slack":
		if !strings.HasPrefix(target, "#") && !strings.HasPrefix(target, "@") || len(target) < 2 {
			return fmt.Errorf("assignee %q: a Slack target is #channel or @USERID", a)
		}
	case "email":
		addr, err := mail.ParseAddress(target)
		if err != nil || addr.Address != target {
			return fmt.Errorf("assignee %q: %q is not an email address", a, target)
		}
	}
	if c := r.checks[kind]; c != nil {
		if err := c(target); err != nil {
			return fmt.Errorf("assignee %q: %w", a, err)
		}
	}
	return nil
}

// CheckAll checks every assignee and joins the errors.
func (r *Routes) CheckAll(assignees []string) error {
	var errs []error
	for _, a := range assignees {
		errs = append(errs, r.Check(a))
	}
	return errors.Join(errs...)
}

// Expand replaces groups by their members and drops duplicates, keeping the order.
func (r *Routes) Expand(assignees []string) []string {
	var out []string
	for _, a := range assignees {
		if name, ok := strings.CutPrefix(a, "group:"); ok {
			for _, m := range r.groups[name] {
				if !slices.Contains(out, m) {
					out = append(out, m)
				}
			}
			continue
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// Allows reports whether someone known by any of identities may answer req: an operator
// always; else, when the request names approvers, one of them; else anyone it was sent to
// (its assignees, groups expanded). A request with no assignees and no approvers is open to
// every authenticated caller. Identities are assignee-shaped: "slack:@U123" (and the Slack
// channel the click came from, "slack:#ops"), "email:a@b.c", "webhook:bot".
func (r *Routes) Allows(req *events.Request, identities ...string) bool {
	if slices.Contains(identities, Operator) {
		return true
	}
	var allowed []string
	if len(req.Approvers) > 0 {
		// Named approvers that expand to nobody (a group since removed from the config)
		// leave the request to operators, never open it to everyone.
		if allowed = r.Expand(req.Approvers); len(allowed) == 0 {
			return false
		}
	} else if allowed = r.Expand(req.Assignees); len(allowed) == 0 {
		return true
	}
	for _, id := range identities {
		if slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, id) }) {
			return true
		}
	}
	return false
}
