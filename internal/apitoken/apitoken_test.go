package apitoken

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	toks, err := Parse([]string{"old-bare-token-0001", "ci:read:ci-token-0123456789", " bot:answer:has:colons:in-it ", "ops:admin:ops-token-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Token{
		{Name: "token-1", Scope: Admin, Secret: "old-bare-token-0001", Legacy: true},
		{Name: "ci", Scope: Read, Secret: "ci-token-0123456789"},
		{Name: "bot", Scope: Answer, Secret: "has:colons:in-it"},
		{Name: "ops", Scope: Admin, Secret: "ops-token-0123456789"},
	}
	if len(toks) != len(want) {
		t.Fatalf("got %d tokens: %+v", len(toks), toks)
	}
	for i := range want {
		if toks[i] != want[i] {
			t.Errorf("entry %d: %+v, want %+v", i+1, toks[i], want[i])
		}
	}
	// String round-trips through Parse.
	again, err := Parse([]string{toks[2].String()})
	if err != nil || again[0] != toks[2] {
		t.Errorf("round trip: %+v %v", again, err)
	}
}

func TestParseRefusesBadEntries(t *testing.T) {
	const secret = "a-secret-that-must-not-leak"
	for name, tc := range map[string]struct {
		entries []string
		want    string
	}{
		"unknown scope":      {[]string{"ci:write:" + secret}, `scope "write" is not read, answer or admin`},
		"two parts":          {[]string{"ci:" + secret}, "entry 1 is not name:scope:token"},
		"empty entry":        {[]string{"ok-token-0123456789", " "}, "entry 2 is empty"},
		"empty secret":       {[]string{"ci:read:"}, "the token is empty"},
		"bad name":           {[]string{"c i:read:" + secret}, "name \"c i\""},
		"same name twice":    {[]string{"ci:read:" + secret, "ci:admin:other-secret-0123456"}, `the name "ci" is used twice`},
		"same secret twice":  {[]string{"ci:read:" + secret, "ops:admin:" + secret}, "the same token as ci"},
		"bare and named dup": {[]string{secret, "ops:admin:" + secret}, "the same token as token-1"},
	} {
		_, err := Parse(tc.entries)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error shows the token: %v", name, err)
		}
	}
}

func TestScopeAllows(t *testing.T) {
	for _, tc := range []struct {
		have, need Scope
		ok         bool
	}{
		{Read, Read, true}, {Read, Answer, false}, {Read, Admin, false},
		{Answer, Read, true}, {Answer, Answer, true}, {Answer, Admin, false},
		{Admin, Read, true}, {Admin, Answer, true}, {Admin, Admin, true},
		{"", Read, false}, {"root", Read, false},
	} {
		if got := tc.have.Allows(tc.need); got != tc.ok {
			t.Errorf("%q allows %q: %v, want %v", tc.have, tc.need, got, tc.ok)
		}
	}
}

func TestCheckLength(t *testing.T) {
	toks, err := Parse([]string{"short", "ci:read:also-short", "ops:admin:long-enough-0123456"})
	if err != nil {
		t.Fatal(err)
	}
	err = CheckLength(toks)
	if err == nil || !strings.Contains(err.Error(), "token-1, ci is shorter") || strings.Contains(err.Error(), "also-short") {
		t.Fatalf("CheckLength: %v", err)
	}
	if err := CheckLength(toks[2:]); err != nil {
		t.Fatalf("a long token: %v", err)
	}
}

func TestSetLookup(t *testing.T) {
	s, err := NewSet([]string{"ci:read:ci-token-0123456789", "ops:admin:ops-token-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	if tok, ok := s.Lookup("ops-token-0123456789"); !ok || tok.Name != "ops" || tok.Scope != Admin {
		t.Errorf("lookup ops: %+v %v", tok, ok)
	}
	for _, bad := range []string{"", "ops-token-012345678", "ops-token-01234567890", "ci:read:ci-token-0123456789"} {
		if tok, ok := s.Lookup(bad); ok {
			t.Errorf("lookup %q found %+v", bad, tok)
		}
	}
	if s.Open() {
		t.Error("a set with tokens is open")
	}
	var none *Set
	if !none.Open() {
		t.Error("nil set is not open")
	}
	empty, _ := NewSet(nil)
	if !empty.Open() {
		t.Error("empty set is not open")
	}
	if _, ok := empty.Lookup(""); ok {
		t.Error("empty set found the empty token")
	}
}
