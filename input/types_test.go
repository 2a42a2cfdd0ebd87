package input_test

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/input"
)

var (
	// refundAction is an editable approval's proposed action and its schema.
	refundProposed = json.RawMessage(`{"order_id": "A-1001", "amount": 149.99, "method": "original", "notify": ["email"]}`)
	refundSchema   = json.RawMessage(`{
		"type": "object",
		"properties": {
			"order_id": {"type": "string", "const": "A-1001"},
			"amount":   {"type": "number", "exclusiveMinimum": 0, "maximum": 149.99},
			"method":   {"enum": ["original", "store_credit", "bank"]},
			"notify":   {"type": "array", "items": {"$ref": "#/$defs/channel"}, "uniqueItems": true}
		},
		"required": ["order_id", "amount", "method"],
		"additionalProperties": false,
		"$defs": {"channel": {"enum": ["email", "sms", "push"]}}
	}`)
	editSpec   = input.Spec{Type: input.Approval, Proposed: refundProposed, ActionSchema: refundSchema}
	strictEdit = input.Spec{Type: input.Approval, Proposed: refundProposed, ActionSchema: refundSchema, RequireCommentOnReject: true}
	feedback   = input.Spec{Type: input.Approval, RequireCommentOnReject: true, Labels: input.Labels{Approve: "Ship it", Reject: "Hold"}}

	// masumiForm is Masumi's finance review (seed 000) plus a select.
	masumiForm = input.Spec{Type: input.Form, Fields: []input.Field{
		{ID: "approved", Type: input.FieldBoolean, Name: "Approve", Required: true, Data: input.FieldData{Description: "Approve this request?"}},
		{ID: "budget", Type: input.FieldNumber, Name: "Approved Budget (USD)"},
		{ID: "notes", Type: input.FieldString, Name: "Reviewer Notes"},
		{ID: "tier", Type: input.FieldSelect, Options: []input.Option{{ID: "gold", Label: "Gold"}, {ID: "silver", Label: "Silver"}}},
	}}

	// flujo is Flujo's input_schema (seed 002).
	flujo = input.Spec{Type: input.JSON, Schema: json.RawMessage(`{
		"type": "object",
		"properties": {"confirmation": {"type": "string", "enum": ["yes", "no"]}, "reason": {"type": "string"}},
		"required": ["confirmation"]
	}`)}
	flujoSkippable = input.Spec{Type: input.JSON, Skippable: true, Schema: flujo.Schema}
	anything       = input.Spec{Type: input.JSON, Schema: json.RawMessage(`true`)}
	listSchema     = input.Spec{Type: input.JSON, Schema: json.RawMessage(`{
		"type": "object",
		"properties": {"items": {"type": "array", "items": {"type": "integer", "minimum": 1}, "maxItems": 3}, "a b": {"type": "boolean"}},
		"additionalProperties": false
	}`)}
	emailSchema = input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"type": "string", "format": "email"}`)}
	ticketText  = input.Spec{Type: input.Text, Pattern: `^[A-Z]{2,4}-[0-9]+$`}
)

// typeCases cover the types and options beyond the original six (see validateCases).
var typeCases = []validateCase{
	// approval: labels, reject with feedback
	{name: "labels change nothing in the answer", spec: feedback, answer: `{"approved": true}`},
	{name: "reject with feedback", spec: feedback, answer: `{"approved": false, "comment": "tests are red"}`},
	{name: "reject without the required comment", spec: feedback, answer: `{"approved": false}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.comment"}},
	{name: "reject with a blank comment", spec: feedback, answer: `{"approved": false, "comment": " \n\t"}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.comment"}},
	{name: "reject with an empty comment", spec: feedback, answer: `{"approved": false, "comment": ""}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.comment"}},
	{name: "approve needs no comment", spec: feedback, answer: `{"approved": true, "comment": ""}`},
	{name: "feedback without approved", spec: feedback, answer: `{"comment": "x"}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.approved"}},
	{name: "reject without comment when not required", spec: input.Spec{Type: input.Approval}, answer: `{"approved": false}`},

	// approval: edit then approve
	{name: "approve as proposed", spec: editSpec, answer: `{"approved": true}`},
	{name: "approve edited", spec: editSpec, answer: `{"approved": true, "edited": {"order_id": "A-1001", "amount": 120, "method": "store_credit", "notify": ["email", "sms"]}}`},
	{name: "edited amount not a number", spec: editSpec, answer: `{"approved": true, "edited": {"order_id": "A-1001", "amount": "120", "method": "bank"}}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.edited.amount"}},
	{name: "edited over the schema's maximum", spec: editSpec, answer: `{"approved": true, "edited": {"order_id": "A-1001", "amount": 500, "method": "bank"}}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.edited.amount"}},
	{name: "edited missing a required member", spec: editSpec, answer: `{"approved": true, "edited": {"order_id": "A-1001", "amount": 1}}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.edited.method"}},
	{name: "edited with an unknown member", spec: editSpec, answer: `{"approved": true, "edited": {"order_id": "A-1001", "amount": 1, "method": "bank", "tip": 5}}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.edited.tip"}},
	{name: "edited through a $ref", spec: editSpec, answer: `{"approved": true, "edited": {"order_id": "A-1001", "amount": 1, "method": "bank", "notify": ["email", "fax", "email"]}}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.edited.notify[1]", "$.edited.notify[2]"}},
	{name: "edited changes a const", spec: editSpec, answer: `{"approved": true, "edited": {"order_id": "B-2", "amount": 1, "method": "bank"}}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.edited.order_id"}},
	{name: "edited not an object", spec: editSpec, answer: `{"approved": true, "edited": [1]}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.edited"}},
	{name: "edited when rejecting", spec: editSpec, answer: `{"approved": false, "edited": {"order_id": "A-1001", "amount": 1, "method": "bank"}}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.edited"}},
	{name: "edited when the approval is not editable", spec: input.Spec{Type: input.Approval}, answer: `{"approved": true, "edited": {}}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.edited"}},
	{name: "edited anything without action_schema", spec: input.Spec{Type: input.Approval, Proposed: json.RawMessage(`{"a": 1}`)}, answer: `{"approved": true, "edited": [null, "x"]}`},
	{name: "reject edited without the comment", spec: strictEdit, answer: `{"approved": false, "edited": {"order_id": "A-1001", "amount": 1, "method": "bank"}}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.comment", "$.edited"}},
	{name: "editable approval skipped", spec: input.Spec{Type: input.Approval, ActionSchema: refundSchema, Skippable: true, RequireCommentOnReject: true}, answer: `null`},

	// text pattern
	{name: "text pattern", spec: ticketText, answer: `"OPS-42"`},
	{name: "text pattern mismatch", spec: ticketText, answer: `"ops-42"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
	{name: "text pattern and single line", spec: input.Spec{Type: input.Text, Pattern: `^a`}, answer: `"b\nc"`, wantErr: input.ErrInvalid, wantPaths: []string{"$", "$"}},
	{name: "text pattern multiline", spec: input.Spec{Type: input.Text, Pattern: `^a`, Multiline: true}, answer: `"a\nc"`},
	{name: "text pattern is unanchored", spec: input.Spec{Type: input.Text, Pattern: `[0-9]`}, answer: `"room 7"`},

	// numbers beyond float64, or with huge exponents
	{name: "number exponent far below range", spec: input.Spec{Type: input.Number, Min: ptr(0.0)}, answer: `1e-1000000`},
	{name: "number exponent far beyond range", spec: input.Spec{Type: input.Number}, answer: `1e1000000`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
	{name: "number integer with huge exponent", spec: input.Spec{Type: input.Number, Integer: true}, answer: `1e300`},
	{name: "numbers out of range in a json answer", spec: anything, answer: `{"a": [1, 1e400], "b": {"c": -1e309}}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.a[1]", "$.b.c"}},
	{name: "number out of range in an edited action", spec: editSpec, answer: `{"approved": true, "edited": {"amount": 1e999}}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.edited.amount"}},

	// form (Masumi)
	{name: "form", spec: masumiForm, answer: `{"approved": true, "budget": 1500, "notes": "ok", "tier": "gold"}`},
	{name: "form only required", spec: masumiForm, answer: `{"approved": false}`},
	{name: "form optional null", spec: masumiForm, answer: `{"approved": false, "budget": null, "tier": null}`},
	{name: "form required missing", spec: masumiForm, answer: `{"budget": 1}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.approved"}},
	{name: "form required null", spec: masumiForm, answer: `{"approved": null}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.approved"}},
	{name: "form wrong types", spec: masumiForm, answer: `{"approved": "yes", "budget": "1500", "notes": 3}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.approved", "$.budget", "$.notes"}},
	{name: "form option not offered", spec: masumiForm, answer: `{"approved": true, "tier": "platinum"}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.tier"}},
	{name: "form unknown fields", spec: masumiForm, answer: `{"approved": true, "z": 1, "a": 2}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.a", "$.z"}},
	{name: "form not an object", spec: masumiForm, answer: `[{"approved": true}]`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
	{name: "form null", spec: masumiForm, answer: `null`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
	{name: "form skipped", spec: input.Spec{Type: input.Form, Fields: masumiForm.Fields, Skippable: true}, answer: `null`},
	{name: "form string over the cap", spec: masumiForm, answer: `{"approved": true, "notes": "` + strings.Repeat("x", input.MaxTextLength+1) + `"}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.notes"}},

	// json (Flujo)
	{name: "json", spec: flujo, answer: `{"confirmation": "yes", "reason": "fine"}`},
	{name: "json missing required", spec: flujo, answer: `{"reason": "fine"}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.confirmation"}},
	{name: "json enum", spec: flujo, answer: `{"confirmation": "maybe"}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.confirmation"}},
	{name: "json wrong type", spec: flujo, answer: `"yes"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
	{name: "json null", spec: flujo, answer: `null`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
	{name: "json skipped", spec: flujoSkippable, answer: `null`},
	{name: "json skippable still checked", spec: flujoSkippable, answer: `{"confirmation": 1, "reason": []}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.confirmation", "$.reason"}},
	{name: "json list items", spec: listSchema, answer: `{"items": [1, 2, 2.5, 0]}`, wantErr: input.ErrInvalid, wantPaths: []string{"$.items[2]", "$.items[3]", "$.items"}},
	{name: "json member that needs brackets", spec: listSchema, answer: `{"a b": "yes"}`, wantErr: input.ErrInvalid, wantPaths: []string{"$['a b']"}},
	{name: "json format asserted", spec: emailSchema, answer: `"not an address"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
	{name: "json format ok", spec: emailSchema, answer: `"ops@example.com"`},
	{name: "json anything", spec: anything, answer: `[{"x": [null, 1.5, "é"]}]`},
	{name: "json anything but not skippable", spec: anything, answer: `null`},
	{name: "json false schema", spec: input.Spec{Type: input.JSON, Schema: json.RawMessage(`false`)}, answer: `1`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
	{name: "json nullable anyOf", spec: input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"anyOf": [{"type": "string", "maxLength": 2}, {"type": "null"}]}`)}, answer: `"abc"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
	{name: "json draft-07 schema", spec: input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"n": {"type": "integer"}}, "$ref": "#/definitions/n"}`)}, answer: `1.5`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},

	// deep or huge JSON
	{name: "json at the depth limit", spec: anything, answer: strings.Repeat("[", input.MaxDepth) + strings.Repeat("]", input.MaxDepth)},
	{name: "json beyond the depth limit", spec: anything, answer: strings.Repeat("[", input.MaxDepth+1) + strings.Repeat("]", input.MaxDepth+1), wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
	{name: "brackets in strings do not count", spec: anything, answer: `["` + strings.Repeat("[{", 100) + `\"]"]`},
	{name: "json over the size limit", spec: anything, answer: `"` + strings.Repeat("x", input.MaxAnswerSize) + `"`, wantErr: input.ErrInvalid, wantPaths: []string{"$"}},
	{name: "many small values", spec: anything, answer: "[" + strings.Repeat("0,", 200_000) + "0]"},
}

func TestValidateMessagesNewTypes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		spec   input.Spec
		answer string
		want   []input.FieldError
	}{
		{feedback, `{"approved": false}`, []input.FieldError{{Path: "$.comment", Message: "is required when rejecting: say why"}}},
		{feedback, `{"approved": false, "comment": "  "}`, []input.FieldError{{Path: "$.comment", Message: "must say why when rejecting (it is blank)"}}},
		{editSpec, `{"approved": false, "edited": {}}`, []input.FieldError{{Path: "$.edited", Message: "can only be given when approving"}}},
		{editSpec, `{"approved": true, "edited": {"order_id": "A-1001", "amount": "x", "method": "cash"}}`, []input.FieldError{
			{Path: "$.edited.amount", Message: "must be a number, not a string"},
			{Path: "$.edited.method", Message: `"cash" is not one of the options (original, store_credit, bank)`},
		}},
		{input.Spec{Type: input.Approval}, `{"approved": true, "x": 1}`, []input.FieldError{{Path: "$.x", Message: "is not a field of an approval (approved, comment)"}}},
		{input.Spec{Type: input.Approval}, `null`, []input.FieldError{{Path: "$", Message: "an answer is required (this question cannot be skipped)"}}},
		{input.Spec{Type: input.Approval}, `"yes"`, []input.FieldError{{Path: "$", Message: `must be an object like {"approved": true, "comment": "..."}, not a string`}}},
		{ticketText, `"x"`, []input.FieldError{{Path: "$", Message: "must match the pattern ^[A-Z]{2,4}-[0-9]+$"}}},
		{input.Spec{Type: input.Text}, `"a\nb"`, []input.FieldError{{Path: "$", Message: "must be a single line"}}},
		{input.Spec{Type: input.Number, Integer: true}, `2.5`, []input.FieldError{{Path: "$", Message: "must be a whole number"}}},
		{input.Spec{Type: input.Number}, `1e400`, []input.FieldError{{Path: "$", Message: "is out of range (numbers must be within ±1.7976931348623157e308)"}}},
		{input.Spec{Type: input.Boolean, Skippable: true}, `"no"`, []input.FieldError{{Path: "$", Message: "must be true or false, not a string"}}},
		{input.Spec{Type: input.Select, Options: colors, Skippable: true}, `"pink"`, []input.FieldError{{Path: "$", Message: `"pink" is not one of the options (red, green, blue)`}}},
		{input.Spec{Type: input.Select, Options: colors, AllowCustom: true}, `""`, []input.FieldError{{Path: "$", Message: "a custom answer must be 1 to 1000 characters"}}},
		{input.Spec{Type: input.MultiSelect, Options: colors, MaxPicks: ptr(1)}, `["red", 1, "red"]`, []input.FieldError{
			{Path: "$[1]", Message: "must be an option id (a string), not a number"},
			{Path: "$[2]", Message: `picks "red" twice`},
			{Path: "$", Message: "must pick at most 1 (got 3)"},
		}},
		{masumiForm, `{"approved": null, "tier": "x", "q": 1}`, []input.FieldError{
			{Path: "$.approved", Message: "is required"},
			{Path: "$.q", Message: "is not a field of this form"},
			{Path: "$.tier", Message: `"x" is not one of the options (gold, silver)`},
		}},
		{flujo, `{}`, []input.FieldError{{Path: "$.confirmation", Message: "is required"}}},
		{listSchema, `{"items": [1, 2, 3, 4]}`, []input.FieldError{{Path: "$.items", Message: "must have at most 3 items (got 4)"}}},
		{emailSchema, `"x"`, []input.FieldError{{Path: "$", Message: "is not a valid email"}}},
		{anything, strings.Repeat("[", 65) + strings.Repeat("]", 65), []input.FieldError{{Path: "$", Message: "is nested too deeply (more than 64 levels of lists and objects)"}}},
	}
	for _, tt := range tests {
		err := tt.spec.Validate(json.RawMessage(tt.answer))
		var ve *input.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("Validate(%.60s) = %v, want %v", tt.answer, err, tt.want)
			continue
		}
		if !slices.Equal(ve.Fields, tt.want) {
			t.Errorf("Validate(%.60s)\n got %q\nwant %q", tt.answer, ve.Fields, tt.want)
		}
	}
}

func TestCheckNewTypes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		spec      input.Spec
		wantPaths []string
	}{
		{name: "approval with labels and feedback", spec: feedback},
		{name: "editable approval", spec: editSpec},
		{name: "editable without schema", spec: input.Spec{Type: input.Approval, Proposed: json.RawMessage(`[1, 2]`)}},
		{name: "editable without proposed", spec: input.Spec{Type: input.Approval, ActionSchema: json.RawMessage(`{"type": "object"}`)}},
		{name: "form", spec: masumiForm},
		{name: "json", spec: flujo},
		{name: "json true", spec: anything},
		{name: "json with internal refs and $id", spec: input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"$id": "https://example.com/s.json", "$ref": "#/$defs/a", "$defs": {"a": {"type": "string"}}}`)}},
		{name: "text pattern", spec: ticketText},

		{name: "bad text pattern", spec: input.Spec{Type: input.Text, Pattern: `(ab`}, wantPaths: []string{"input.pattern"}},
		{name: "lookahead is not RE2", spec: input.Spec{Type: input.Text, Pattern: `^(?=a)`}, wantPaths: []string{"input.pattern"}},
		{name: "non-finite bounds", spec: input.Spec{Type: input.Number, Min: ptr(math.Inf(-1)), Max: ptr(math.NaN())}, wantPaths: []string{"input.min", "input.max"}},
		{name: "json without schema", spec: input.Spec{Type: input.JSON}, wantPaths: []string{"input.schema"}},
		{name: "json schema not JSON", spec: input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"type": `)}, wantPaths: []string{"input.schema"}},
		{name: "json schema a string", spec: input.Spec{Type: input.JSON, Schema: json.RawMessage(`"object"`)}, wantPaths: []string{"input.schema"}},
		{name: "json schema with a bad type", spec: input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"properties": {"a": {"type": "objekt"}}}`)}, wantPaths: []string{"input.schema.properties.a.type"}},
		{name: "json schema with a bad keyword value", spec: input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"type": "string", "minLength": -1, "required": "a"}`)}, wantPaths: []string{"input.schema.minLength", "input.schema.required"}},
		{name: "json remote ref", spec: input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"$ref": "https://example.com/schema.json"}`)}, wantPaths: []string{"input.schema"}},
		{name: "json file ref", spec: input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"properties": {"a": {"$ref": "file:///etc/passwd"}}}`)}, wantPaths: []string{"input.schema"}},
		{name: "json relative ref", spec: input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"$ref": "other.json"}`)}, wantPaths: []string{"input.schema"}},
		{name: "json ref to hitl's own ids", spec: input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"$ref": "input.json"}`)}, wantPaths: []string{"input.schema"}},
		{name: "json relative ref in a member", spec: input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"properties": {"a": {"$ref": "x"}}}`)}, wantPaths: []string{"input.schema"}},
		{name: "json missing internal ref", spec: input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"$ref": "#/$defs/nope"}`)}, wantPaths: []string{"input.schema"}},
		{name: "json bad regex in schema", spec: input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"type": "string", "pattern": "(x"}`)}, wantPaths: []string{"input.schema.pattern"}},
		{name: "json schema number out of range", spec: input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"maximum": 1e400}`)}, wantPaths: []string{"input.schema.maximum"}},
		{name: "json schema too deep", spec: input.Spec{Type: input.JSON, Schema: json.RawMessage(strings.Repeat(`{"not":`, 70) + `{}` + strings.Repeat("}", 70))}, wantPaths: []string{"input.schema"}},
		{name: "json unknown $schema", spec: input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"$schema": "https://example.com/meta"}`)}, wantPaths: []string{"input.schema"}},
		{name: "action_schema invalid", spec: input.Spec{Type: input.Approval, ActionSchema: json.RawMessage(`{"type": 5}`)}, wantPaths: []string{"input.action_schema.type"}},
		{name: "action_schema remote", spec: input.Spec{Type: input.Approval, ActionSchema: json.RawMessage(`{"$ref": "http://169.254.169.254/"}`)}, wantPaths: []string{"input.action_schema"}},
		{name: "proposed not JSON", spec: input.Spec{Type: input.Approval, Proposed: json.RawMessage(`{x}`)}, wantPaths: []string{"input.proposed"}},
		{
			name:      "proposed does not match action_schema",
			spec:      input.Spec{Type: input.Approval, ActionSchema: refundSchema, Proposed: json.RawMessage(`{"order_id": "A-1001", "amount": -1, "method": "cash"}`)},
			wantPaths: []string{"input.proposed.amount", "input.proposed.method"},
		},
		{name: "form field without options", spec: input.Spec{Type: input.Form, Fields: []input.Field{{ID: "a", Type: input.FieldSelect}}}, wantPaths: []string{"input.fields[0].options"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.spec.Check()
			if tt.wantPaths == nil {
				if err != nil {
					t.Fatalf("Check() = %v", err)
				}
				return
			}
			var ve *input.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, input.ErrInvalid) {
				t.Fatalf("Check() = %v, want a *ValidationError", err)
			}
			if got := paths(ve); !slices.Equal(got, tt.wantPaths) {
				t.Errorf("paths = %q, want %q (%v)", got, tt.wantPaths, err)
			}
			wantHuman(t, ve.Fields)
			// An unusable spec has no schema, and Validate says so without panicking.
			if _, err := tt.spec.JSONSchema(); err == nil {
				t.Error("JSONSchema() of an unusable spec succeeded")
			}
			if err := tt.spec.Validate(json.RawMessage(`{}`)); !errors.Is(err, input.ErrInvalid) {
				t.Errorf("Validate with an unusable spec = %v", err)
			}
		})
	}
}

func TestCheckMessagesNewTypes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		spec input.Spec
		want string
	}{
		{input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"$ref": "https://example.com/s.json"}`)}, `refers to "https://example.com/s.json", outside itself: remote references are not allowed`},
		{input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"type": "objekt"}`)}, `"objekt" is not one of the options (array, boolean, integer, null, number, object, string)`},
		{input.Spec{Type: input.Text, Pattern: `(ab`}, `is not a valid regular expression (missing closing ) in "(ab")`},
		{input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"$ref": "defs.json#/a"}`)}, `refers to "defs.json", outside itself: remote references are not allowed`},
		{input.Spec{Type: input.JSON}, "is required for a json input (a JSON Schema)"},
	}
	for _, tt := range tests {
		err := tt.spec.Check()
		var ve *input.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Message != tt.want {
			t.Errorf("Check() = %v, want one field saying %q", err, tt.want)
		}
	}
}

