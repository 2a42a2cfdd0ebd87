package input_test

import (
	"encoding/json"
	"errors"
	"math"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/input"
)

type refund struct {
	OrderID string   `json:"order_id" hitl:"desc=The order, as on the invoice"`
	Amount  float64  `json:"amount" hitl:"min=0,max=500,desc=Amount to refund, in euros"`
	Method  string   `json:"method" hitl:"enum=original|store_credit|bank"`
	Note    *string  `json:"note" hitl:"max=20"`
	Tags    []string `json:"tags,omitempty" hitl:"max=2"`
	Rush    bool     `json:"rush,omitzero"`
	Count   uint8    `json:"count,omitempty"`
	When    *time.Time
	Meta    map[string]int  `json:"meta,omitempty" hitl:"title=Extra counters"`
	Ref     string          `json:"ref" hitl:"pattern=^[A-Z]{2}-[0-9]+$,optional"`
	Email   string          `json:"email,omitempty" hitl:"format=email,required"`
	Raw     json.RawMessage `json:"raw,omitempty"`
	Skip    string          `json:"-"`
	hidden  int
	Embedded
	*Pointed
}

type Embedded struct {
	Level int    `json:"level,omitempty" hitl:"enum=1|2|3"`
	Note  string `json:"embedded_note,omitempty"`
}

type Pointed struct {
	IP     net.IP `json:"ip,omitempty"` // a TextMarshaler
	Amount int    `json:"amount"`       // loses to the shallower refund.Amount
	Zone   string // optional: absent when the *Pointed is nil
}

func TestSchemaFor(t *testing.T) {
	t.Parallel()

	spec, err := input.SchemaFor[refund]()
	if err != nil {
		t.Fatal(err)
	}
	if spec.Type != input.JSON {
		t.Fatalf("Type = %q", spec.Type)
	}
	var got map[string]any
	if err := json.Unmarshal(spec.Schema, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"type": "object", "additionalProperties": false,
		"required": []any{"order_id", "amount", "method", "email"},
		"properties": map[string]any{
			"order_id":      map[string]any{"type": "string", "description": "The order, as on the invoice"},
			"amount":        map[string]any{"type": "number", "minimum": 0.0, "maximum": 500.0, "description": "Amount to refund, in euros"},
			"method":        map[string]any{"type": "string", "enum": []any{"original", "store_credit", "bank"}},
			"note":          map[string]any{"type": []any{"string", "null"}, "maxLength": 20.0},
			"tags":          map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "maxItems": 2.0},
			"rush":          map[string]any{"type": "boolean"},
			"count":         map[string]any{"type": "integer", "minimum": 0.0, "maximum": 255.0},
			"When":          map[string]any{"type": []any{"string", "null"}, "format": "date-time"},
			"meta":          map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "integer", "minimum": -9007199254740991.0, "maximum": 9007199254740991.0}, "title": "Extra counters"},
			"ref":           map[string]any{"type": "string", "pattern": "^[A-Z]{2}-[0-9]+$"},
			"email":         map[string]any{"type": "string", "format": "email"},
			"raw":           true,
			"level":         map[string]any{"type": "integer", "minimum": -9007199254740991.0, "maximum": 9007199254740991.0, "enum": []any{1.0, 2.0, 3.0}},
			"embedded_note": map[string]any{"type": "string"},
			"ip":            map[string]any{"type": "string"},
			"Zone":          map[string]any{"type": "string"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("SchemaFor[refund]\n got %s\nwant %s", g, w)
	}
	if err := spec.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}

	// What encoding/json writes for a full value is a valid answer, and decodes back.
	note := "ok"
	when := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	v := refund{OrderID: "A-1", Amount: 12.5, Method: "bank", Note: &note, Tags: []string{"x"}, Count: 3, When: &when,
		Ref: "AB-12", Email: "a@example.com", Raw: json.RawMessage(`[1]`), Embedded: Embedded{Level: 2}, Pointed: &Pointed{IP: net.IPv4(10, 0, 0, 1)}}
	b, _ := json.Marshal(v)
	if err := spec.Validate(b); err != nil {
		t.Fatalf("Validate(%s): %v", b, err)
	}

	bad := []struct {
		answer string
		paths  []string
	}{
		{`{"order_id": "A", "amount": 501, "method": "cash", "email": "a@b.c"}`, []string{"$.amount", "$.method"}},
		{`{"order_id": "A", "amount": 1, "method": "bank"}`, []string{"$.email"}},
		{`{"order_id": "A", "amount": 1, "method": "bank", "email": "x@y.z", "note": "` + strings.Repeat("n", 21) + `", "tags": ["a", "b", "c"], "count": 256, "When": "yesterday", "level": 4, "Skip": "x"}`,
			[]string{"$.Skip", "$.When", "$.count", "$.level", "$.note", "$.tags"}},
		{`{"order_id": "A", "amount": 1, "method": "bank", "email": "x@y.z", "count": 1.5, "ref": "ab"}`, []string{"$.count", "$.ref"}},
		{`{"order_id": "A", "amount": 1, "method": "bank", "email": "x@y.z", "note": null, "When": null}`, nil},
	}
	for _, tt := range bad {
		err := spec.Validate(json.RawMessage(tt.answer))
		if tt.paths == nil {
			if err != nil {
				t.Errorf("Validate(%s): %v", tt.answer, err)
			}
			continue
		}
		var ve *input.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("Validate(%s) = %v, want errors at %q", tt.answer, err, tt.paths)
			continue
		}
		if got := paths(ve); !slices.Equal(got, tt.paths) {
			t.Errorf("Validate(%s) paths = %q, want %q (%v)", tt.answer, got, tt.paths, err)
		}
	}
}

