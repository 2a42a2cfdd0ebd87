package input

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

const (
	draft2020 = "https://json-schema.org/draft/2020-12/schema"
	// baseURL is where hitl pretends its schemas live: a hierarchical URL, so that a
	// relative $ref ("other.json") resolves to a document of its own, which the loader then
	// refuses (against an opaque urn: base it would silently resolve to the schema itself).
	// The .invalid domain never resolves; nothing is ever fetched.
	baseURL = "https://hitl.invalid/"
	// rootURL names a spec's compiled schema; hints refer to places in it.
	rootURL = baseURL + "input.json"
	// actionID and answerID are the $id given to an embedded action_schema or json schema
	// that has none, so that its own "#/..." references resolve inside it.
	actionID = baseURL + "action.json"
	answerID = baseURL + "answer.json"
	// checkURL names a spec's own schema document while Check compiles it alone.
	checkURL = baseURL + "check.json"
	// singleLine is the pattern of a text answer without multiline.
	singleLine = `^[^\r\n]*$`
)

// JSONSchema returns the JSON Schema (draft 2020-12) that an answer to s must match: the
// very schema Validate compiles. It fails, like Check, on an unusable spec. Before the
// schema, Validate also refuses what no schema can express: more than MaxAnswerSize bytes,
// nesting beyond MaxDepth, and numbers beyond float64.
func (s Spec) JSONSchema() (json.RawMessage, error) {
	cs, err := s.compiled()
	if err != nil {
		return nil, err
	}
	return bytes.Clone(cs.raw), nil
}

// compiled is a spec's schema, ready to validate answers.
type compiled struct {
	raw    json.RawMessage
	schema *jsonschema.Schema
	hints  map[string]hint
}

// hint words the error of one keyword at one place of a generated schema, for the value
// found where the error is (nil when absent).
type hint func(k jsonschema.ErrorKind, v any) string

func fixed(msg string) hint { return func(jsonschema.ErrorKind, any) string { return msg } }

// cache holds compiled schemas (and the problems of unusable specs) by cacheKey.
// It is bounded: past maxCached entries an arbitrary one is dropped.
var cache = struct {
	sync.RWMutex
	m map[[32]byte]cacheEntry
}{m: map[[32]byte]cacheEntry{}}

const maxCached = 1024

type cacheEntry struct {
	cs  *compiled
	err error
}

// cacheKey hashes the spec's JSON, with its JSON documents (schema, action_schema,
// proposed) as given rather than re-encoded: a copy in other whitespace only takes another
// entry, and the key costs little on the hot path.
func (s Spec) cacheKey() ([32]byte, bool) {
	docs := [][]byte{s.Schema, s.ActionSchema, s.Proposed}
	s.Schema, s.ActionSchema, s.Proposed = nil, nil, nil
	b, err := json.Marshal(s)
	if err != nil { // a NaN bound: compile reports it
		return [32]byte{}, false
	}
	h := sha256.New()
	h.Write(b)
	for _, d := range docs {
		h.Write(binary.AppendUvarint(nil, uint64(len(d))))
		h.Write(d)
	}
	return [32]byte(h.Sum(nil)), true
}

func (s Spec) compiled() (*compiled, error) {
	key, ok := s.cacheKey()
	if !ok {
		return s.compile()
	}
	cache.RLock()
	e, ok := cache.m[key]
	cache.RUnlock()
	if ok {
		return e.cs, cloneErr(e.err)
	}
	cs, err := s.compile()
	cache.Lock()
	if len(cache.m) >= maxCached {
		for k := range cache.m {
			delete(cache.m, k)
			break
		}
	}
	cache.m[key] = cacheEntry{cs, err}
	cache.Unlock()
	return cs, cloneErr(err)
}

// cloneErr copies a cached *ValidationError: callers may rewrite its fields (the API
// prefixes the paths).
func cloneErr(err error) error {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return &ValidationError{Fields: slices.Clone(ve.Fields)}
	}
	return err
}

func (s Spec) compile() (*compiled, error) {
	var c collector
	docs := s.check(&c)
	if err := c.err(); err != nil {
		return nil, err
	}
	b := builder{hints: map[string]hint{}}
	raw, err := json.Marshal(b.spec(s, docs))
	if err != nil {
		return nil, &ValidationError{Fields: []FieldError{{Path: "input", Message: "cannot be written as a JSON Schema"}}}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, &ValidationError{Fields: []FieldError{{Path: "input", Message: "cannot be written as a JSON Schema"}}}
	}
	sch, err := compileSchema(doc, rootURL)
	if err != nil {
		var c collector
		reportSchemaError(&c, "input", doc, err)
		return nil, c.err()
	}
	return &compiled{raw: raw, schema: sch, hints: b.hints}, nil
}

