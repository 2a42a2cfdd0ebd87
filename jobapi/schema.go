package jobapi

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
)

// ValueField is the id of the one field that the one-value input types (text, boolean,
// number, select, multiselect) show as.
const ValueField = "value"

// InputSchema is Masumi's input schema: a list of fields.
type InputSchema struct {
	InputData []Field `json:"input_data"`
}

// Field is one field of a Masumi input schema. For a form it is the form's field as
// declared; for the other input types see the package documentation.
type Field struct {
	ID       string         `json:"id"`
	Type     string         `json:"type"` // boolean, string, number, select, multiselect
	Name     string         `json:"name,omitempty"`
	Data     FieldData      `json:"data"`
	Required bool           `json:"required,omitempty"`
	Options  []input.Option `json:"options,omitempty"` // select and multiselect
	// Validations are MIP-003's constraints: min and max (a string's length, a number's
	// value, a multiselect's picks) and format ("integer").
	Validations []Validation `json:"validations,omitempty"`
}

// FieldData carries a field's description and hints, as Masumi nests them.
type FieldData struct {
	Description string `json:"description,omitempty"`
	Multiline   bool   `json:"multiline,omitempty"`    // text that may span lines
	AllowCustom bool   `json:"allow_custom,omitempty"` // select and multiselect accept ids not in options
}

// Validation is one MIP-003 validation rule; the value is a string, as MIP-003 writes it.
type Validation struct {
	Validation string `json:"validation"`
	Value      string `json:"value"`
}

// FormFields converts a form's fields (hitl's type) to Masumi fields.
func FormFields(fs []input.Field) []Field {
	out := make([]Field, len(fs))
	for i, f := range fs {
		out[i] = Field{ID: f.ID, Type: string(f.Type), Name: f.Name, Data: FieldData{Description: f.Data.Description},
			Required: f.Required, Options: f.Options}
	}
	return out
}

// Fields returns the Masumi field list a request is answered with (the table in the package
// documentation).
func Fields(r *events.Request) []Field {
	s := r.Input
	one := func(typ string) Field {
		return Field{ID: ValueField, Type: typ, Name: r.Title, Data: FieldData{Description: r.Message}, Required: !s.Skippable}
	}
	var f Field
	switch s.Type {
	case input.Form:
		return FormFields(s.Fields)
	case input.Approval:
		return []Field{
			{ID: "approved", Type: string(input.FieldBoolean), Name: r.Title, Data: FieldData{Description: r.Message}, Required: !s.Skippable},
			{ID: "comment", Type: string(input.FieldString), Name: "Comment", Data: FieldData{Description: "Optional comment"},
				Validations: []Validation{{"max", strconv.Itoa(input.MaxTextLength)}}},
		}
	case input.Text:
		f = one(string(input.FieldString))
		f.Data.Multiline = s.Multiline
		f.Validations = appendInt(f.Validations, "min", s.MinLength)
		maxLen := input.MaxTextLength
		if s.MaxLength != nil {
			maxLen = *s.MaxLength
		}
		f.Validations = appendInt(f.Validations, "max", &maxLen)
	case input.Boolean:
		f = one(string(input.FieldBoolean))
	case input.Number:
		f = one(string(input.FieldNumber))
		for _, b := range []struct {
			name string
			v    *float64
		}{{"min", s.Min}, {"max", s.Max}} {
			if b.v != nil {
				f.Validations = append(f.Validations, Validation{b.name, strconv.FormatFloat(*b.v, 'f', -1, 64)})
			}
		}
		if s.Integer {
			f.Validations = append(f.Validations, Validation{"format", "integer"})
		}
	case input.Select:
		f = one(string(input.FieldSelect))
		f.Options, f.Data.AllowCustom = s.Options, s.AllowCustom
	case input.MultiSelect:
		f = one(string(input.MultiSelect))
		f.Options, f.Data.AllowCustom = s.Options, s.AllowCustom
		f.Validations = appendInt(f.Validations, "min", s.MinPicks)
		f.Validations = appendInt(f.Validations, "max", s.MaxPicks)
	default:
		f = one(string(s.Type))
	}
	return []Field{f}
}

func appendInt(vs []Validation, name string, v *int) []Validation {
	if v == nil {
		return vs
	}
	return append(vs, Validation{name, strconv.Itoa(*v)})
}

// unwraps reports whether a spec's answer is the value of the one field "value" (rather than
// input_data itself).
func unwraps(s input.Spec) bool { return s.Type != input.Form && s.Type != input.Approval }

// Answer turns the input_data of /provide_input into the answer a request with spec s
// expects: for form and approval the object itself, for the other types the value of its
// field "value" (null if absent). An empty input_data of a skippable request is null. The
// input_data must be a JSON object; a key other than "value" for a one-value type is a
// *input.ValidationError. The answer still has to pass store.CheckAnswer.
func Answer(s input.Spec, inputData json.RawMessage) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(inputData, &obj); err != nil || obj == nil {
		return nil, &input.ValidationError{Fields: []input.FieldError{{Path: "input_data", Message: "must be an object"}}}
	}
	if len(obj) == 0 && s.Skippable {
		return json.RawMessage("null"), nil
	}
	if !unwraps(s) {
		return inputData, nil
	}
	var bad []input.FieldError
	for k := range obj {
		if k != ValueField {
			bad = append(bad, input.FieldError{Path: "input_data." + k, Message: `is not a field of this input (it has one field, "value")`})
		}
	}
	if len(bad) > 0 {
		return nil, &input.ValidationError{Fields: bad}
	}
	v, ok := obj[ValueField]
	if !ok {
		return json.RawMessage("null"), nil
	}
	return v, nil
}

// answerPath turns a validation path of the answer ("$", "$.approved", "$[0]") into the
// path of the field in input_data that the person filled in.
func answerPath(s input.Spec, p string) string {
	rest, ok := strings.CutPrefix(p, "$")
	if !ok {
		return p
	}
	if unwraps(s) {
		return "input_data." + ValueField + rest
	}
	return "input_data" + rest
}