func TestSchemaForShapes(t *testing.T) {
	t.Parallel()

	check := func(name string, spec input.Spec, err error, want string) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		if string(spec.Schema) != want {
			t.Errorf("%s: schema\n got %s\nwant %s", name, spec.Schema, want)
		}
		if err := spec.Check(); err != nil {
			t.Errorf("%s: Check: %v", name, err)
		}
	}
	s, err := input.SchemaFor[[]int16]()
	check("[]int16", s, err, `{"items":{"maximum":32767,"minimum":-32768,"type":"integer"},"type":"array"}`)
	s, err = input.SchemaFor[[2]bool]()
	check("[2]bool", s, err, `{"items":{"type":"boolean"},"maxItems":2,"minItems":2,"type":"array"}`)
	s, err = input.SchemaFor[[]byte]()
	check("[]byte", s, err, `{"contentEncoding":"base64","type":"string"}`)
	s, err = input.SchemaFor[map[int]string]()
	check("map[int]string", s, err, `{"additionalProperties":{"type":"string"},"type":"object"}`)
	s, err = input.SchemaFor[*float32]()
	check("*float32", s, err, `{"type":["number","null"]}`)
	s, err = input.SchemaFor[any]()
	check("any", s, err, `true`)
	s, err = input.SchemaFor[struct {
		N int `json:"n,string"`
	}]()
	check("string option", s, err, `{"additionalProperties":false,"properties":{"n":{"type":"string"}},"required":["n"],"type":"object"}`)
	s, err = input.SchemaFor[struct {
		A *int `json:"a" hitl:"required,enum=1|2"`
	}]()
	check("required pointer with enum", s, err, `{"additionalProperties":false,"properties":{"a":{"enum":[1,2,null],"maximum":9007199254740991,"minimum":-9007199254740991,"type":["integer","null"]}},"required":["a"],"type":"object"}`)
}

type node struct {
	Next *node `json:"next"`
}

func TestSchemaForErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		fn   func() (input.Spec, error)
		want string
	}{
		{"channel", input.SchemaFor[chan int], "chan values cannot be JSON"},
		{"func field", input.SchemaFor[struct{ F func() }], "field F"},
		{"complex", input.SchemaFor[complex128], "complex128 values cannot be JSON"},
		{"recursive", input.SchemaFor[node], "recursive type"},
		{"struct map key", input.SchemaFor[map[struct{}]int], "map key type"},
		{"unknown tag key", input.SchemaFor[struct {
			A string `hitl:"maxlen=3"`
		}], `unknown key "maxlen"`},
		{"bad min", input.SchemaFor[struct {
			A int `hitl:"min=one"`
		}], "min=one is not a number"},
		{"negative string bound", input.SchemaFor[struct {
			A string `hitl:"max=-1"`
		}], "not a count"},
		{"bound on a bool", input.SchemaFor[struct {
			A bool `hitl:"max=1"`
		}], "max applies to numbers, strings, lists and maps"},
		{"enum on a bool", input.SchemaFor[struct {
			A bool `hitl:"enum=true"`
		}], "enum applies to strings and numbers"},
		{"enum not a number", input.SchemaFor[struct {
			A float64 `hitl:"enum=1|x"`
		}], `enum value "x" is not a number`},
		{"bad pattern", input.SchemaFor[struct {
			A string `hitl:"pattern=(x"`
		}], "not a valid regular expression"},
		{"pattern on a number", input.SchemaFor[struct {
			A int `hitl:"pattern=x"`
		}], "pattern applies to strings"},
		{"empty value", input.SchemaFor[struct {
			A string `hitl:"desc="`
		}], "desc needs a value"},
	}
	for _, tt := range tests {
		if _, err := tt.fn(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
}

func TestSpecFor(t *testing.T) {
	t.Parallel()

	i8lo, i8hi := -128.0, 127.0
	safe := float64(1<<53 - 1)
	tests := []struct {
		name string
		fn   func() (input.Spec, error)
		want input.Spec
	}{
		{"ApprovalAnswer", input.SpecFor[input.ApprovalAnswer], input.Spec{Type: input.Approval}},
		{"*ApprovalAnswer", input.SpecFor[*input.ApprovalAnswer], input.Spec{Type: input.Approval, Skippable: true}},
		{"string", input.SpecFor[string], input.Spec{Type: input.Text}},
		{"*string", input.SpecFor[*string], input.Spec{Type: input.Text, Skippable: true}},
		{"bool", input.SpecFor[bool], input.Spec{Type: input.Boolean}},
		{"int8", input.SpecFor[int8], input.Spec{Type: input.Number, Integer: true, Min: &i8lo, Max: &i8hi}},
		{"int", input.SpecFor[int], input.Spec{Type: input.Number, Integer: true, Min: ptr(-safe), Max: &safe}},
		{"uint", input.SpecFor[uint], input.Spec{Type: input.Number, Integer: true, Min: ptr(0.0), Max: &safe}},
		{"float64", input.SpecFor[float64], input.Spec{Type: input.Number}},
		{"any", input.SpecFor[any], input.Spec{Type: input.Approval}},
		{"json.RawMessage", input.SpecFor[json.RawMessage], input.Spec{Type: input.Approval}},
		{"[]string", input.SpecFor[[]string], input.Spec{Type: input.JSON, Schema: json.RawMessage(`{"items":{"type":"string"},"type":"array"}`)}},
	}
	for _, tt := range tests {
		got, err := tt.fn()
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: SpecFor = %+v, want %+v", tt.name, got, tt.want)
		}
		if err := got.Check(); err != nil {
			t.Errorf("%s: Check: %v", tt.name, err)
		}
	}
	got, err := input.SpecFor[refund]()
	want, _ := input.SchemaFor[refund]()
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("SpecFor[refund] = %+v, %v; want SchemaFor's %+v", got, err, want)
	}
	if _, err := input.SpecFor[chan int](); err == nil {
		t.Error("SpecFor[chan int] succeeded")
	}
	// An int8 answer beyond its range is refused, not wrapped around on decoding.
	s, _ := input.SpecFor[int8]()
	if err := s.Validate(json.RawMessage(`128`)); !errors.Is(err, input.ErrInvalid) {
		t.Errorf("int8 128: %v", err)
	}
	if math.IsNaN(*s.Min) {
		t.Error("NaN bound")
	}
}
