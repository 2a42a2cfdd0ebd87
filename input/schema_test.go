package input_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hitl-dev/hitl/input"
)

// metaSchema is the draft 2020-12 meta-schema, bundled with the library.
var metaSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	return jsonschema.NewCompiler().Compile("https://json-schema.org/draft/2020-12/schema")
})

// compileAlone compiles a JSONSchema() document with a compiler of its own, as a client of
// the schema would (formats asserted, as hitl documents), and checks it against the
// 2020-12 meta-schema first.
func compileAlone(t testing.TB, raw json.RawMessage) *jsonschema.Schema {
	t.Helper()
	sch, err := compileStandalone(raw)
	if err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	return sch
}

func compileStandalone(raw json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("JSONSchema() is not JSON: %w", err)
	}
	meta, err := metaSchema()
	if err != nil {
		return nil, err
	}
	if err := meta.Validate(doc); err != nil {
		return nil, fmt.Errorf("JSONSchema() is not a valid 2020-12 schema: %w", err)
	}
	if m, ok := doc.(map[string]any); ok && m["$schema"] != "https://json-schema.org/draft/2020-12/schema" && m["$schema"] != "http://json-schema.org/draft-07/schema#" {
		return nil, fmt.Errorf("JSONSchema() declares $schema %v", m["$schema"])
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("https://example.com/answer.json", doc); err != nil {
		return nil, err
	}
	sch, err := c.Compile("https://example.com/answer.json")
	if err != nil {
		return nil, fmt.Errorf("JSONSchema() does not compile: %w", err)
	}
	return sch, nil
}

// schemaCanJudge reports whether an answer is within what a schema can express: valid JSON
// of one value, within the size and depth limits, with numbers that fit a float64. Outside
// that, only Validate's guards decide.
func schemaCanJudge(answer string) (any, bool) {
	a := strings.Trim(answer, " \t\r\n")
	if len(a) > input.MaxAnswerSize || !json.Valid([]byte(a)) || depth(a) > input.MaxDepth {
		return nil, false
	}
	if _, err := input.Canonical(json.RawMessage(a)); err != nil {
		return nil, false
	}
	var v any
	if err := json.Unmarshal([]byte(a), &v); err != nil { // float64 numbers, as Hash reads them
		return nil, false
	}
	return v, true
}

func depth(s string) int {
	d, max := 0, 0
	in, esc := false, false
	for _, c := range []byte(s) {
		switch {
		case in && esc:
			esc = false
		case in && c == '\\':
			esc = true
		case in && c == '"':
			in = false
		case in:
		case c == '"':
			in = true
		case c == '[' || c == '{':
			d++
			if d > max {
				max = d
			}
		case c == ']' || c == '}':
			d--
		}
	}
	return max
}

// TestJSONSchemaAgrees checks that JSONSchema() of every spec in validateCases is a valid
// 2020-12 schema which, compiled on its own, accepts and rejects the same answers as
// Validate.
func TestJSONSchemaAgrees(t *testing.T) {
	t.Parallel()

	for _, tt := range validateCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw, err := tt.spec.JSONSchema()
			if tt.spec.Check() != nil {
				if err == nil {
					t.Fatalf("JSONSchema() of an unusable spec = %s", raw)
				}
				return
			}
			if err != nil {
				t.Fatalf("JSONSchema(): %v", err)
			}
			sch := compileAlone(t, raw)
			v, ok := schemaCanJudge(tt.answer)
			if !ok {
				if tt.wantErr == nil {
					t.Fatalf("an accepted answer is beyond what a schema can judge")
				}
				return
			}
			schemaErr := sch.Validate(v)
			if (schemaErr == nil) != (tt.wantErr == nil) {
				t.Errorf("schema alone: %v; Validate wants %v\nschema %s", schemaErr, tt.wantErr, raw)
			}
		})
	}
}

