package input

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// describe turns the validator's error tree for doc into field errors: one per failing
// place, with a JSON path after prefix and a plain sentence, sorted by path and without
// repeats. hints (keyed by schema pointer and keyword) word the errors of a generated
// schema; every other error gets a generic sentence. The library's own text is never shown.
// answer marks doc as an answer, where a null at the top means the question was skipped.
func describe(ve *jsonschema.ValidationError, doc any, hints map[string]hint, prefix string, answer bool) []FieldError {
	r := reporter{doc: doc, hints: hints, answer: answer}
	r.walk(ve)
	slices.SortStableFunc(r.out, func(a, b located) int { return a.path.compare(b.path) })
	fields := make([]FieldError, 0, len(r.out))
	seen := map[FieldError]bool{}
	for _, l := range r.out {
		f := FieldError{Path: l.path.format(prefix), Message: l.msg}
		if !seen[f] {
			seen[f] = true
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		fields = append(fields, FieldError{Path: prefix, Message: "is not valid"})
	}
	return fields
}

type reporter struct {
	doc    any
	hints  map[string]hint
	answer bool
	out    []located
}

type located struct {
	path path
	msg  string
}

func (r *reporter) add(p path, msg string) { r.out = append(r.out, located{p, msg}) }

func (r *reporter) walk(e *jsonschema.ValidationError) {
	switch k := e.ErrorKind.(type) {
	case *kind.Schema, *kind.Group, *kind.AllOf, *kind.Reference:
		if len(e.Causes) == 0 {
			r.leaf(e)
		}
		for _, c := range e.Causes {
			r.walk(c)
		}
	case *kind.AnyOf:
		r.alternatives(e)
	case *kind.OneOf:
		if k.Subschemas == nil {
			r.alternatives(e)
		} else {
			r.leaf(e)
		}
	default:
		r.leaf(e)
	}
}

// alternatives reports a failed anyOf (or oneOf that matched nothing). When every branch
// but one fails on the type alone, the remaining branch is what the author meant, and its
// errors are reported; when all fail on type, the types are listed.
func (r *reporter) alternatives(e *jsonschema.ValidationError) {
	if r.hintFor(e) != nil {
		r.leaf(e)
		return
	}
	var tried []*jsonschema.ValidationError
	var wants []string
	for _, c := range e.Causes {
		l := c
		for len(l.Causes) == 1 && isWrapper(l.ErrorKind) {
			l = l.Causes[0]
		}
		if t, ok := l.ErrorKind.(*kind.Type); ok && slices.Equal(l.InstanceLocation, e.InstanceLocation) {
			wants = append(wants, t.Want...)
			continue
		}
		tried = append(tried, c)
	}
	switch {
	case len(tried) == 1:
		r.walk(tried[0])
	case len(tried) == 0 && len(wants) > 0:
		r.leaf(&jsonschema.ValidationError{SchemaURL: e.SchemaURL, InstanceLocation: e.InstanceLocation,
			ErrorKind: &kind.Type{Got: "", Want: wants}})
	default:
		r.leaf(e)
	}
}

func isWrapper(k jsonschema.ErrorKind) bool {
	switch k.(type) {
	case *kind.Schema, *kind.Group, *kind.AllOf, *kind.Reference:
		return true
	}
	return false
}

func (r *reporter) hintFor(e *jsonschema.ValidationError) hint {
	if r.hints == nil {
		return nil
	}
	u, frag, _ := strings.Cut(e.SchemaURL, "#")
	if u != rootURL {
		return nil
	}
	kw := ""
	if _, ok := e.ErrorKind.(*kind.FalseSchema); ok {
		kw = "false"
	} else if kp := e.ErrorKind.KeywordPath(); len(kp) > 0 {
		kw = kp[0]
	}
	return r.hints[frag+"|"+kw]
}

func (r *reporter) leaf(e *jsonschema.ValidationError) {
	p, v := resolve(r.doc, e.InstanceLocation)
	if _, ok := e.ErrorKind.(*kind.Type); ok && r.answer && len(p) == 0 && v == nil {
		r.add(p, "an answer is required (this question cannot be skipped)")
		return
	}
	word := sentence
	if h := r.hintFor(e); h != nil {
		word = h
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			r.add(p.key(m), word(k, nil))
		}
	case *kind.AdditionalProperties:
		names := slices.Sorted(slices.Values(k.Properties))
		o, _ := v.(map[string]any)
		for _, n := range names {
			r.add(p.key(n), word(k, o[n]))
		}
	case *kind.Dependency:
		for _, m := range k.Missing {
			r.add(p.key(m), fmt.Sprintf("is required when %q is given", k.Prop))
		}
	case *kind.DependentRequired:
		for _, m := range k.Missing {
			r.add(p.key(m), fmt.Sprintf("is required when %q is given", k.Prop))
		}
	case *kind.PropertyNames:
		r.add(p.key(k.Property), word(k, nil))
	case *kind.UniqueItems:
		arr, _ := v.([]any)
		seen := map[string]bool{}
		for i, item := range arr {
			b, _ := json.Marshal(item) // numbers are normalized and keys sorted: equal values, equal bytes
			if seen[string(b)] {
				r.add(p.index(i), word(k, item))
			}
			seen[string(b)] = true
		}
		if len(arr) == 0 {
			r.add(p, word(k, nil))
		}
	default:
		r.add(p, word(k, v))
	}
}