// validate checks a parsed answer (see parseJSON) against the compiled schema.
func (cs *compiled) validate(v any) error {
	err := cs.schema.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &ValidationError{Fields: []FieldError{{Path: "$", Message: "could not be checked"}}}
	}
	return &ValidationError{Fields: describe(ve, v, cs.hints, "$", true)}
}

// errRemote refuses every $ref the compiler cannot resolve inside the document (and the
// bundled meta-schemas): no network, no files.
var errRemote = errors.New("remote references are not allowed")

type noRemote struct{}

func (noRemote) Load(string) (any, error) { return nil, errRemote }

func compileSchema(doc any, at string) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(noRemote{})
	if err := c.AddResource(at, doc); err != nil {
		return nil, err
	}
	return c.Compile(at)
}

// checkSchemaDoc parses and compiles a JSON Schema a spec carries, on its own, and returns
// it (nil when it is not usable, with the problems in c).
func checkSchemaDoc(c *collector, at string, raw json.RawMessage) any {
	v, ok := parseDoc(c, at, raw)
	if !ok {
		return nil
	}
	switch v.(type) {
	case map[string]any, bool:
	default:
		c.add(at, "must be a JSON Schema (an object, true or false), not %s", kindOf(v))
		return nil
	}
	if _, err := compileSchema(v, checkURL); err != nil {
		reportSchemaError(c, at, v, err)
		return nil
	}
	return v
}

// checkAgainst reports where value (a document of the spec) does not match schema.
func checkAgainst(c *collector, at string, value, schema any) {
	sch, err := compileSchema(schema, checkURL)
	if err != nil {
		return // reported by checkSchemaDoc
	}
	var ve *jsonschema.ValidationError
	if err := sch.Validate(value); errors.As(err, &ve) {
		c.fields = append(c.fields, describe(ve, value, nil, at, false)...)
	}
}

// reportSchemaError words a compile error of a schema document found at path at.
func reportSchemaError(c *collector, at string, doc any, err error) {
	var (
		invalid  *jsonschema.SchemaValidationError
		load     *jsonschema.LoadURLError
		regex    *jsonschema.InvalidRegexError
		pointer  *jsonschema.JSONPointerNotFoundError
		anchor   *jsonschema.AnchorNotFoundError
		dupID    *jsonschema.DuplicateIDError
		dupAnc   *jsonschema.DuplicateAnchorError
		draft    *jsonschema.UnsupportedDraftError
		metaURL  *jsonschema.InvalidMetaSchemaURLError
		vocab    *jsonschema.UnsupportedVocabularyError
		parseURL *jsonschema.ParseURLError
	)
	switch {
	case errors.As(err, &invalid):
		var ve *jsonschema.ValidationError
		if errors.As(invalid.Err, &ve) {
			c.fields = append(c.fields, describe(ve, doc, nil, at, false)...)
			return
		}
		c.add(at, "is not a valid JSON Schema")
	case errors.As(err, &load):
		c.add(at, "refers to %q, outside itself: remote references are not allowed", strings.TrimPrefix(load.URL, baseURL))
	case errors.As(err, &regex):
		c.add(at, "has a pattern that is not a valid regular expression (Go RE2 syntax): %q", regex.Regex)
	case errors.As(err, &pointer), errors.As(err, &anchor):
		c.add(at, "has a $ref to a place that does not exist in it")
	case errors.As(err, &dupID), errors.As(err, &dupAnc):
		c.add(at, "declares the same $id or $anchor twice")
	case errors.As(err, &draft), errors.As(err, &metaURL):
		c.add(at, "declares a $schema that is not supported (use %s)", draft2020)
	case errors.As(err, &vocab):
		c.add(at, "requires a vocabulary that is not supported (%s)", vocab.Vocabulary)
	case errors.As(err, &parseURL):
		c.add(at, "has an $id or $ref that is not a valid URI reference")
	default:
		c.add(at, "is not a usable JSON Schema")
	}
}

type obj = map[string]any

// builder writes a spec's JSON Schema and the hints that word its errors.
type builder struct{ hints map[string]hint }

// hint registers h for keyword kw of the subschema at JSON Pointer ptr of the root.
func (b *builder) hint(ptr, kw string, h hint) { b.hints[ptr+"|"+kw] = h }

