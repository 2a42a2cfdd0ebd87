package input_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/input"
)

func ptr[T any](v T) *T { return &v }

var (
	colors = []input.Option{
		{ID: "red", Label: "Red"},
		{ID: "green", Label: "Green"},
		{ID: "blue", Label: "Blue"},
	}
	selectSpec = input.Spec{Type: input.Select, Options: colors}
	multiSpec  = input.Spec{Type: input.MultiSelect, Options: colors}
)

type validateCase struct {
	name    string
	spec    input.Spec
	answer  string
	wantErr error
	// wantPaths, when wantErr is set, lists the failing fields in order.
	wantPaths []string
}

// validateCases are the answers TestValidate checks, and TestJSONSchemaAgrees checks again
// with the spec's JSON Schema alone.
func validateCases() []validateCase {
	return append(slices.Clone(typeCases), []validateCase{
		// approval
		{name: "approval approved", spec: input.Spec{Type: input.Approval}, answer: `{"approved": true}`},
		{name: "approval rejected with comment", spec: input.Spec{Type: input.Approval}, answer: `{"approved": false, "comment": "not now"}`},
		{name: "approval empty comment", spec: input.Spec{Type: input.Approval}, answer: `{"approved": true, "comment": ""}`},
		{name: "approval surrounding whitespace", spec: input.Spec{Type: input.Approval}, answer: " \n\t{\"approved\":true}\r\n "},
		{name: "approval comment at limit", spec: input.Spec{Type: input.Approval}, answer: `{"approved":true,"comment":"` + strings.Repeat("é", input.MaxTextLength) + `"}`},
		{name: "approval missing approved", spec: input.Spec{Type: input.Approval}, answer: `{}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.approved"}},
		{name: "approval approved null", spec: input.Spec{Type: input.Approval}, answer: `{"approved": null}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.approved"}},
		{name: "approval approved string", spec: input.Spec{Type: input.Approval}, answer: `{"approved": "yes"}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.approved"}},
		{name: "approval approved number", spec: input.Spec{Type: input.Approval}, answer: `{"approved": 1}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.approved"}},
		{name: "approval comment not string", spec: input.Spec{Type: input.Approval}, answer: `{"approved": true, "comment": 5}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.comment"}},
		{name: "approval comment null", spec: input.Spec{Type: input.Approval}, answer: `{"approved": true, "comment": null}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.comment"}},
		{name: "approval comment too long", spec: input.Spec{Type: input.Approval}, answer: `{"approved":true,"comment":"` + strings.Repeat("a", input.MaxTextLength+1) + `"}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.comment"}},
		{name: "approval unknown field", spec: input.Spec{Type: input.Approval}, answer: `{"approved": true, "reason": "x"}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.reason"}},
		{name: "approval every field wrong", spec: input.Spec{Type: input.Approval}, answer: `{"comment": [], "extra": 1}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.approved", "$.comment", "$.extra"}},
		{name: "approval bare boolean", spec: input.Spec{Type: input.Approval}, answer: `true`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "approval list", spec: input.Spec{Type: input.Approval}, answer: `[{"approved": true}]`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "approval null not skippable", spec: input.Spec{Type: input.Approval}, answer: `null`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "approval null skippable", spec: input.Spec{Type: input.Approval, Skippable: true}, answer: `null`},

		// text
		{name: "text", spec: input.Spec{Type: input.Text}, answer: `"hello"`},
		{name: "text empty", spec: input.Spec{Type: input.Text}, answer: `""`},
		{name: "text unicode escapes", spec: input.Spec{Type: input.Text}, answer: `"caf\u00e9 \ud83d\ude00"`},
		{name: "text number", spec: input.Spec{Type: input.Text}, answer: `42`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "text object", spec: input.Spec{Type: input.Text}, answer: `{"text": "hi"}`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "text at max length in runes", spec: input.Spec{Type: input.Text, MaxLength: ptr(3)}, answer: `"äöü"`},
		{name: "text over max length", spec: input.Spec{Type: input.Text, MaxLength: ptr(3)}, answer: `"abcd"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "text at default max length", spec: input.Spec{Type: input.Text}, answer: `"` + strings.Repeat("x", input.MaxTextLength) + `"`},
		{name: "text over default max length", spec: input.Spec{Type: input.Text}, answer: `"` + strings.Repeat("x", input.MaxTextLength+1) + `"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "text max length zero", spec: input.Spec{Type: input.Text, MaxLength: ptr(0)}, answer: `"a"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "text at min length", spec: input.Spec{Type: input.Text, MinLength: ptr(2)}, answer: `"ab"`},
		{name: "text under min length", spec: input.Spec{Type: input.Text, MinLength: ptr(2)}, answer: `"a"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "text newline single line", spec: input.Spec{Type: input.Text}, answer: `"a\nb"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "text carriage return single line", spec: input.Spec{Type: input.Text}, answer: `"a\rb"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "text newline multiline", spec: input.Spec{Type: input.Text, Multiline: true}, answer: `"a\r\nb\nc"`},
		{name: "text tab single line", spec: input.Spec{Type: input.Text}, answer: `"a\tb"`},
		{name: "text too short and multiline", spec: input.Spec{Type: input.Text, MinLength: ptr(5)}, answer: `"a\n"`, wantErr: input.ErrInvalid, wantPaths: []string{"$", "$"}},
		{name: "text null not skippable", spec: input.Spec{Type: input.Text}, answer: `null`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "text null skippable", spec: input.Spec{Type: input.Text, Skippable: true, MinLength: ptr(3)}, answer: ` null `},

		// boolean
		{name: "boolean true", spec: input.Spec{Type: input.Boolean}, answer: `true`},
		{name: "boolean false", spec: input.Spec{Type: input.Boolean}, answer: `false`},
		{name: "boolean string", spec: input.Spec{Type: input.Boolean}, answer: `"true"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "boolean number", spec: input.Spec{Type: input.Boolean}, answer: `0`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "boolean null", spec: input.Spec{Type: input.Boolean}, answer: `null`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "boolean null skippable", spec: input.Spec{Type: input.Boolean, Skippable: true}, answer: `null`},
		{name: "boolean capitalised", spec: input.Spec{Type: input.Boolean}, answer: `True`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},

		// number
		{name: "number", spec: input.Spec{Type: input.Number}, answer: `12.5`},
		{name: "number negative exponent", spec: input.Spec{Type: input.Number}, answer: `-1.5e-3`},
		{name: "number negative zero", spec: input.Spec{Type: input.Number}, answer: `-0`},
		{name: "number underflows to zero", spec: input.Spec{Type: input.Number}, answer: `1e-400`},
		{name: "number largest float", spec: input.Spec{Type: input.Number}, answer: `1.7976931348623157e308`},
		{name: "number 1e400", spec: input.Spec{Type: input.Number}, answer: `1e400`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "number -1e400", spec: input.Spec{Type: input.Number}, answer: `-1e400`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "number huge integer digits", spec: input.Spec{Type: input.Number}, answer: strings.Repeat("9", 400), wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "number as string", spec: input.Spec{Type: input.Number}, answer: `"12"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "number NaN", spec: input.Spec{Type: input.Number}, answer: `NaN`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "number Infinity", spec: input.Spec{Type: input.Number}, answer: `Infinity`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "number leading zero", spec: input.Spec{Type: input.Number}, answer: `012`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "number hex", spec: input.Spec{Type: input.Number}, answer: `0x10`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "number at min", spec: input.Spec{Type: input.Number, Min: ptr(1.0), Max: ptr(10.0)}, answer: `1`},
		{name: "number at max", spec: input.Spec{Type: input.Number, Min: ptr(1.0), Max: ptr(10.0)}, answer: `10`},
		{name: "number under min", spec: input.Spec{Type: input.Number, Min: ptr(1.0), Max: ptr(10.0)}, answer: `0.999`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "number over max", spec: input.Spec{Type: input.Number, Min: ptr(1.0), Max: ptr(10.0)}, answer: `10.001`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "number negative min", spec: input.Spec{Type: input.Number, Min: ptr(-5.0)}, answer: `-5.5`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "integer whole", spec: input.Spec{Type: input.Number, Integer: true}, answer: `42`},
		{name: "integer written with fraction and exponent", spec: input.Spec{Type: input.Number, Integer: true}, answer: `4.2e1`},
		{name: "integer whole with point", spec: input.Spec{Type: input.Number, Integer: true}, answer: `3.0`},
		{name: "integer fraction", spec: input.Spec{Type: input.Number, Integer: true}, answer: `3.5`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "integer fraction and over max", spec: input.Spec{Type: input.Number, Integer: true, Max: ptr(3.0)}, answer: `3.5`, wantErr: input.ErrInvalid, wantPaths: []string{"$", "$"}},
		{name: "number null skippable", spec: input.Spec{Type: input.Number, Skippable: true, Min: ptr(1.0)}, answer: `null`},

		// select
		{name: "select offered", spec: selectSpec, answer: `"green"`},
		{name: "select not offered", spec: selectSpec, answer: `"purple"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "select is case sensitive", spec: selectSpec, answer: `"Red"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "select label is not an id", spec: input.Spec{Type: input.Select, Options: []input.Option{{ID: "a", Label: "Apple"}}}, answer: `"Apple"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "select list", spec: selectSpec, answer: `["red"]`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "select number", spec: selectSpec, answer: `1`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "select custom allowed", spec: input.Spec{Type: input.Select, Options: colors, AllowCustom: true}, answer: `"purple"`},
		{name: "select custom only", spec: input.Spec{Type: input.Select, AllowCustom: true}, answer: `"anything"`},
		{name: "select custom empty", spec: input.Spec{Type: input.Select, Options: colors, AllowCustom: true}, answer: `""`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "select custom at 1000 chars", spec: input.Spec{Type: input.Select, AllowCustom: true}, answer: `"` + strings.Repeat("ß", 1000) + `"`},
		{name: "select custom over 1000 chars", spec: input.Spec{Type: input.Select, AllowCustom: true}, answer: `"` + strings.Repeat("x", 1001) + `"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "select null", spec: selectSpec, answer: `null`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "select null skippable", spec: input.Spec{Type: input.Select, Options: colors, Skippable: true}, answer: `null`},

		// multiselect
		{name: "multiselect two", spec: multiSpec, answer: `["red", "blue"]`},
		{name: "multiselect none", spec: multiSpec, answer: `[]`},
		{name: "multiselect not a list", spec: multiSpec, answer: `"red"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "multiselect object", spec: multiSpec, answer: `{"0": "red"}`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "multiselect option not offered", spec: multiSpec, answer: `["red", "purple"]`, wantErr: input.ErrInvalid, wantPaths: []string{"$[1]"}},
		{name: "multiselect non-string pick", spec: multiSpec, answer: `["red", 2, null]`, wantErr: input.ErrInvalid, wantPaths: []string{"$[1]", "$[2]"}},
		{name: "multiselect duplicate pick", spec: multiSpec, answer: `["red", "green", "red"]`, wantErr: input.ErrInvalid, wantPaths: []string{"$[2]"}},
		{name: "multiselect duplicate custom pick", spec: input.Spec{Type: input.MultiSelect, AllowCustom: true}, answer: `["x", "x"]`, wantErr: input.ErrInvalid, wantPaths: []string{"$[1]"}},
		{name: "multiselect custom allowed", spec: input.Spec{Type: input.MultiSelect, Options: colors, AllowCustom: true}, answer: `["red", "purple"]`},
		{name: "multiselect custom empty", spec: input.Spec{Type: input.MultiSelect, Options: colors, AllowCustom: true}, answer: `["red", ""]`, wantErr: input.ErrInvalid, wantPaths: []string{"$[1]"}},
		{name: "multiselect at min picks", spec: input.Spec{Type: input.MultiSelect, Options: colors, MinPicks: ptr(2)}, answer: `["red", "blue"]`},
		{name: "multiselect too few picks", spec: input.Spec{Type: input.MultiSelect, Options: colors, MinPicks: ptr(2)}, answer: `["red"]`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "multiselect empty with min picks", spec: input.Spec{Type: input.MultiSelect, Options: colors, MinPicks: ptr(1)}, answer: `[]`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "multiselect at max picks", spec: input.Spec{Type: input.MultiSelect, Options: colors, MaxPicks: ptr(2)}, answer: `["red", "blue"]`},
		{name: "multiselect too many picks", spec: input.Spec{Type: input.MultiSelect, Options: colors, MaxPicks: ptr(2)}, answer: `["red", "green", "blue"]`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "multiselect every problem", spec: input.Spec{Type: input.MultiSelect, Options: colors, MaxPicks: ptr(2)}, answer: `["red", "red", "pink", true]`, wantErr: input.ErrInvalid, wantPaths: []string{"$[1]", "$[2]", "$[3]", "$"}},
		{name: "multiselect null", spec: multiSpec, answer: `null`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "multiselect null skippable", spec: input.Spec{Type: input.MultiSelect, Options: colors, Skippable: true, MinPicks: ptr(1)}, answer: `null`},

		// unusable spec
		{name: "unknown type", spec: input.Spec{Type: "date"}, answer: `"2024-01-01"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "zero spec", spec: input.Spec{}, answer: `true`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},

		// not JSON at all
		{name: "empty", spec: input.Spec{Type: input.Text}, answer: ``, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "whitespace only", spec: input.Spec{Type: input.Text, Skippable: true}, answer: " \n\t ", wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "invalid JSON", spec: input.Spec{Type: input.Text}, answer: `"unterminated`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "bare word", spec: input.Spec{Type: input.Text}, answer: `hello`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "single quotes", spec: input.Spec{Type: input.Text}, answer: `'hello'`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "two values", spec: input.Spec{Type: input.Text}, answer: `"a" "b"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "trailing garbage", spec: input.Spec{Type: input.Boolean}, answer: `true x`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		// A stray closing bracket after the value used to slip past the decoder.
		{name: "trailing close brace", spec: input.Spec{Type: input.Boolean}, answer: `true}`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "trailing close bracket", spec: multiSpec, answer: `["red"]]`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		// Only space, tab, CR and LF are JSON whitespace (found by FuzzValidate: "\v0" was accepted).
		{name: "vertical tab", spec: input.Spec{Type: input.Number}, answer: "\v0", wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "form feed", spec: input.Spec{Type: input.Boolean}, answer: "true\f", wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "no-break space", spec: input.Spec{Type: input.Boolean}, answer: "\u00a0true", wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "next line", spec: input.Spec{Type: input.Boolean}, answer: "true\u0085", wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "trailing comma", spec: multiSpec, answer: `["red",]`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "approval trailing comma", spec: input.Spec{Type: input.Approval}, answer: `{"approved": true,}`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "deeply nested list", spec: multiSpec, answer: strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000), wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		{name: "deeply nested object", spec: input.Spec{Type: input.Approval}, answer: strings.Repeat(`{"a":`, 50_000) + "1" + strings.Repeat("}", 50_000), wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
		// The depth limit (MaxDepth) is checked before the schema; it used to be encoding/json's 10000.
		{name: "nested at the depth limit", spec: multiSpec, answer: "[" + strings.Repeat("[", input.MaxDepth-1) + strings.Repeat("]", input.MaxDepth-1) + "]", wantErr: input.ErrInvalid, wantPaths: []string{"$[0]"}},
		{name: "nested beyond the depth limit", spec: multiSpec, answer: "[" + strings.Repeat("[", input.MaxDepth) + strings.Repeat("]", input.MaxDepth) + "]", wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
	}...)
}

func TestValidate(t *testing.T) {
	t.Parallel()

	for _, tt := range validateCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.spec.Validate(json.RawMessage(tt.answer))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Validate(%.80s) = %v, want %v", tt.answer, err, tt.wantErr)
			}
			if tt.wantErr == nil {
				if _, err := input.Hash(json.RawMessage(tt.answer)); err != nil {
					t.Fatalf("Hash of an accepted answer: %v", err)
				}
				return
			}
			var ve *input.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T is not a *ValidationError", err)
			}
			if got := paths(ve); !slices.Equal(got, tt.wantPaths) {
				t.Errorf("paths = %q, want %q (%v)", got, tt.wantPaths, err)
			}
			wantHuman(t, ve.Fields)
		})
	}
}

// wantHuman fails when a message is empty or shows the schema library's own wording.
func wantHuman(t *testing.T, fields []input.FieldError) {
	t.Helper()
	for _, f := range fields {
		if f.Message == "" {
			t.Errorf("field %s has no message", f.Path)
		}
		for _, raw := range []string{"at '", "jsonschema", "hitl.invalid", "failed", "got string", "want ", "'/", "%!"} {
			if strings.Contains(f.Message, raw) {
				t.Errorf("field %s: message %q shows library output (%q)", f.Path, f.Message, raw)
			}
		}
	}
}

func paths(ve *input.ValidationError) []string {
	var p []string
	for _, f := range ve.Fields {
		p = append(p, f.Path)
	}
	return p
}

func TestValidationError(t *testing.T) {
	t.Parallel()

	err := error(&input.ValidationError{Fields: []input.FieldError{
		{Path: "$.approved", Message: "is required"},
		{Path: "$.x", Message: "is not a field"},
	}})
	if got, want := err.Error(), "invalid: $.approved: is required; $.x: is not a field"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, input.ErrInvalid) {
		t.Error("errors.Is(err, ErrInvalid) = false")
	}
	if wrapped := errors.Join(errors.New("ask"), err); !errors.Is(wrapped, input.ErrInvalid) {
		t.Error("a wrapped *ValidationError does not match ErrInvalid")
	}
	if errors.Is(errors.New("invalid"), input.ErrInvalid) {
		t.Error("an unrelated error matches ErrInvalid")
	}
}

func TestValidateMessages(t *testing.T) {
	t.Parallel()

	// The messages are shown to people answering; spot-check that they say what is wrong.
	tests := []struct {
		spec   input.Spec
		answer string
		want   string
	}{
		{input.Spec{Type: input.Approval}, `{"approved":"yes"}`, "not a string"},
		{input.Spec{Type: input.Select, Options: colors}, `"pink"`, `"pink" is not one of the options (red, green, blue)`},
		{input.Spec{Type: input.MultiSelect, Options: colors}, `["red","red"]`, `picks "red" twice`},
		{input.Spec{Type: input.Text, MaxLength: ptr(2)}, `"abc"`, "at most 2 characters (got 3)"},
		{input.Spec{Type: input.Number, Min: ptr(3.0)}, `2`, "at least 3"},
		{input.Spec{Type: input.Number}, `1e400`, "out of range"},
	}
	for _, tt := range tests {
		err := tt.spec.Validate(json.RawMessage(tt.answer))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%s) = %v, want it to mention %q", tt.answer, err, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		spec      input.Spec
		wantErr   error
		wantPaths []string
	}{
		{name: "approval", spec: input.Spec{Type: input.Approval}},
		{name: "approval with button labels", spec: input.Spec{Type: input.Approval, Options: []input.Option{{ID: "yes", Label: "Ship"}, {ID: "no", Label: "Hold"}}}},
		{name: "text", spec: input.Spec{Type: input.Text, MinLength: ptr(1), MaxLength: ptr(1)}},
		{name: "boolean", spec: input.Spec{Type: input.Boolean}},
		{name: "number", spec: input.Spec{Type: input.Number, Min: ptr(-1.0), Max: ptr(-1.0), Integer: true}},
		{name: "select", spec: selectSpec},
		{name: "select custom only", spec: input.Spec{Type: input.Select, AllowCustom: true}},
		{name: "multiselect", spec: multiSpec},
		{name: "multiselect custom only", spec: input.Spec{Type: input.MultiSelect, AllowCustom: true}},
		{name: "missing type", spec: input.Spec{}, wantErr: input.ErrInvalid, wantPaths: []string{"input.type"}},
		{name: "unknown type", spec: input.Spec{Type: "Approval"}, wantErr: input.ErrInvalid, wantPaths: []string{"input.type"}},
		{name: "select without options", spec: input.Spec{Type: input.Select}, wantErr: input.ErrInvalid, wantPaths: []string{"input.options"}},
		{name: "multiselect without options", spec: input.Spec{Type: input.MultiSelect, Options: []input.Option{}}, wantErr: input.ErrInvalid, wantPaths: []string{"input.options"}},
		{name: "option without id", spec: input.Spec{Type: input.Select, Options: []input.Option{{ID: "a"}, {Label: "B"}}}, wantErr: input.ErrInvalid, wantPaths: []string{"input.options[1].id"}},
		{name: "duplicate option ids", spec: input.Spec{Type: input.Select, Options: []input.Option{{ID: "a"}, {ID: "b"}, {ID: "a"}}}, wantErr: input.ErrInvalid, wantPaths: []string{"input.options[2].id"}},
		{name: "min length over max length", spec: input.Spec{Type: input.Text, MinLength: ptr(5), MaxLength: ptr(4)}, wantErr: input.ErrInvalid, wantPaths: []string{"input.min_length"}},
		{name: "negative max length", spec: input.Spec{Type: input.Text, MaxLength: ptr(-1)}, wantErr: input.ErrInvalid, wantPaths: []string{"input.max_length"}},
		{name: "negative min length", spec: input.Spec{Type: input.Text, MinLength: ptr(-1)}, wantErr: input.ErrInvalid, wantPaths: []string{"input.min_length"}},
		{name: "negative picks", spec: input.Spec{Type: input.MultiSelect, Options: colors, MinPicks: ptr(-2), MaxPicks: ptr(-1)}, wantErr: input.ErrInvalid, wantPaths: []string{"input.min_picks", "input.max_picks"}},
		{name: "min picks over max picks", spec: input.Spec{Type: input.MultiSelect, Options: colors, MinPicks: ptr(3), MaxPicks: ptr(2)}, wantErr: input.ErrInvalid, wantPaths: []string{"input.min_picks"}},
		{name: "zero bounds", spec: input.Spec{Type: input.MultiSelect, Options: colors, MinPicks: ptr(0), MaxPicks: ptr(0), MinLength: ptr(0), MaxLength: ptr(0)}},
		{name: "min over max", spec: input.Spec{Type: input.Number, Min: ptr(2.0), Max: ptr(1.5)}, wantErr: input.ErrInvalid, wantPaths: []string{"input.min"}},
		{
			name:      "everything wrong",
			spec:      input.Spec{Type: "nope", Options: []input.Option{{}, {}}, MinLength: ptr(2), MaxLength: ptr(1), Min: ptr(1.0), Max: ptr(0.0)},
			wantErr:   input.ErrInvalid,
			wantPaths: []string{"input.type", "input.options[0].id", "input.options[1].id", "input.options[1].id", "input.min_length", "input.min"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.spec.Check()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Check() = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil {
				return
			}
			var ve *input.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T is not a *ValidationError", err)
			}
			if got := paths(ve); !slices.Equal(got, tt.wantPaths) {
				t.Errorf("paths = %q, want %q (%v)", got, tt.wantPaths, err)
			}
		})
	}
}