// sentence words an error kind in plain English, for value v.
func sentence(k jsonschema.ErrorKind, v any) string {
	switch k := k.(type) {
	case *kind.Type:
		return typeSentence(k.Want, v)
	case *kind.Enum:
		var opts []string
		for _, w := range k.Want {
			switch w := w.(type) {
			case nil: // the null of a skippable question is not an option to show
			case string:
				opts = append(opts, w)
			default:
				opts = append(opts, display(w))
			}
			if len(opts) == 20 {
				opts = append(opts, "…")
				break
			}
		}
		list := strings.Join(opts, ", ")
		switch v.(type) {
		case map[string]any, []any:
			return "must be one of the options (" + list + ")"
		}
		return display(v) + " is not one of the options (" + list + ")"
	case *kind.Const:
		switch k.Want.(type) {
		case map[string]any, []any:
			return "must be exactly the expected value"
		}
		return "must be " + display(k.Want)
	case *kind.Format:
		return "is not a valid " + k.Want
	case *kind.Required:
		return "is required"
	case *kind.AdditionalProperties:
		return "is not an allowed field"
	case *kind.PropertyNames:
		return "is not an allowed field name"
	case *kind.MinLength:
		if k.Want == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must be at least %d characters (got %d)", k.Want, k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters (got %d)", k.Want, k.Got)
	case *kind.Pattern:
		return "must match the pattern " + k.Want
	case *kind.Minimum:
		return "must be at least " + rat(k.Want)
	case *kind.Maximum:
		return "must be at most " + rat(k.Want)
	case *kind.ExclusiveMinimum:
		return "must be greater than " + rat(k.Want)
	case *kind.ExclusiveMaximum:
		return "must be less than " + rat(k.Want)
	case *kind.MultipleOf:
		if k.Want.IsInt() && k.Want.Num().IsInt64() && k.Want.Num().Int64() == 1 {
			return "must be a whole number"
		}
		return "must be a multiple of " + rat(k.Want)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d items (got %d)", k.Want, k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items (got %d)", k.Want, k.Got)
	case *kind.UniqueItems:
		return "repeats " + display(v) + ", which is already in the list"
	case *kind.MinProperties:
		return fmt.Sprintf("must have at least %d fields (got %d)", k.Want, k.Got)
	case *kind.MaxProperties:
		return fmt.Sprintf("must have at most %d fields (got %d)", k.Want, k.Got)
	case *kind.Contains:
		return "must contain at least one item of the expected kind"
	case *kind.MinContains:
		return fmt.Sprintf("must contain at least %d items of the expected kind (got %d)", k.Want, len(k.Got))
	case *kind.MaxContains:
		return fmt.Sprintf("must contain at most %d items of the expected kind (got %d)", k.Want, len(k.Got))
	case *kind.AdditionalItems:
		return fmt.Sprintf("has %d more items than allowed", k.Count)
	case *kind.FalseSchema:
		return "is not allowed"
	case *kind.Not:
		return "is not allowed here"
	case *kind.AnyOf:
		return "does not match any of the allowed forms"
	case *kind.OneOf:
		if k.Subschemas == nil {
			return "does not match any of the allowed forms"
		}
		return "matches more than one of the allowed forms"
	case *kind.RefCycle:
		return "cannot be checked: the schema refers to itself in a loop"
	case *kind.InvalidJsonValue:
		return "is not a JSON value"
	case *kind.ContentEncoding, *kind.ContentMediaType, *kind.ContentSchema:
		return "is not valid content"
	}
	return "is not valid"
}

// typeSentence says which JSON types are wanted instead of v's.
func typeSentence(want []string, v any) string {
	var words []string
	for _, w := range want {
		if w == "null" && len(want) > 1 {
			continue // a skippable question: null is a skip, not an answer to suggest
		}
		word := map[string]string{
			"boolean": "true or false", "integer": "a whole number", "number": "a number",
			"string": "a string", "array": "a list", "object": "an object", "null": "null",
		}[w]
		if word != "" && !slices.Contains(words, word) {
			words = append(words, word)
		}
	}
	if len(words) == 0 {
		return "has the wrong type (" + kindOf(v) + ")"
	}
	if _, num := v.(json.Number); num && slices.Contains(words, "a whole number") {
		return "must be a whole number"
	}
	return "must be " + strings.Join(words, " or ") + ", not " + kindOf(v)
}

func rat(r *big.Rat) string {
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// display shows a JSON value in a sentence, shortened.
func display(v any) string {
	switch v.(type) {
	case map[string]any:
		return "this object"
	case []any:
		return "this list"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "this value"
	}
	const max = 60
	if s := []rune(string(b)); len(s) > max {
		return string(s[:max]) + "…"
	}
	return string(b)
}

// kindOf names the JSON type of a value in a sentence.
func kindOf(v any) string {
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
