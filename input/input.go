// Package input describes what kind of answer a question expects, validates answers
// against it before anything can resume, and hashes accepted answers.
//
// Types: approval, text, boolean, number, select, multiselect, form and json (an answer
// described by a JSON Schema of its own). Every Spec compiles to a JSON Schema, draft
// 2020-12 (Spec.JSONSchema), and answers are validated with that compiled schema; the
// compiled schemas are cached, so validating on the hot path does not compile again. An
// answer that fails validation yields a *ValidationError naming every failing field by JSON
// path ("$", "$.approved", "$.items[2]") with a sentence a person can act on.
//
// SpecFor and SchemaFor derive a Spec from a Go type; Hash gives the input_hash of an
// accepted answer (SHA-256 of its RFC 8785 canonical JSON); Diff and Spec.EditDiff record
// what an approver changed in an edited action. docs/input.md describes the wire format.
package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"strings"
)

// Type names an input type.
type Type string

const (
	Approval    Type = "approval"    // {"approved": true|false, "comment": "...", "edited": {...}}
	Text        Type = "text"        // "a string"
	Boolean     Type = "boolean"     // true | false
	Number      Type = "number"      // 12.5
	Select      Type = "select"      // "option_id"
	MultiSelect Type = "multiselect" // ["option_id", ...]
	Form        Type = "form"        // {"field_id": value, ...}
	JSON        Type = "json"        // any JSON value that matches Spec.Schema
)

// typeList names the types in messages.
const typeList = "approval, text, boolean, number, select, multiselect, form, json"

// Spec is the input spec a request carries. The zero value is invalid; Type is required.
// Fields that do not apply to the Type are ignored.
type Spec struct {
	Type Type `json:"type"`
	// Options for select and multiselect (and optional labels for approval buttons).
	Options []Option `json:"options,omitempty"`
	// AllowCustom lets select and multiselect answers carry ids not in Options.
	AllowCustom bool `json:"allow_custom,omitempty"`
	// Skippable accepts null as the answer: the person chose not to answer.
	Skippable bool `json:"skippable,omitempty"`
	// MinLength and MaxLength bound text answers, in characters (Unicode code points).
	// MaxLength defaults to MaxTextLength.
	MinLength *int `json:"min_length,omitempty"`
	MaxLength *int `json:"max_length,omitempty"`
	// Multiline lets a text answer span lines; without it "\r" and "\n" are refused.
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

	// Pattern, for text, is a regular expression the answer must match, with JSON Schema's
	// meaning: unanchored (use ^ and $), in Go's RE2 syntax. Check refuses one that does not
	// compile.
	Pattern string `json:"pattern,omitempty"`

	// Labels name an approval's two buttons (shown to people; the answer is unchanged).
	Labels Labels `json:"labels,omitzero"`
	// RequireCommentOnReject makes a rejection carry a comment that is not blank: reject
	// with feedback.
	RequireCommentOnReject bool `json:"require_comment_on_reject,omitempty"`
	// Proposed is the action an approval is about, as JSON. With Proposed or ActionSchema
	// set, the approver may edit the action before approving: {"approved": true, "edited":
	// {...}}. The change from Proposed to edited is recorded (Spec.EditDiff).
	Proposed json.RawMessage `json:"proposed,omitempty"`
	// ActionSchema is the JSON Schema an edited action (and Proposed) must match; without it
	// any JSON value is accepted. Remote $refs are refused.
	ActionSchema json.RawMessage `json:"action_schema,omitempty"`

	// Schema is the JSON Schema of a json answer (Flujo's input_schema). Draft 2020-12
	// unless it says otherwise in $schema; formats are asserted; remote $refs are refused.
	Schema json.RawMessage `json:"schema,omitempty"`
}

// Labels are the button labels of an approval.
type Labels struct {
	Approve string `json:"approve,omitempty"` // e.g. "Ship it"; default "Approve"
	Reject  string `json:"reject,omitempty"`  // e.g. "Hold"; default "Reject"
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
	// Edited is the action as the approver changed it (edit then approve), if they did.
	Edited json.RawMessage `json:"edited,omitempty"`
}

