package web

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hitl-dev/hitl/input"
)

// fuzzSpecs are the specs FuzzDecodeAnswer submits forms to, picked by index.
var fuzzSpecs = []input.Spec{
	{Type: input.Approval, RequireCommentOnReject: true},
	{Type: input.Approval, Proposed: proposed, ActionSchema: actionSchema},
	{Type: input.Boolean, Skippable: true},
	{Type: input.Text, MaxLength: intp(10), Multiline: true},
	{Type: input.Number, Min: floatp(0), Max: floatp(100), Integer: true},
	{Type: input.Select, Options: refundMethods, AllowCustom: true},
	{Type: input.MultiSelect, Options: channels, AllowCustom: true, MaxPicks: intp(2)},
	budget,
	{Type: input.Form, Fields: []input.Field{{ID: "a b", Type: input.FieldString, Required: true}, {ID: "when", Type: "date"}}},
	{Type: input.JSON, Schema: jsonSchema},
	{Type: "signature"},
}

// FuzzDecodeAnswer submits a form body to a spec's answer form as a browser would: the
// form gives either an answer, which is JSON, or problems, each at a JSON path, never
// both; and every problem, and every validation error of the answer, is shown exactly once
// when the form is drawn again.
func FuzzDecodeAnswer(f *testing.F) {
	for i, s := range []string{
		"_action=approve", "_action=reject&comment=no", "_action=edit&edited=%7B%22order_id%22%3A%22A-1001%22%2C%22amount%22%3A1%2C%22method%22%3A%22bank%22%7D",
		"answer=true&_action=submit", "answer=line1%0D%0Aline2&_action=submit", "answer=1e3", "answer=bank&answer_other=x",
		"answer=sms&answer=sms&answer_other=push", "f0=12.5&f1=notes&f2=true&f3=gold", "f0=x&f1=%22not+a+date", "answer=%7B%22confirmation%22%3A%22yes%22%7D",
		"answer=%7B", "_action=skip", "", "answer=%zz", "f2=perhaps&_action=submit", "comment=%00&_action=approve", "answer=Inf", "answer=-0",
		"answer=0x10", "answer=1_000", "answer=+5", "answer=.5",
	} {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		spec := fuzzSpecs[int(which)%len(fuzzSpecs)]
		form, _ := url.ParseQuery(body) // what parses, as net/http keeps it
		answer, problems := decodeAnswer(spec, form)
		if (answer == nil) == (len(problems) == 0) {
			t.Fatalf("%q: answer %q and problems %v", body, answer, problems)
		}
		for _, p := range problems {
			if !strings.HasPrefix(p.Path, "$") || p.Message == "" {
				t.Fatalf("%q: problem %+v", body, p)
			}
		}
		errs := problems
		if answer != nil {
			if !json.Valid(answer) {
				t.Fatalf("%q: answer %q is not JSON", body, answer)
			}
			if ve, ok := spec.Validate(answer).(*input.ValidationError); ok {
				errs = ve.Fields
			}
		}
		view := buildForm(spec, form, errs)
		if len(view.Problems) != len(errs) {
			t.Fatalf("%q: %d errors, %d shown: %v -> %+v", body, len(errs), len(view.Problems), errs, view.Problems)
		}
		for _, p := range view.Problems {
			if p.Message == "" || p.Anchor == "" {
				t.Fatalf("%q: problem shown as %+v", body, p)
			}
		}
	})
}

// FuzzFirstMember: the JSON path of a form field's error (input.MemberPath) leads back to
// the field, whatever its id.
func FuzzFirstMember(f *testing.F) {
	for _, s := range []string{"budget", "a b", "it's", `back\slash`, "new\nline", "\x01ctl", "日本", "1st", "a.b", "a[0]", "'"} {
		f.Add(s, "deeper[2]")
	}
	f.Fuzz(func(t *testing.T, name, rest string) {
		if name == "" || !utf8.ValidString(name) {
			return // ids come from JSON, which makes every string valid UTF-8
		}
		p := input.MemberPath(name)
		got, _, ok := firstMember(p)
		if !ok || got != name {
			t.Fatalf("%q -> %q -> %q, %v", name, p, got, ok)
		}
		spec := input.Spec{Type: input.Form, Fields: []input.Field{{ID: name, Type: input.FieldString}}}
		if key, _ := errorKey(spec, p); key != fieldKey(name) {
			t.Fatalf("the error at %q lands on %q", p, key)
		}
	})
}

// FuzzSession: the operator's session cookie verifies as signed, and no changed cookie
// verifies.
func FuzzSession(f *testing.F) {
	f.Add("alice", "nonce-1", 3600, uint16(0), byte('A'))
	f.Add("", "n", 1, uint16(65535), byte('B'))
	f.Add("bob", "k", -1, uint16(10), byte('.'))
	f.Fuzz(func(t *testing.T, name, nonce string, ttl int, pos uint16, b byte) {
		s := &Server{cfg: Config{LinkSecret: []byte("0123456789abcdef0123"), Tokens: []string{"operator-token-0123"}}}
		now := time.Unix(1_800_000_000, 0)
		se := session{Name: name, Nonce: nonce, Token: s.tokenFingerprint("operator-token-0123"), Exp: now.Unix() + int64(ttl)}
		cookie := s.signSession(se)
		got, err := s.verifySession(cookie, now)
		switch {
		case nonce == "" || ttl <= 0 || len(cookie) > 2048:
			if err == nil {
				t.Fatalf("verified %+v", se)
			}
		case err != nil:
			t.Fatalf("verifySession(signSession(%+v)): %v", se, err)
		case (got.Nonce != nonce && utf8.ValidString(nonce)) || got.Exp != se.Exp:
			t.Fatalf("round trip %+v -> %+v", se, got)
		}
		i := int(pos) % len(cookie)
		if pos == 65535 {
			i = len(cookie) - 1
		}
		mut := cookie[:i] + string(b) + cookie[i+1:]
		if mut == cookie {
			return
		}
		if got, err := s.verifySession(mut, now); err == nil {
			t.Fatalf("a changed cookie verified:\n %q\n %q\n %+v", cookie, mut, got)
		}
		// Another operator's cookie does not verify here either.
		other := &Server{cfg: Config{LinkSecret: []byte("another-secret-0123"), Tokens: s.cfg.Tokens}}
		if _, err := other.verifySession(cookie, now); err == nil {
			t.Fatal("a cookie signed with another secret verified")
		}
	})
}