func TestJSONSchemaOfEveryType(t *testing.T) {
	t.Parallel()

	tests := []struct {
		spec input.Spec
		want string
	}{
		{input.Spec{Type: input.Boolean}, `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"boolean"}`},
		{input.Spec{Type: input.Boolean, Skippable: true}, `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":["boolean","null"]}`},
		{input.Spec{Type: input.Number, Min: ptr(0.0), Max: ptr(10.0), Integer: true},
			`{"$schema":"https://json-schema.org/draft/2020-12/schema","maximum":10,"minimum":0,"multipleOf":1,"type":"number"}`},
		{input.Spec{Type: input.Text, MinLength: ptr(1), MaxLength: ptr(20)},
			`{"$schema":"https://json-schema.org/draft/2020-12/schema","maxLength":20,"minLength":1,"pattern":"^[^\\r\\n]*$","type":"string"}`},
		{input.Spec{Type: input.Text, Multiline: true, Pattern: "^x"},
			`{"$schema":"https://json-schema.org/draft/2020-12/schema","maxLength":100000,"pattern":"^x","type":"string"}`},
		{input.Spec{Type: input.Select, Options: colors, Skippable: true},
			`{"$schema":"https://json-schema.org/draft/2020-12/schema","enum":["red","green","blue",null],"type":["string","null"]}`},
		{input.Spec{Type: input.MultiSelect, Options: colors, AllowCustom: true, MaxPicks: ptr(2)},
			`{"$schema":"https://json-schema.org/draft/2020-12/schema","items":{"examples":["red","green","blue"],"maxLength":1000,"minLength":1,"type":"string"},"maxItems":2,"type":"array","uniqueItems":true}`},
		{input.Spec{Type: input.Approval},
			`{"$schema":"https://json-schema.org/draft/2020-12/schema","additionalProperties":false,"properties":{"approved":{"type":"boolean"},"comment":{"maxLength":100000,"type":"string"}},"required":["approved"],"type":"object"}`},
		{input.Spec{Type: input.Approval, RequireCommentOnReject: true, ActionSchema: json.RawMessage(`{"type":"object"}`)},
			`{"$defs":{"action":{"$id":"https://hitl.invalid/action.json","type":"object"}},"$schema":"https://json-schema.org/draft/2020-12/schema","additionalProperties":false,` +
				`"else":{"properties":{"edited":{"$ref":"#/$defs/action"}}},"if":{"properties":{"approved":{"const":false}},"required":["approved"]},` +
				`"properties":{"approved":{"type":"boolean"},"comment":{"maxLength":100000,"type":"string"},"edited":true},"required":["approved"],` +
				`"then":{"properties":{"comment":{"pattern":"\\S"},"edited":false},"required":["comment"]},"type":"object"}`},
		{input.Spec{Type: input.Form, Fields: []input.Field{{ID: "ok", Type: input.FieldBoolean, Name: "OK?", Required: true}, {ID: "n", Type: input.FieldNumber, Data: input.FieldData{Description: "how many"}}}},
			`{"$schema":"https://json-schema.org/draft/2020-12/schema","additionalProperties":false,"properties":{"n":{"description":"how many","type":["number","null"]},"ok":{"title":"OK?","type":"boolean"}},"required":["ok"],"type":"object"}`},
		{input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"type": "integer", "maximum": 1E3}`)},
			`{"$schema":"https://json-schema.org/draft/2020-12/schema","maximum":1000,"type":"integer"}`},
		{input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"type": "integer"}`), Skippable: true},
			`{"$defs":{"answer":{"$id":"https://hitl.invalid/answer.json","type":"integer"}},"$schema":"https://json-schema.org/draft/2020-12/schema","anyOf":[{"type":"null"},{"$ref":"#/$defs/answer"}]}`},
		{input.Spec{Type: input.JSON, Schema: json.RawMessage(`true`)}, `true`},
	}
	for _, tt := range tests {
		raw, err := tt.spec.JSONSchema()
		if err != nil {
			t.Errorf("%s: JSONSchema(): %v", tt.spec.Type, err)
			continue
		}
		if string(raw) != tt.want {
			t.Errorf("%s: JSONSchema()\n got %s\nwant %s", tt.spec.Type, raw, tt.want)
		}
		compileAlone(t, raw)
		// The result is the caller's to keep: changing it changes nothing cached.
		raw[0] = 'X'
		if again, _ := tt.spec.JSONSchema(); string(again) != tt.want {
			t.Errorf("%s: JSONSchema() shares its bytes with the cache", tt.spec.Type)
		}
	}
}

// TestValidateConcurrently validates with one spec from many goroutines (run with -race):
// the compiled schema is shared through the cache.
func TestValidateConcurrently(t *testing.T) {
	t.Parallel()

	specs := []input.Spec{editSpec, masumiForm, flujo, multiSpec}
	answers := []string{`{"approved": true, "edited": {"order_id": "A-1001", "amount": 1, "method": "bank"}}`, `{"approved": true}`, `{"confirmation": "no"}`, `["red"]`}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := (g + i) % len(specs)
				if err := specs[k].Validate(json.RawMessage(answers[k])); err != nil {
					t.Errorf("Validate: %v", err)
					return
				}
				if err := specs[k].Validate(json.RawMessage(`7`)); !errors.Is(err, input.ErrInvalid) {
					t.Errorf("Validate(7) = %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkValidate(b *testing.B) {
	answer := json.RawMessage(`{"approved": true, "edited": {"order_id": "A-1001", "amount": 120, "method": "bank", "notify": ["sms"]}}`)
	if err := editSpec.Validate(answer); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := editSpec.Validate(answer); err != nil {
			b.Fatal(err)
		}
	}
}