func TestSpecJSON(t *testing.T) {
	t.Parallel()

	// The wire names are part of the API (request.json schema, HTTP clients).
	spec := input.Spec{
		Type: input.MultiSelect, Options: []input.Option{{ID: "a", Label: "A", Description: "first"}},
		AllowCustom: true, Skippable: true, MinLength: ptr(0), MaxLength: ptr(10), Multiline: true,
		Min: ptr(0.5), Max: ptr(1.5), Integer: true, MinPicks: ptr(1), MaxPicks: ptr(2),
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"multiselect","options":[{"id":"a","label":"A","description":"first"}],"allow_custom":true,` +
		`"skippable":true,"min_length":0,"max_length":10,"multiline":true,"min":0.5,"max":1.5,"integer":true,` +
		`"min_picks":1,"max_picks":2}`
	if string(b) != want {
		t.Errorf("Marshal = %s\nwant      %s", b, want)
	}
	if b, _ := json.Marshal(input.Spec{Type: input.Text}); string(b) != `{"type":"text"}` {
		t.Errorf("zero fields are not omitted: %s", b)
	}
	var back input.Spec
	if err := json.Unmarshal([]byte(want), &back); err != nil {
		t.Fatal(err)
	}
	if b2, _ := json.Marshal(back); string(b2) != want {
		t.Errorf("round trip = %s", b2)
	}
}
