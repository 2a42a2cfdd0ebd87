package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/client"
	"github.com/hitl-dev/hitl/input"
)

func opts(ids ...string) []input.Option {
	var out []input.Option
	for _, id := range ids {
		out = append(out, input.Option{ID: id, Label: strings.ToUpper(id[:1]) + id[1:]})
	}
	return out
}

// specOf reads a spec as the API sends it, newer settings included.
func specOf(t *testing.T, spec string) (input.Spec, extras) {
	t.Helper()
	var s input.Spec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		t.Fatal(err)
	}
	return s, readExtras([]byte(`{"input": ` + spec + `}`))
}

func TestCLIPrompterAnswers(t *testing.T) {
	two := 2
	labelled, labels := specOf(t, `{"type": "approval", "labels": {"approve": "Ship it", "reject": "Hold"}}`)
	feedback, needComment := specOf(t, `{"type": "approval", "require_comment_on_reject": true}`)
	editable, proposed := specOf(t, `{"type": "approval", "proposed": {"amount": 149.99, "method": "original"}}`)
	patterned, pattern := specOf(t, `{"type": "text", "pattern": "^[A-Z]+$"}`)
	form := input.Spec{Type: input.Form, Fields: []input.Field{
		{ID: "name", Type: input.FieldString, Required: true},
		{ID: "age", Type: input.FieldNumber},
		{ID: "vip", Type: input.FieldBoolean},
		{ID: "tier", Type: input.FieldSelect, Options: opts("gold", "silver"), Required: true},
	}}
	for _, tt := range []struct {
		name    string
		spec    input.Spec
		x       extras
		comment string
		in      string
		want    string
		wantErr error
		wantOut string // in the transcript
	}{
		{name: "select by number", spec: input.Spec{Type: input.Select, Options: opts("approve", "modify")}, in: "2\n", want: `"modify"`},
		{name: "select by id and label", spec: input.Spec{Type: input.Select, Options: opts("approve", "modify")}, in: "Approve\n", want: `"approve"`},
		{name: "select refuses then accepts", spec: input.Spec{Type: input.Select, Options: opts("a", "b")}, in: "3\nc\nb\n", want: `"b"`,
			wantOut: `"3" is not one of the choices`},
		{name: "select custom", spec: input.Spec{Type: input.Select, Options: opts("a"), AllowCustom: true}, in: "something else\n", want: `"something else"`},
		{name: "multiselect", spec: input.Spec{Type: input.MultiSelect, Options: opts("email", "sms", "push")}, in: "1, push\n", want: `["email","push"]`},
		{name: "multiselect none", spec: input.Spec{Type: input.MultiSelect, Options: opts("email")}, in: "\n", want: `[]`},
		{name: "multiselect too few, checked locally", spec: input.Spec{Type: input.MultiSelect, Options: opts("a", "b"), MinPicks: &two},
			in: "1\n1,2\n", want: `["a","b"]`, wantOut: "must pick at least 2"},
		{name: "text too long, checked locally", spec: input.Spec{Type: input.Text, MaxLength: &two}, in: "abc\nab\n", want: `"ab"`,
			wantOut: "answer: must be at most 2 characters"},
		{name: "multiline text", spec: input.Spec{Type: input.Text, Multiline: true}, in: "one\n\nthree\n.\n", want: `"one\n\nthree"`},
		{name: "number", spec: input.Spec{Type: input.Number}, in: "x\n+7\n", want: `7`, wantOut: `"x" is not a number`},
		{name: "boolean", spec: input.Spec{Type: input.Boolean}, in: "maybe\nyes\n", want: `true`},
		{name: "approval with comment", spec: input.Spec{Type: input.Approval}, in: "n\n too risky \n", want: `{"approved":false,"comment":"too risky"}`},
		{name: "approval labels", spec: input.Spec{Type: input.Approval, Options: []input.Option{{ID: "approve", Label: "Ship it"}, {ID: "reject", Label: "Hold"}}},
			in: "ship it\n\n", want: `{"approved":true}`, wantOut: "y) Ship it"},
		{name: "approval labels (labels)", spec: labelled, x: labels,
			in: "hold\n\n", want: `{"approved":false}`, wantOut: "  y) Ship it\n  n) Hold\n"},
		{name: "reject needs a comment", spec: feedback, x: needComment,
			in: "n\n\nnot reversible\n", want: `{"approved":false,"comment":"not reversible"}`,
			wantOut: "Comment (required when rejecting: say why): \n  ! a rejection needs a comment"},
		{name: "edit then approve", spec: editable, x: proposed,
			in: "e\n{\"amount\": 120,\n \"method\": \"store_credit\"}\n\n", want: `{"approved":true,"edited":{"amount":120,"method":"store_credit"}}`, wantOut: "Proposed action:\n  {\n    \"amount\": 149.99,"},
		{name: "text pattern hint", spec: patterned, x: pattern, in: "ABC\n", want: `"ABC"`,
			wantOut: "Answer (matching ^[A-Z]+$): "},
		{name: "approval comment given", spec: input.Spec{Type: input.Approval}, comment: "from the flag", in: "y\n", want: `{"approved":true,"comment":"from the flag"}`},
		{name: "form", spec: form, in: "\nAda\n\nn\n2\n", want: `{"name":"Ada","vip":false,"tier":"silver"}`, wantOut: "this field is required"},
		{name: "skip", spec: input.Spec{Type: input.Text, Skippable: true}, in: "skip\n", want: `null`},
		{name: "skip only when skippable", spec: input.Spec{Type: input.Text}, in: "skip\n", want: `"skip"`},
		{name: ":json", spec: input.Spec{Type: input.Select, Options: opts("a")}, in: ":json\nnope\n\"a\"\n", want: `"a"`, wantOut: "that is not JSON"},
		{name: "unknown type asks for JSON", spec: input.Spec{Type: "yaml"}, in: `{"x": [1, 2]}` + "\n", want: `{"x": [1, 2]}`},
		{name: "JSON over several lines", spec: input.Spec{Type: "yaml"}, in: "{\"x\":\n[1,\n2]}\n", want: "{\"x\":\n[1,\n2]}", wantOut: "... "},
		{name: "JSON typed wrong starts over", spec: input.Spec{Type: "yaml"}, in: "{\"x\":\n\n7\n", want: "7", wantOut: "start again"},
		{name: "input ends", spec: input.Spec{Type: input.Boolean}, in: "maybe\n", wantErr: errNoInput},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			p := newPrompter(context.Background(), strings.NewReader(tt.in), &out, true)
			got, err := p.answer(question{spec: tt.spec, x: tt.x, check: tt.spec.Check() == nil, comment: tt.comment}, nil, nil)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v\n%s", err, tt.wantErr, out.String())
			}
			if string(got) != tt.want {
				t.Errorf("answer %s, want %s\n%s", got, tt.want, out.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("transcript lacks %q:\n%s", tt.wantOut, out.String())
			}
		})
	}
}