const (
	// MaxTextLength caps text answers when a spec sets no MaxLength, and comments.
	MaxTextLength = 100_000
	// MaxCustomLength caps a custom (allow_custom) select or multiselect answer.
	MaxCustomLength = 1000
	// MaxAnswerSize caps an answer, in bytes of JSON.
	MaxAnswerSize = 1 << 20
	// MaxDepth caps how deeply arrays and objects nest, in answers and in the JSON
	// documents of a spec (schema, action_schema, proposed).
	MaxDepth = 64
)

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

// Check reports whether the spec itself is usable: every problem, by path ("input.type",
// "input.schema.properties.x"). It compiles the spec's JSON Schema (and caches it), so a
// spec that passes Check validates answers without compiling again.
func (s Spec) Check() error {
	_, err := s.compiled()
	return err
}

// Validate checks an answer against the spec. It returns a *ValidationError listing every
// failing field, or nil. Before the schema sees it, an answer must be one JSON value of at
// most MaxAnswerSize bytes, nested at most MaxDepth deep, whose numbers fit in a float64
// (numbers are then compared as float64, as Hash reads them).
func (s Spec) Validate(answer json.RawMessage) error {
	v, err := parseJSON(answer, "$")
	if err != nil {
		return err
	}
	cs, err := s.compiled()
	if err != nil {
		var c collector
		switch s.Type {
		case Approval, Text, Boolean, Number, Select, MultiSelect, Form, JSON:
			c.add("$", "cannot be checked: the request's input spec is not usable (%s)", firstProblem(err))
		default:
			c.add("$", "the request's input type %q is unknown", s.Type)
		}
		return c.err()
	}
	return cs.validate(v)
}

func firstProblem(err error) string {
	var ve *ValidationError
	if errors.As(err, &ve) && len(ve.Fields) > 0 {
		return ve.Fields[0].Path + " " + ve.Fields[0].Message
	}
	return err.Error()
}

// userDocs are the JSON documents a spec carries, parsed and checked by check.
type userDocs struct {
	schema, action, proposed any
	hasProposed              bool
}

// check lists the spec's own problems, before any schema is built.
func (s Spec) check(c *collector) userDocs {
	var docs userDocs
	switch s.Type {
	case Boolean, Number:
	case Text:
	case Approval:
		if len(s.ActionSchema) > 0 {
			docs.action = checkSchemaDoc(c, "input.action_schema", s.ActionSchema)
		}
		if len(s.Proposed) > 0 {
			docs.proposed, docs.hasProposed = parseDoc(c, "input.proposed", s.Proposed)
		}
		if docs.hasProposed && docs.action != nil {
			checkAgainst(c, "input.proposed", docs.proposed, docs.action)
		}
	case Form:
		s.checkFields(c)
	case Select, MultiSelect:
		if len(s.Options) == 0 && !s.AllowCustom {
			c.add("input.options", "%s needs at least one option", s.Type)
		}
	case JSON:
		if len(bytes.TrimSpace(s.Schema)) == 0 {
			c.add("input.schema", "is required for a json input (a JSON Schema)")
		} else {
			docs.schema = checkSchemaDoc(c, "input.schema", s.Schema)
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
	for _, n := range []struct {
		path string
		v    *float64
	}{{"input.min", s.Min}, {"input.max", s.Max}} {
		if n.v != nil && (math.IsInf(*n.v, 0) || math.IsNaN(*n.v)) {
			c.add(n.path, "must be a finite number")
		}
	}
	if s.Min != nil && s.Max != nil && *s.Min > *s.Max {
		c.add("input.min", "is greater than max")
	}
	if s.Pattern != "" {
		if _, err := regexp.Compile(s.Pattern); err != nil {
			c.add("input.pattern", "is not a valid regular expression (%s)", regexpProblem(err))
		}
	}
	return docs
}

func regexpProblem(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return fmt.Sprintf("%s in %q", se.Code, se.Expr)
	}
	return "it does not compile"
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

func (s Spec) maxLength() int {
	if s.MaxLength != nil {
		return *s.MaxLength
	}
	return MaxTextLength
}

// Editable reports whether an approval lets the approver edit the proposed action: every
// surface offers "edit then approve" exactly when it is true.
func (s Spec) Editable() bool {
	return s.Type == Approval && (len(s.Proposed) > 0 || len(s.ActionSchema) > 0)
}
