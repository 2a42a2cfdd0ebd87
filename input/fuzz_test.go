package input_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hitl-dev/hitl/input"
)

// fuzzSpecs are the specs FuzzValidate picks from by index.
var fuzzSpecs = []input.Spec{
	{Type: input.Approval},
	{Type: input.Approval, Skippable: true},
	{Type: input.Text},
	{Type: input.Text, MinLength: ptr(1), MaxLength: ptr(20), Multiline: true},
	{Type: input.Boolean},
	{Type: input.Number},
	{Type: input.Number, Min: ptr(-10.0), Max: ptr(10.0), Integer: true},
	selectSpec,
	{Type: input.Select, Options: colors, AllowCustom: true, Skippable: true},
	multiSpec,
	{Type: input.MultiSelect, Options: colors, AllowCustom: true, MinPicks: ptr(1), MaxPicks: ptr(2)},
	{Type: "unknown"},
	feedback,
	editSpec,
	strictEdit,
	ticketText,
	masumiForm,
	flujo,
	flujoSkippable,
	anything,
	listSchema,
	emailSchema,
}

// fuzzSchemas are the fuzzSpecs' JSONSchema() documents, compiled on their own (nil for an
// unusable spec).
var fuzzSchemas = sync.OnceValues(func() ([]*jsonschema.Schema, error) {
	out := make([]*jsonschema.Schema, len(fuzzSpecs))
	for i, s := range fuzzSpecs {
		raw, err := s.JSONSchema()
		if err != nil {
			continue
		}
		if out[i], err = compileStandalone(raw); err != nil {
			return nil, err
		}
	}
	return out, nil
})

func FuzzValidate(f *testing.F) {
	seeds := []string{
		`{"approved":true}`, `{"approved":false,"comment":"no"}`, `{"approved":"x","y":1}`, `{}`,
		`"hello"`, `"a\nb"`, `""`, `true`, `false`, `null`, ` null `, `0`, `-0`, `12.5`, `1e400`, `-1e400`, `1e-400`,
		`"red"`, `"purple"`, `["red","blue"]`, `["red","red"]`, `[1,null,"x"]`, `[]`, `[[[]]]`,
		``, `{`, `true}`, `["red"]]`, `"a" "b"`, "\"\xff\xfe\"", `"\ud800"`, `{"approved":true,"approved":1}`,
		`{"approved":false,"comment":" "}`, `{"approved":true,"edited":{"order_id":"A-1001","amount":1,"method":"bank"}}`,
		`{"approved":false,"edited":{}}`, `"AB-1"`, `{"approved":true,"budget":1e3,"tier":"gold"}`, `{"approved":null}`,
		`{"confirmation":"yes"}`, `{"items":[1,2,2.5]}`, `{"a b":true}`, `"a@b.c"`, `[[[[[[[[[[]]]]]]]]]]`, `1e-1000000`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, which uint8, answer []byte) {
		i := int(which) % len(fuzzSpecs)
		spec := fuzzSpecs[i]
		err := spec.Validate(answer)
		// The spec's JSON Schema on its own judges every answer within the guards as
		// Validate does.
		schemas, serr := fuzzSchemas()
		if serr != nil {
			t.Fatal(serr)
		}
		if sch := schemas[i]; sch != nil {
			if v, ok := schemaCanJudge(string(answer)); ok {
				if serr := sch.Validate(v); (serr == nil) != (err == nil) {
					t.Fatalf("spec %d, answer %q: Validate %v, schema alone %v", i, answer, err, serr)
				}
			}
		}
		if err != nil {
			var ve *input.ValidationError
			if !errors.Is(err, input.ErrInvalid) || !errors.As(err, &ve) || len(ve.Fields) == 0 {
				t.Fatalf("Validate(%q) = %#v, want a *ValidationError with fields", answer, err)
			}
			for _, f := range ve.Fields {
				if !strings.HasPrefix(f.Path, "$") || f.Message == "" || strings.Contains(f.Message, "at '") {
					t.Fatalf("Validate(%q): field %+v", answer, f)
				}
			}
			return
		}
		if !json.Valid(answer) {
			t.Fatalf("Validate accepted invalid JSON %q", answer)
		}
		if _, err := spec.EditDiff(answer); err != nil {
			t.Fatalf("EditDiff of an accepted answer %q: %v", answer, err)
		}
		h1, err := input.Hash(answer)
		if err != nil {
			t.Fatalf("Validate accepted %q but Hash failed: %v", answer, err)
		}
		// Insignificant whitespace does not change the hash.
		h2, err := input.Hash(append(append([]byte(" \n"), answer...), '\t'))
		if err != nil || h1 != h2 {
			t.Fatalf("Hash changed with surrounding whitespace: %s vs %s (%v)", h1, h2, err)
		}
	})
}

func FuzzCanonical(f *testing.F) {
	seeds := []string{
		`{"b":2,"a":1}`, `1E3`, `-0`, `1e21`, `0.000001`, `1e-7`, `[1.5,"x",null,true,{}]`,
		`{"\uff01":1,"\ud83d\ude00":2}`, `"\u0000\u001f\u007f\u2028"`, `"\ud800"`, "\"\xff\"",
		`{"a":{"a":{"a":[]}}}`, `{"a":1,"a":2}`, `123456789012345678901234`, `1e400`, ``, `{`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		c1, err := input.Canonical(doc)
		if !json.Valid(doc) {
			if err == nil {
				t.Fatalf("Canonical accepted invalid JSON %q", doc)
			}
			return
		}
		if err != nil {
			return // valid JSON without a canonical form, e.g. a number beyond float64
		}
		if !json.Valid(c1) {
			t.Fatalf("Canonical(%q) = %q, not valid JSON", doc, c1)
		}
		c2, err := input.Canonical(c1)
		if err != nil {
			t.Fatalf("Canonical(Canonical(%q)): %v", doc, err)
		}
		if !bytes.Equal(c1, c2) {
			t.Fatalf("not idempotent:\n doc %q\n c1  %q\n c2  %q", doc, c1, c2)
		}
		// Canonicalization does not change the value.
		var v1, v2 any
		if err := json.Unmarshal(doc, &v1); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(c1, &v2); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(v1, v2) {
			t.Fatalf("Canonical changed the value: %q -> %q", doc, c1)
		}
	})
}
