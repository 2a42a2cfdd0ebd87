// Package input describes what kind of answer a question expects, validates answers
// against it before anything can resume, and hashes accepted answers.
//
// Types: approval, text, boolean, number, select, multiselect. An answer that fails
// validation yields a *ValidationError naming every failing field by JSON path.
package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// Type names an input type.
type Type string

const (
	Approval    Type = "approval"    // {"approved": true|false, "comment": "..."}
	Text        Type = "text"        // "a string"
	Boolean     Type = "boolean"     // true | false
	Number      Type = "number"      // 12.5
	Select      Type = "select"      // "option_id"
	MultiSelect Type = "multiselect" // ["option_id", ...]
	Form        Type = "form"        // {"field_id": value, ...}
)

// typeList names the types in messages.
const typeList = "approval, text, boolean, number, select, multiselect, form"

// Spec is the input spec a request carries. The zero value is invalid; Type is required.
type Spec struct {
	Type Type `json:"type"`
	// Options for select and multiselect (and optional labels for approval buttons).
	Options []Option `json:"options,omitempty"`
	// AllowCustom lets select and multiselect answers carry ids not in Options.
	AllowCustom bool `json:"allow_custom,omitempty"`
	// Skippable accepts null as the answer: the person chose not to answer.
	Skippable bool `json:"skippable,omitempty"`
	// MinLength and MaxLength bound text answers, in characters.
	MinLength *int `json:"min_length,omitempty"`
	MaxLength *int `json:"max_length,omitempty"`
	// Multiline hints that a text answer may span lines.
	Multiline bool `json:"multiline,omitempty"`
	// Min and Max bound number answers; Integer demands a whole number.
	Min     *float64 `json:"min,omitempty"`
	Max     *float64 `json:"max,omitempty"`
	Integer bool     `json:"integer,omitempty"`
	// MinPicks and MaxPicks bound multiselect answers.
	MinPicks *int `json:"min_picks,omitempty"`
	MaxPicks *int `json:"max_picks,omitempty"`
	// Fields of a form, in Masumi's input_data shape.
	Fields []Field `json:"fields,omitempty"`
}

// FieldType is the type of a form field.
type FieldType string

const (
	FieldBoolean FieldType = "boolean"
	FieldString  FieldType = "string"
	FieldNumber  FieldType = "number"
	FieldSelect  FieldType = "select"
)

// Field is one field of a form, as in Masumi's input_schema ("input_data" list).
type Field struct {
	ID       string    `json:"id"`
	Type     FieldType `json:"type"`
	Name     string    `json:"name,omitempty"`
	Data     FieldData `json:"data"`
	Required bool      `json:"required,omitempty"`
	Options  []Option  `json:"options,omitempty"` // for select
}

// FieldData carries a field's description, as Masumi nests it.
type FieldData struct {
	Description string `json:"description,omitempty"`
}

// Option is one choice of a select or multiselect.
type Option struct {
	ID          string `json:"id"`
	Label       string `json:"label"`
	Description string `json:"description,omitempty"`
}

// ApprovalAnswer is the answer to an approval.
type ApprovalAnswer struct {
	Approved bool   `json:"approved"`
	Comment  string `json:"comment,omitempty"`
}

// MaxTextLength caps text answers when a spec sets no MaxLength.
const MaxTextLength = 100_000

// FieldError is one failing field: where (a JSON path, "$" is the whole answer) and why.
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// ValidationError lists every failing field of an answer or a spec.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Path + ": " + f.Message
	}
	return "invalid: " + strings.Join(parts, "; ")
}

// ErrInvalid matches every *ValidationError with errors.Is.
var ErrInvalid = errors.New("invalid")

func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

type collector struct{ fields []FieldError }