func (b *builder) spec(s Spec, d userDocs) any {
	var doc obj
	switch s.Type {
	case Approval:
		doc = b.approval(s, d)
	case Text:
		doc = b.text(s)
	case Boolean:
		doc = obj{"type": "boolean"}
	case Number:
		doc = obj{"type": "number"}
		if s.Min != nil {
			doc["minimum"] = *s.Min
		}
		if s.Max != nil {
			doc["maximum"] = *s.Max
		}
		if s.Integer {
			doc["multipleOf"] = 1
		}
	case Select:
		doc = b.choice(s, "")
		b.hint("", "type", func(_ jsonschema.ErrorKind, v any) string {
			return "must be one option id (a string), not " + kindOf(v)
		})
	case MultiSelect:
		doc = b.multiselect(s)
	case Form:
		doc = b.form(s)
	case JSON:
		return b.json(s, d)
	}
	if s.Skippable {
		nullable(doc)
	}
	doc["$schema"] = draft2020
	return doc
}

// nullable lets a schema with a single type also accept null.
func nullable(d obj) {
	if t, ok := d["type"].(string); ok {
		d["type"] = []any{t, "null"}
	}
	if e, ok := d["enum"].([]any); ok {
		d["enum"] = append(e, nil)
	}
}

// embed places a schema document of the spec under $defs/name of root and returns the
// subschema that refers to it. A document without $id gets id, so that its own "#/..."
// references resolve inside it.
func embed(root obj, name, id string, user any) any {
	m, ok := user.(map[string]any)
	if !ok {
		if b, ok := user.(bool); ok {
			return b
		}
		return true
	}
	m = maps.Clone(m)
	if _, has := m["$id"]; !has {
		m["$id"] = id
	}
	defs, _ := root["$defs"].(obj)
	if defs == nil {
		defs = obj{}
		root["$defs"] = defs
	}
	defs[name] = m
	return obj{"$ref": "#/$defs/" + name}
}

func (b *builder) approval(s Spec, d userDocs) obj {
	props := obj{
		"approved": obj{"type": "boolean"},
		"comment":  obj{"type": "string", "maxLength": MaxTextLength},
	}
	names := "approved, comment"
	doc := obj{"type": "object", "properties": props, "required": []any{"approved"}, "additionalProperties": false}
	then, thenProps := obj{}, obj{}
	if s.Editable() {
		// edited is checked against the action schema unless the answer rejects: then it
		// must not be there at all, and one error says so.
		names += ", edited"
		props["edited"] = true
		doc["else"] = obj{"properties": obj{"edited": embed(doc, "action", actionID, d.action)}}
		thenProps["edited"] = false
		b.hint("/then/properties/edited", "false", fixed("can only be given when approving"))
	}
	if s.RequireCommentOnReject {
		then["required"] = []any{"comment"}
		thenProps["comment"] = obj{"pattern": `\S`}
		b.hint("/then", "required", fixed("is required when rejecting: say why"))
		b.hint("/then/properties/comment", "pattern", fixed("must say why when rejecting (it is blank)"))
	}
	if len(thenProps) > 0 {
		then["properties"] = thenProps
		doc["if"] = obj{"properties": obj{"approved": obj{"const": false}}, "required": []any{"approved"}}
		doc["then"] = then
	}
	b.hint("", "type", func(_ jsonschema.ErrorKind, v any) string {
		return `must be an object like {"approved": true, "comment": "..."}, not ` + kindOf(v)
	})
	b.hint("", "required", fixed("is required (true or false)"))
	b.hint("", "additionalProperties", fixed("is not a field of an approval ("+names+")"))
	return doc
}

func (b *builder) text(s Spec) obj {
	doc := obj{"type": "string", "maxLength": s.maxLength()}
	if s.MinLength != nil {
		doc["minLength"] = *s.MinLength
	}
	single := fixed("must be a single line")
	switch {
	case s.Pattern != "" && !s.Multiline:
		doc["pattern"] = s.Pattern
		doc["allOf"] = []any{obj{"pattern": singleLine}}
		b.hint("/allOf/0", "pattern", single)
	case s.Pattern != "":
		doc["pattern"] = s.Pattern
	case !s.Multiline:
		doc["pattern"] = singleLine
		b.hint("", "pattern", single)
	}
	return doc
}

