// Package apitoken parses and checks the API tokens of the REST and job APIs and the
// inbox's sign-in: each token has a name (recorded as who answered) and a scope that says
// what it may do. A leaked dashboard token then reads, and nothing else.
package apitoken

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Scope is what a token may do. Each scope includes the ones below it.
type Scope string

const (
	// Read may call the GET endpoints and the long-polls (/wait, /status).
	Read Scope = "read"
	// Answer may also answer requests (POST .../respond, /provide_input, the inbox's forms).
	Answer Scope = "answer"
	// Admin may do everything: also create requests, start runs and jobs, and cancel them.
	Admin Scope = "admin"
)

var rank = map[Scope]int{Read: 1, Answer: 2, Admin: 3}

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool { return rank[s] > 0 }

// Allows reports whether a token of scope s may do what needs scope need.
func (s Scope) Allows(need Scope) bool { return rank[s] > 0 && rank[s] >= rank[need] }

// MinLen is the shortest token accepted outside `hitl dev`: 16 characters.
const MinLen = 16

// Token is one API token.
type Token struct {
	Name   string // recorded as the responder of its answers; "token-N" for the bare form
	Scope  Scope
	Secret string // what callers send as "Authorization: Bearer <secret>"
	// Legacy is set for a bare token (the form without name and scope): it is an admin,
	// and its answers keep the responder "api", as before scopes existed.
	Legacy bool
}

// String is the token in the form Parse reads back: name:scope:secret.
func (t Token) String() string { return t.Name + ":" + string(t.Scope) + ":" + t.Secret }

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$`)

// Parse reads token entries, each either "name:scope:secret" (scope read, answer or admin;
// the secret may itself contain ':') or a bare secret without ':', which is an admin named
// "token-N" after its position. Errors name the entry by position, never by its secret.
// Names and secrets must be unique.
func Parse(entries []string) ([]Token, error) {
	var toks []Token
	var errs []error
	names := map[string]bool{}
	for i, e := range entries {
		e = strings.TrimSpace(e)
		n := i + 1
		if e == "" {
			errs = append(errs, fmt.Errorf("entry %d is empty", n))
			continue
		}
		t := Token{Name: "token-" + strconv.Itoa(n), Scope: Admin, Secret: e, Legacy: true}
		if strings.Contains(e, ":") {
			parts := strings.SplitN(e, ":", 3)
			if len(parts) != 3 {
				errs = append(errs, fmt.Errorf("entry %d is not name:scope:token (a bare token may not contain ':')", n))
				continue
			}
			t = Token{Name: parts[0], Scope: Scope(parts[1]), Secret: parts[2]}
			if !validName.MatchString(t.Name) {
				errs = append(errs, fmt.Errorf("entry %d: name %q must be 1-64 letters, digits, '_', '.', '@' or '-'", n, t.Name))
				continue
			}
			if !t.Scope.Valid() {
				errs = append(errs, fmt.Errorf("entry %d (%s): scope %q is not read, answer or admin", n, t.Name, t.Scope))
				continue
			}
			if t.Secret == "" {
				errs = append(errs, fmt.Errorf("entry %d (%s): the token is empty", n, t.Name))
				continue
			}
		}
		if names[t.Name] {
			errs = append(errs, fmt.Errorf("entry %d: the name %q is used twice", n, t.Name))
			continue
		}
		names[t.Name] = true
		for _, o := range toks {
			if o.Secret == t.Secret {
				errs = append(errs, fmt.Errorf("entry %d (%s): the same token as %s", n, t.Name, o.Name))
			}
		}
		toks = append(toks, t)
	}
	return toks, errors.Join(errs...)
}

// CheckLength reports every token shorter than MinLen, by name.
func CheckLength(toks []Token) error {
	var short []string
	for _, t := range toks {
		if len(t.Secret) < MinLen {
			short = append(short, t.Name)
		}
	}
	if len(short) > 0 {
		return fmt.Errorf("tokens must be at least %d characters: %s is shorter", MinLen, strings.Join(short, ", "))
	}
	return nil
}

// Set is the tokens a server accepts. The zero Set has none: see Open.
type Set struct{ toks []Token }

// NewSet parses entries (see Parse) into a Set.
func NewSet(entries []string) (*Set, error) {
	toks, err := Parse(entries)
	if err != nil {
		return nil, err
	}
	return &Set{toks: toks}, nil
}

// Open reports whether no tokens are configured: only `hitl dev` and --insecure run so,
// and then every caller is an admin.
func (s *Set) Open() bool { return s == nil || len(s.toks) == 0 }

// Lookup finds the token whose secret is bearer. It compares with every token in constant
// time, so the time taken says nothing about how close a guess was.
func (s *Set) Lookup(bearer string) (Token, bool) {
	if s == nil {
		return Token{}, false
	}
	found := -1
	for i, t := range s.toks {
		if subtle.ConstantTimeCompare([]byte(bearer), []byte(t.Secret)) == 1 {
			found = i
		}
	}
	if found < 0 || bearer == "" {
		return Token{}, false
	}
	return s.toks[found], true
}

// Tokens returns the tokens, for callers that fingerprint them.
func (s *Set) Tokens() []Token {
	if s == nil {
		return nil
	}
	return s.toks
}