// After the server refuses some fields of a form, only those are asked again.
func TestCLIPrompterFormRedo(t *testing.T) {
	spec := input.Spec{Type: input.Form, Fields: []input.Field{
		{ID: "name", Type: input.FieldString, Name: "Name", Required: true},
		{ID: "code", Type: input.FieldString, Name: "Code"},
	}}
	var out bytes.Buffer
	p := newPrompter(context.Background(), strings.NewReader("XY-1\n"), &out, true)
	got, err := p.answer(question{spec: spec}, []byte(`{"name":"Ada","code":"bad"}`), []input.FieldError{{Path: "$.code", Message: "must match ^[A-Z]{2}-[0-9]$"}})
	if err != nil || string(got) != `{"name":"Ada","code":"XY-1"}` {
		t.Fatalf("%s, %v\n%s", got, err, out.String())
	}
	if strings.Contains(out.String(), "Name (name") {
		t.Errorf("asked for name again:\n%s", out.String())
	}
}

func TestCLIParseFlagsAnywhere(t *testing.T) {
	c := &cli{stdout: &bytes.Buffer{}, getenv: func(string) string { return "" }}
	for _, tt := range []struct {
		args    []string
		want    string
		comment string
		json    bool
		usage   string
	}{
		{args: []string{"ID", "--comment", "ok", "--json"}, want: "ID", comment: "ok", json: true},
		{args: []string{"--json", "ID"}, want: "ID", json: true},
		{args: []string{"--", "-dash-id"}, want: "-dash-id"},
		{args: []string{}, usage: "missing ID"},
		{args: []string{"a", "b"}, usage: `unexpected argument "b"`},
		{args: []string{"a", "--nope"}, usage: "flag provided but not defined: -nope"},
	} {
		cmd := c.command("respond", "ID", "")
		comment := cmd.fs.String("comment", "", "")
		pos, err := cmd.parse(tt.args, 1)
		if tt.usage != "" {
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(ue.msg, tt.usage) {
				t.Errorf("%q: %v, want usage error %q", tt.args, err, tt.usage)
			}
			continue
		}
		if err != nil || pos[0] != tt.want || *comment != tt.comment || cmd.json != tt.json {
			t.Errorf("%q: %v %q comment %q json %v", tt.args, err, pos, *comment, cmd.json)
		}
	}
}

func TestCLIUnknownSettings(t *testing.T) {
	body := []byte(`{"id": "x", "input": {"type": "text", "max_length": 5, "placeholder": "^a", "fields": [{"id": "f", "type": "string", "hint": 1}]}}`)
	got := strings.Join(unknownSettings(body), " ")
	if got != `placeholder="^a" fields[0].hint=1` {
		t.Fatalf("got %s", got)
	}
}

func TestCLIExplain(t *testing.T) {
	err := explain(&client.Error{Status: 404, Code: "not_found", Message: "request not found"}, "request", "6f1c")
	if err.Error() != "request 6f1c not found" || !errors.Is(err, client.ErrNotFound) {
		t.Errorf("%v", err)
	}
	err = explain(&client.Error{Status: 400, Code: "validation_failed", Message: "the answer does not match",
		Fields: []input.FieldError{{Path: "data", Message: "must be a string"}}}, "request", "6f1c")
	if err.Error() != "the answer does not match\n  data: must be a string" {
		t.Errorf("%q", err)
	}
}