// choice is the schema of one pick of a select or multiselect, at ptr.
func (b *builder) choice(s Spec, ptr string) obj {
	ids := optionIDs(s.Options)
	if !s.AllowCustom {
		return obj{"type": "string", "enum": ids}
	}
	custom := fixed(fmt.Sprintf("a custom answer must be 1 to %d characters", MaxCustomLength))
	fits := true
	for _, o := range s.Options {
		if n := utf8.RuneCountInString(o.ID); n < 1 || n > MaxCustomLength {
			fits = false
		}
	}
	if fits { // every option is also a valid custom answer: one rule covers both
		doc := obj{"type": "string", "minLength": 1, "maxLength": MaxCustomLength}
		if len(ids) > 0 {
			doc["examples"] = ids
		}
		b.hint(ptr, "minLength", custom)
		b.hint(ptr, "maxLength", custom)
		return doc
	}
	b.hint(ptr, "anyOf", fixed(fmt.Sprintf("must be one of the options or a custom answer of 1 to %d characters", MaxCustomLength)))
	return obj{"type": "string", "anyOf": []any{obj{"enum": ids}, obj{"minLength": 1, "maxLength": MaxCustomLength}}}
}

func optionIDs(opts []Option) []any {
	ids := make([]any, len(opts))
	for i, o := range opts {
		ids[i] = o.ID
	}
	return ids
}

func (b *builder) multiselect(s Spec) obj {
	doc := obj{"type": "array", "items": b.choice(s, "/items"), "uniqueItems": true}
	if s.MinPicks != nil {
		doc["minItems"] = *s.MinPicks
	}
	if s.MaxPicks != nil {
		doc["maxItems"] = *s.MaxPicks
	}
	b.hint("", "type", func(_ jsonschema.ErrorKind, v any) string { return "must be a list of option ids, not " + kindOf(v) })
	b.hint("", "minItems", func(k jsonschema.ErrorKind, _ any) string {
		n := k.(*kind.MinItems)
		return fmt.Sprintf("must pick at least %d (got %d)", n.Want, n.Got)
	})
	b.hint("", "maxItems", func(k jsonschema.ErrorKind, _ any) string {
		n := k.(*kind.MaxItems)
		return fmt.Sprintf("must pick at most %d (got %d)", n.Want, n.Got)
	})
	b.hint("", "uniqueItems", func(_ jsonschema.ErrorKind, v any) string { return "picks " + display(v) + " twice" })
	b.hint("/items", "type", func(_ jsonschema.ErrorKind, v any) string {
		return "must be an option id (a string), not " + kindOf(v)
	})
	return doc
}

func (b *builder) form(s Spec) obj {
	props := obj{}
	var required []any
	for _, f := range s.Fields {
		var fd obj
		switch f.Type {
		case FieldBoolean:
			fd = obj{"type": "boolean"}
		case FieldString:
			fd = obj{"type": "string", "maxLength": MaxTextLength}
		case FieldNumber:
			fd = obj{"type": "number"}
		case FieldSelect:
			fd = obj{"type": "string", "enum": optionIDs(f.Options)}
		}
		if f.Name != "" {
			fd["title"] = f.Name
		}
		if f.Data.Description != "" {
			fd["description"] = f.Data.Description
		}
		if f.Required {
			required = append(required, f.ID)
			b.hint("/properties/"+pointerToken(f.ID), "type", func(k jsonschema.ErrorKind, v any) string {
				if v == nil {
					return "is required"
				}
				return sentence(k, v)
			})
		} else {
			nullable(fd) // Masumi leaves optional fields out or null
		}
		props[f.ID] = fd
	}
	doc := obj{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		doc["required"] = required
	}
	b.hint("", "type", func(_ jsonschema.ErrorKind, v any) string {
		return "must be an object of field ids to values, not " + kindOf(v)
	})
	b.hint("", "additionalProperties", fixed("is not a field of this form"))
	return doc
}

// json is the spec's own schema; skippable wraps it to accept null too.
func (b *builder) json(s Spec, d userDocs) any {
	if !s.Skippable {
		m, ok := d.schema.(map[string]any)
		if !ok {
			return d.schema // true or false
		}
		m = maps.Clone(m)
		if _, has := m["$schema"]; !has {
			m["$schema"] = draft2020
		}
		return m
	}
	root := obj{"$schema": draft2020}
	root["anyOf"] = []any{obj{"type": "null"}, embed(root, "answer", answerID, d.schema)}
	return root
}

// pointerToken writes a member name as a token of a JSON Pointer in a URI fragment, as
// the validator reports schema locations.
func pointerToken(k string) string {
	k = strings.ReplaceAll(k, "~", "~0")
	k = strings.ReplaceAll(k, "/", "~1")
	return url.PathEscape(k)
}