func (c *collector) add(path, format string, args ...any) {
	c.fields = append(c.fields, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (c *collector) err() error {
	if len(c.fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: c.fields}
}

// Check reports whether the spec itself is usable.
func (s Spec) Check() error {
	var c collector
	switch s.Type {
	case Approval, Text, Boolean, Number:
	case Form:
		s.checkFields(&c)
	case Select, MultiSelect:
		if len(s.Options) == 0 && !s.AllowCustom {
			c.add("input.options", "%s needs at least one option", s.Type)
		}
	case "":
		c.add("input.type", "is required (one of %s)", typeList)
	default:
		c.add("input.type", "unknown type %q (one of %s)", s.Type, typeList)
	}
	seen := map[string]bool{}
	for i, o := range s.Options {
		if o.ID == "" {
			c.add(fmt.Sprintf("input.options[%d].id", i), "is required")
		}
		if seen[o.ID] {
			c.add(fmt.Sprintf("input.options[%d].id", i), "duplicate id %q", o.ID)
		}
		seen[o.ID] = true
	}
	for _, n := range []struct {
		path string
		v    *int
	}{{"input.min_length", s.MinLength}, {"input.max_length", s.MaxLength}, {"input.min_picks", s.MinPicks}, {"input.max_picks", s.MaxPicks}} {
		if n.v != nil && *n.v < 0 {
			c.add(n.path, "must not be negative")
		}
	}
	if s.MinPicks != nil && s.MaxPicks != nil && *s.MinPicks > *s.MaxPicks {
		c.add("input.min_picks", "is greater than max_picks")
	}
	if s.MinLength != nil && s.MaxLength != nil && *s.MinLength > *s.MaxLength {
		c.add("input.min_length", "is greater than max_length")
	}
	if s.Min != nil && s.Max != nil && *s.Min > *s.Max {
		c.add("input.min", "is greater than max")
	}
	return c.err()
}

// Validate checks an answer against the spec. It returns a *ValidationError listing every
// failing field, or nil.
func (s Spec) Validate(answer json.RawMessage) error {
	var c collector
	// Only JSON's own whitespace: bytes.TrimSpace would also drop \v, U+0085 and U+00A0,
	// which are not valid JSON and which Hash would then refuse.
	trimmed := bytes.Trim(answer, " \t\r\n")
	if len(trimmed) == 0 {
		c.add("$", "an answer is required")
		return c.err()
	}
	// json.Valid first: Decoder.More alone lets a stray closing bracket through ("true}"),
	// which Hash (json.Unmarshal) would then refuse.
	if !json.Valid(trimmed) {
		c.add("$", "is not valid JSON")
		return c.err()
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		c.add("$", "is not valid JSON")
		return c.err()
	}
	if v == nil {
		if !s.Skippable {
			c.add("$", "an answer is required (this question cannot be skipped)")
		}
		return c.err()
	}
	switch s.Type {
	case Approval:
		obj, ok := v.(map[string]any)
		if !ok {
			c.add("$", `must be an object like {"approved": true, "comment": "..."}`)
			break
		}
		switch a := obj["approved"].(type) {
		case bool:
		case nil:
			c.add("$.approved", "is required (true or false)")
		default:
			c.add("$.approved", "must be true or false, not %s", kind(a))
		}
		if cm, ok := obj["comment"]; ok {
			if str, ok := cm.(string); !ok {
				c.add("$.comment", "must be a string, not %s", kind(cm))
			} else if utf8.RuneCountInString(str) > MaxTextLength {
				c.add("$.comment", "is longer than %d characters", MaxTextLength)
			}
		}
		for k := range obj {
			if k != "approved" && k != "comment" {
				c.add("$."+k, "is not a field of an approval (approved, comment)")
			}
		}
	case Text:
		str, ok := v.(string)
		if !ok {
			c.add("$", "must be a string, not %s", kind(v))
			break
		}
		n := utf8.RuneCountInString(str)
		if s.MinLength != nil && n < *s.MinLength {
			c.add("$", "must be at least %d characters (got %d)", *s.MinLength, n)
		}
		if limit := s.maxLength(); n > limit {
			c.add("$", "must be at most %d characters (got %d)", limit, n)
		}
		if !s.Multiline && strings.ContainsAny(str, "\r\n") {
			c.add("$", "must be a single line")
		}
	case Boolean:
		if _, ok := v.(bool); !ok {
			c.add("$", "must be true or false, not %s", kind(v))
		}
	case Number:
		num, ok := v.(json.Number)
		if !ok {
			c.add("$", "must be a number, not %s", kind(v))
			break
		}
		f, err := num.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			c.add("$", "is out of range")
			break
		}
		if s.Integer && f != math.Trunc(f) {
			c.add("$", "must be a whole number")
		}
		if s.Min != nil && f < *s.Min {
			c.add("$", "must be at least %v", *s.Min)
		}
		if s.Max != nil && f > *s.Max {
			c.add("$", "must be at most %v", *s.Max)
		}
	case Select:
		id, ok := v.(string)
		if !ok {
			c.add("$", "must be one option id (a string), not %s", kind(v))
			break
		}
		s.checkOption(&c, "$", id)
	case MultiSelect:
		arr, ok := v.([]any)
		if !ok {
			c.add("$", "must be a list of option ids, not %s", kind(v))
			break
		}
		seen := map[string]bool{}
		for i, e := range arr {
			p := fmt.Sprintf("$[%d]", i)
			id, ok := e.(string)
			if !ok {
				c.add(p, "must be an option id (a string), not %s", kind(e))
				continue
			}
			if seen[id] {
				c.add(p, "picks %q twice", id)
			}
			seen[id] = true
			s.checkOption(&c, p, id)
		}
		if s.MinPicks != nil && len(arr) < *s.MinPicks {
			c.add("$", "must pick at least %d (got %d)", *s.MinPicks, len(arr))
		}
		if s.MaxPicks != nil && len(arr) > *s.MaxPicks {
			c.add("$", "must pick at most %d (got %d)", *s.MaxPicks, len(arr))
		}
	case Form:
		s.validateForm(&c, v)
	default:
		c.add("$", "the request's input type %q is unknown", s.Type)
	}
	return c.err()
}

func (s Spec) checkFields(c *collector) {
	if len(s.Fields) == 0 {
		c.add("input.fields", "a form needs at least one field")
	}
	seen := map[string]bool{}
	for i, f := range s.Fields {
		p := fmt.Sprintf("input.fields[%d]", i)
		switch {
		case f.ID == "":
			c.add(p+".id", "is required")
		case seen[f.ID]:
			c.add(p+".id", "duplicate id %q", f.ID)
		}
		seen[f.ID] = true
		switch f.Type {
		case FieldBoolean, FieldString, FieldNumber:
		case FieldSelect:
			if len(f.Options) == 0 {
				c.add(p+".options", "a select field needs at least one option")
			}
		default:
			c.add(p+".type", "unknown field type %q (one of boolean, string, number, select)", f.Type)
		}
	}
}

func (s Spec) validateForm(c *collector, v any) {
	obj, ok := v.(map[string]any)
	if !ok {
		c.add("$", "must be an object of field ids to values, not %s", kind(v))
		return
	}
	known := map[string]bool{}
	for _, f := range s.Fields {
		known[f.ID] = true
		p := "$." + f.ID
		val, present := obj[f.ID]
		if !present || val == nil {
			if f.Required {
				c.add(p, "is required")
			}
			continue
		}
		switch f.Type {
		case FieldBoolean:
			if _, ok := val.(bool); !ok {
				c.add(p, "must be true or false, not %s", kind(val))
			}
		case FieldString:
			if str, ok := val.(string); !ok {
				c.add(p, "must be a string, not %s", kind(val))
			} else if utf8.RuneCountInString(str) > MaxTextLength {
				c.add(p, "is longer than %d characters", MaxTextLength)
			}
		case FieldNumber:
			num, ok := val.(json.Number)
			if !ok {
				c.add(p, "must be a number, not %s", kind(val))
			} else if f, err := num.Float64(); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				c.add(p, "is out of range")
			}
		case FieldSelect:
			id, ok := val.(string)
			if !ok {
				c.add(p, "must be one option id (a string), not %s", kind(val))
			} else if !slices.ContainsFunc(f.Options, func(o Option) bool { return o.ID == id }) {
				c.add(p, "%q is not one of the options", id)
			}
		}
	}
	var unknown []string
	for k := range obj {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		c.add("$."+k, "is not a field of this form")
	}
}

func (s Spec) maxLength() int {
	if s.MaxLength != nil {
		return *s.MaxLength
	}
	return MaxTextLength
}

func (s Spec) checkOption(c *collector, path, id string) {
	if slices.ContainsFunc(s.Options, func(o Option) bool { return o.ID == id }) {
		return
	}
	if s.AllowCustom {
		if id == "" || utf8.RuneCountInString(id) > 1000 {
			c.add(path, "a custom answer must be 1 to 1000 characters")
		}
		return
	}
	ids := make([]string, len(s.Options))
	for i, o := range s.Options {
		ids[i] = o.ID
	}
	c.add(path, "%q is not one of the options (%s)", id, strings.Join(ids, ", "))
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