func TestSpecJSONNewFields(t *testing.T) {
	t.Parallel()

	// The wire names are part of the API (request.json schema, HTTP clients, docs/input.md).
	spec := input.Spec{
		Type: input.Approval, Pattern: "^x", Labels: input.Labels{Approve: "Ship it", Reject: "Hold"},
		RequireCommentOnReject: true, Proposed: json.RawMessage(`{"a":1}`), ActionSchema: json.RawMessage(`{"type":"object"}`),
		Schema: json.RawMessage(`true`),
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"approval","pattern":"^x","labels":{"approve":"Ship it","reject":"Hold"},"require_comment_on_reject":true,` +
		`"proposed":{"a":1},"action_schema":{"type":"object"},"schema":true}`
	if string(b) != want {
		t.Errorf("Marshal = %s\nwant      %s", b, want)
	}
	var back input.Spec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if b2, _ := json.Marshal(back); string(b2) != want {
		t.Errorf("round trip = %s", b2)
	}
	if b, _ := json.Marshal(input.ApprovalAnswer{Approved: true}); string(b) != `{"approved":true}` {
		t.Errorf("ApprovalAnswer without edit = %s", b)
	}
}

// TestCheckErrorIsTheCallers checks that rewriting the fields of a Check error (as the API
// does with paths) does not change what the next Check says.
func TestCheckErrorIsTheCallers(t *testing.T) {
	t.Parallel()

	spec := input.Spec{Type: input.Select, Options: []input.Option{{ID: "a"}, {ID: "a"}}, Labels: input.Labels{Approve: "cache test"}}
	for range 2 {
		var ve *input.ValidationError
		if !errors.As(spec.Check(), &ve) || len(ve.Fields) != 1 || ve.Fields[0].Path != "input.options[1].id" {
			t.Fatalf("Check() = %v", ve)
		}
		ve.Fields[0].Path = "changed"
	}
}
