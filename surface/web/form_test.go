package web

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/input"
)

func TestFirstMemberRoundTrip(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"budget", "a b", "it's", `back\slash`, "new\nline", "tab\t", "\x01ctl", "日本", "_x1", "1st", ""} {
		p := input.MemberPath(name)
		got, rest, ok := firstMember(p + ".deeper[2]")
		if name == "" {
			if ok && got != "" {
				t.Errorf("empty name: %q", got)
			}
			continue
		}
		if !ok || got != name || rest != "deeper[2]" {
			t.Errorf("%q → %q → %q, %q, %v", name, p, got, rest, ok)
		}
	}
	for _, p := range []string{"$", "$[1]", "data.x", "$['open"} {
		if _, _, ok := firstMember(p); ok {
			t.Errorf("%q has a member", p)
		}
	}
}

// The paths the input package writes for form fields are the ones errors are placed by.
func TestErrorsLandBesideTheirFields(t *testing.T) {
	t.Parallel()
	spec := input.Spec{Type: input.Form, Fields: []input.Field{
		{ID: "a b", Type: input.FieldString, Required: true}, {ID: "n", Type: input.FieldNumber}}}
	err := spec.Validate(json.RawMessage(`{"n": "x"}`))
	ve, ok := err.(*input.ValidationError)
	if !ok {
		t.Fatalf("%v", err)
	}
	f := buildForm(spec, nil, ve.Fields)
	if f.Controls[0].Error() != "a b is required." || !strings.HasPrefix(f.Controls[1].Error(), "n must be a number") || len(f.General) != 0 {
		t.Fatalf("errors: %q, %q, general %q", f.Controls[0].Errors, f.Controls[1].Errors, f.General)
	}
}

func TestDecodeAnswer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		spec    input.Spec
		form    string
		want    string
		problem string
	}{
		{"unknown type as JSON", input.Spec{Type: "signature"}, "answer=%7B%22a%22%3A+1%7D&_action=submit", `{"a":1}`, ""},
		{"unknown type, empty", input.Spec{Type: "signature"}, "answer=&_action=submit", `null`, ""},
		{"approval, no button", input.Spec{Type: input.Approval}, "comment=x", "", "$.approved"},
		{"approval html stays as typed", input.Spec{Type: input.Approval}, "_action=reject&comment=%3Cb%3E", `{"approved":false,"comment":"<b>"}`, ""},
		{"edit without a proposal", input.Spec{Type: input.Approval}, "_action=edit&edited=%7B%7D", "", "$"},
		{"edit empty", input.Spec{Type: input.Approval, Proposed: json.RawMessage(`{}`)}, "_action=edit&edited=", "", "$.edited"},
		{"boolean garbage", input.Spec{Type: input.Boolean}, "answer=maybe&_action=submit", "", "$"},
		{"boolean none", input.Spec{Type: input.Boolean}, "_action=submit", `null`, ""},
		{"number exponent", input.Spec{Type: input.Number}, "answer=1e3&_action=submit", `1e3`, ""},
		{"number plus", input.Spec{Type: input.Number}, "answer=%2B5&_action=submit", `5`, ""},
		{"number infinite", input.Spec{Type: input.Number}, "answer=Inf&_action=submit", "", "$"},
		{"text absent", input.Spec{Type: input.Text}, "_action=submit", `null`, ""},
		{"text empty", input.Spec{Type: input.Text}, "answer=&_action=submit", `""`, ""},
		{"select radio beats other", input.Spec{Type: input.Select, Options: refundMethods, AllowCustom: true}, "answer=bank&answer_other=x", `"bank"`, ""},
		{"select other only typed", input.Spec{Type: input.Select, Options: refundMethods, AllowCustom: true}, "answer_other=x", `"x"`, ""},
		{"select other chosen, empty", input.Spec{Type: input.Select, Options: refundMethods, AllowCustom: true}, "answer=&answer_other=", "", "$"},
		{"select other ignored without allow_custom", input.Spec{Type: input.Select, Options: refundMethods}, "answer_other=x", `null`, ""},
		{"multiselect other duplicates a pick", input.Spec{Type: input.MultiSelect, Options: channels, AllowCustom: true}, "answer=sms&answer_other=sms", `["sms"]`, ""},
		{"form bad boolean", budget, "f2=perhaps", "", "$.approved"},
		{"form unknown field type as JSON", input.Spec{Type: input.Form, Fields: []input.Field{{ID: "when", Type: "date"}}}, "f0=%222026-01-01%22", `{"when":"2026-01-01"}`, ""},
		{"skip", input.Spec{Type: input.Number, Skippable: true}, "_action=skip&answer=3", `null`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form, err := url.ParseQuery(tc.form)
			if err != nil {
				t.Fatal(err)
			}
			got, problems := decodeAnswer(tc.spec, form)
			if tc.problem != "" {
				if len(problems) == 0 || problems[0].Path != tc.problem {
					t.Fatalf("problems %v, want one at %s (answer %s)", problems, tc.problem, got)
				}
				return
			}
			if len(problems) > 0 {
				t.Fatalf("problems %v", problems)
			}
			if string(got) != tc.want {
				t.Errorf("answer %s, want %s", got, tc.want)
			}
		})
	}
}

func TestUnknownTypeRendersJSONTextarea(t *testing.T) {
	t.Parallel()
	f := buildForm(input.Spec{Type: "signature", Skippable: true}, nil, nil)
	if len(f.Controls) != 1 || f.Controls[0].Kind != "json" || f.Controls[0].Required {
		t.Fatalf("controls %+v", f.Controls)
	}
	if len(f.Buttons) != 2 || f.Buttons[1].Value != "skip" {
		t.Fatalf("buttons %+v", f.Buttons)
	}
}

func TestParagraphsEscape(t *testing.T) {
	t.Parallel()
	got := string(paragraphs("<script>alert(1)</script>\r\n**bold** & more\n\n\n\nnext"))
	want := "<p>&lt;script&gt;alert(1)&lt;/script&gt;<br>\n**bold** &amp; more</p>\n<p>next</p>\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestSentenceFor(t *testing.T) {
	t.Parallel()
	for msg, want := range map[string]string{
		"must be at most 12 characters (got 13)":                  "The answer must be at most 12 characters (got 13).",
		"an answer is required (this question cannot be skipped)": "An answer is required (this question cannot be skipped).",
		`"pink" is not one of the options (red, green)`:           `"pink" is not one of the options (red, green).`,
	} {
		if got := sentenceFor("The answer", msg, false); got != want {
			t.Errorf("%q → %q, want %q", msg, got, want)
		}
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/inbox/requests/x?token=a": "/inbox/requests/x?token=a", "/inbox": "/inbox", "": "/inbox",
		"//evil.example/inbox": "/inbox", "https://evil.example/inbox": "/inbox", "/inboxes": "/inbox",
		"/inbox/../v1/requests": "/inbox", "/inbox\\@evil": "/inbox", "/v1/runs": "/inbox",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func TestUnescapeHTML(t *testing.T) {
	t.Parallel()
	in := `{"a": "\u003cb\u003e \u0026 \\u003c \n \u00e9"}`
	want := `{"a": "<b> & \\u003c \n \u00e9"}`
	if got := unescapeHTML(in); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	var v1, v2 any
	if json.Unmarshal([]byte(in), &v1) != nil || json.Unmarshal([]byte(want), &v2) != nil || v1.(map[string]any)["a"] != v2.(map[string]any)["a"] {
		t.Errorf("the meaning changed: %v vs %v", v1, v2)
	}
}
