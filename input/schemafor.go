package input

import (
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SpecFor returns the spec an answer of type T needs, the default of hitl.Ask[T]:
//
//   - ApprovalAnswer: approval
//   - string: text (one line, at most MaxTextLength characters)
//   - bool: boolean
//   - integer kinds: number with integer set, bounded by the kind's range (64-bit kinds by
//     ±(2^53-1), the integers a float64 holds exactly)
//   - float kinds: number
//   - interface types and json.RawMessage: approval, as a request without a type
//   - anything else (structs, slices, maps): json, with the schema of SchemaFor
//
// A pointer type gives the spec of what it points to, skippable: a skipped answer leaves
// the pointer nil.
func SpecFor[T any]() (Spec, error) {
	return specFor(reflect.TypeFor[T]())
}

var (
	approvalType = reflect.TypeFor[ApprovalAnswer]()
	rawType      = reflect.TypeFor[json.RawMessage]()
	timeType     = reflect.TypeFor[time.Time]()
	textMarshal  = reflect.TypeFor[encoding.TextMarshaler]()
	jsonMarshal  = reflect.TypeFor[json.Marshaler]()
)

// maxSafeInt is the largest integer below which every integer is a float64.
const maxSafeInt = 1<<53 - 1

func specFor(t reflect.Type) (Spec, error) {
	skippable := false
	for t.Kind() == reflect.Pointer {
		t, skippable = t.Elem(), true
	}
	var s Spec
	switch {
	case t == approvalType, t == rawType, t.Kind() == reflect.Interface:
		s = Spec{Type: Approval}
	case t.Kind() == reflect.String:
		s = Spec{Type: Text}
	case t.Kind() == reflect.Bool:
		s = Spec{Type: Boolean}
	case isInt(t.Kind()):
		lo, hi := intRange(t.Kind())
		s = Spec{Type: Number, Integer: true, Min: &lo, Max: &hi}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		s = Spec{Type: Number}
	default:
		var err error
		if s, err = schemaFor(t); err != nil {
			return Spec{}, err
		}
	}
	s.Skippable = skippable
	return s, nil
}

func isInt(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return false
}

func intRange(k reflect.Kind) (lo, hi float64) {
	switch k {
	case reflect.Int8:
		return math.MinInt8, math.MaxInt8
	case reflect.Int16:
		return math.MinInt16, math.MaxInt16
	case reflect.Int32:
		return math.MinInt32, math.MaxInt32
	case reflect.Uint8:
		return 0, math.MaxUint8
	case reflect.Uint16:
		return 0, math.MaxUint16
	case reflect.Uint32:
		return 0, math.MaxUint32
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return 0, maxSafeInt
	}
	return -maxSafeInt, maxSafeInt
}

// SchemaFor derives a json Spec from T, for typed answers (Agent Framework's typed
// responses): its Schema describes what encoding/json decodes into T.
//
// Structs become objects that allow no other members. Member names follow the json tags;
// a field is required unless it is a pointer or tagged omitempty or omitzero; pointers also
// accept null. Embedded structs are flattened as encoding/json does. Slices and arrays
// become arrays ([]byte a base64 string), maps objects, time.Time a date-time string, other
// encoding.TextMarshaler types strings, interface types, json.RawMessage and other
// json.Marshaler types any value. Channels, functions, complex numbers and recursive types
// are refused.
//
// A hitl tag refines a field; keys are separated by commas, and a value may contain commas
// unless one is followed by a key:
//
//	desc=TEXT     description
//	title=TEXT    title (a form label)
//	min=N, max=N  bounds: of a number; of a string's length; of a list's items; of a map's members
//	enum=a|b|c    the allowed values (strings or numbers)
//	pattern=RE    a regular expression a string must match (unanchored, RE2 syntax)
//	format=NAME   a JSON Schema format, e.g. email, date, uri
//	optional      not required, even without omitempty
//	required      required, even with omitempty or as a pointer
//
// For example:
//
//	type Refund struct {
//		Amount float64  `json:"amount" hitl:"min=0,max=500,desc=Amount to refund, in euros"`
//		Method string   `json:"method" hitl:"enum=original|store_credit|bank"`
//		Note   *string  `json:"note"   hitl:"max=500"`
//		Tags   []string `json:"tags,omitempty" hitl:"max=3"`
//	}
func SchemaFor[T any]() (Spec, error) {
	return schemaFor(reflect.TypeFor[T]())
}

var schemaForCache sync.Map // reflect.Type -> schemaForResult

type schemaForResult struct {
	schema json.RawMessage
	err    error
}

func schemaFor(t reflect.Type) (Spec, error) {
	r, ok := schemaForCache.Load(t)
	if !ok {
		var res schemaForResult
		doc, err := (&reflector{seen: map[reflect.Type]bool{}}).schema(t)
		if err == nil {
			res.schema, err = json.Marshal(doc)
		}
		if err != nil {
			res.err = fmt.Errorf("input: schema for %s: %w", t, err)
		}
		r, _ = schemaForCache.LoadOrStore(t, res)
	}
	res := r.(schemaForResult)
	if res.err != nil {
		return Spec{}, res.err
	}
	return Spec{Type: JSON, Schema: slices.Clone(res.schema)}, nil
}

type reflector struct{ seen map[reflect.Type]bool }

func (r *reflector) schema(t reflect.Type) (any, error) {
	switch {
	case t == timeType:
		return obj{"type": "string", "format": "date-time"}, nil
	case t == rawType:
		return true, nil
	case t.Kind() == reflect.Pointer:
		s, err := r.schema(t.Elem())
		if m, ok := s.(obj); ok {
			nullable(m)
		}
		return s, err
	case t.Implements(jsonMarshal) || reflect.PointerTo(t).Implements(jsonMarshal):
		return true, nil // its JSON form is its own business
	case t.Implements(textMarshal) || reflect.PointerTo(t).Implements(textMarshal):
		return obj{"type": "string"}, nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return obj{"type": "boolean"}, nil
	case reflect.String:
		return obj{"type": "string"}, nil
	case reflect.Float32, reflect.Float64:
		return obj{"type": "number"}, nil
	case reflect.Interface:
		return true, nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			return obj{"type": "string", "contentEncoding": "base64"}, nil
		}
		items, err := r.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		s := obj{"type": "array", "items": items}
		if t.Kind() == reflect.Array {
			s["minItems"], s["maxItems"] = t.Len(), t.Len()
		}
		return s, nil
	case reflect.Map:
		switch k := t.Key(); {
		case k.Kind() == reflect.String, isInt(k.Kind()), k.Implements(textMarshal):
		default:
			return nil, fmt.Errorf("map key type %s is not supported", k)
		}
		values, err := r.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return obj{"type": "object", "additionalProperties": values}, nil
	case reflect.Struct:
		return r.structSchema(t)
	}
	if isInt(t.Kind()) {
		lo, hi := intRange(t.Kind())
		return obj{"type": "integer", "minimum": lo, "maximum": hi}, nil
	}
	return nil, fmt.Errorf("%s values cannot be JSON", t.Kind())
}

func (r *reflector) structSchema(t reflect.Type) (any, error) {
	if r.seen[t] {
		return nil, fmt.Errorf("recursive type %s is not supported", t)
	}
	r.seen[t] = true
	defer delete(r.seen, t)
	props := obj{}
	required := []any{}
	for _, f := range jsonFields(t) {
		s, err := r.schema(f.typ)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.goName, err)
		}
		if f.asString {
			s = obj{"type": "string"}
		}
		opt := f.omit || f.typ.Kind() == reflect.Pointer
		if tag, ok := f.tag.Lookup("hitl"); ok {
			if s, opt, err = applyTag(s, f.typ, tag, opt); err != nil {
				return nil, fmt.Errorf("field %s: hitl tag: %w", f.goName, err)
			}
		}
		props[f.name] = s
		if !opt {
			required = append(required, f.name)
		}
	}
	doc := obj{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		doc["required"] = required
	}
	return doc, nil
}

type jsonField struct {
	name, goName string
	typ          reflect.Type
	tag          reflect.StructTag
	omit         bool // omitempty or omitzero, or inside an embedded pointer
	asString     bool // ,string
	depth        int
	tagged       bool
}

// jsonFields lists the fields encoding/json encodes for t, embedded structs flattened, with
// its rules for names that clash: the shallowest wins, then a tagged one; otherwise none.
func jsonFields(t reflect.Type) []jsonField {
	var all []jsonField
	var walk func(t reflect.Type, depth int, viaPointer bool, visited map[reflect.Type]bool)
	walk = func(t reflect.Type, depth int, viaPointer bool, visited map[reflect.Type]bool) {
		if visited[t] {
			return
		}
		visited[t] = true
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := sf.Type
			if sf.Anonymous {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if !sf.IsExported() && et.Kind() != reflect.Struct {
					continue
				}
				if name == "" && et.Kind() == reflect.Struct {
					// Through a nil embedded pointer, encoding/json writes none of its fields.
					walk(et, depth+1, viaPointer || ft.Kind() == reflect.Pointer, visited)
					continue
				}
			} else if !sf.IsExported() {
				continue
			}
			f := jsonField{name: name, goName: sf.Name, typ: ft, tag: sf.Tag, depth: depth, tagged: name != "", omit: viaPointer}
			if f.name == "" {
				f.name = sf.Name
			}
			for _, o := range strings.Split(opts, ",") {
				switch o {
				case "omitempty", "omitzero":
					f.omit = true
				case "string":
					switch ft.Kind() {
					case reflect.Bool, reflect.Float32, reflect.Float64, reflect.String:
						f.asString = true
					default:
						f.asString = isInt(ft.Kind())
					}
				}
			}
			all = append(all, f)
		}
	}
	walk(t, 0, false, map[reflect.Type]bool{})
	byName := map[string][]jsonField{}
	var order []string
	for _, f := range all {
		if _, ok := byName[f.name]; !ok {
			order = append(order, f.name)
		}
		byName[f.name] = append(byName[f.name], f)
	}
	var out []jsonField
	for _, name := range order {
		fs := byName[name]
		minDepth := slices.MinFunc(fs, func(a, b jsonField) int { return a.depth - b.depth }).depth
		var top, tagged []jsonField
		for _, f := range fs {
			if f.depth == minDepth {
				top = append(top, f)
				if f.tagged {
					tagged = append(tagged, f)
				}
			}
		}
		switch {
		case len(top) == 1:
			out = append(out, top[0])
		case len(tagged) == 1:
			out = append(out, tagged[0])
		}
	}
	return out
}

var tagKeys = []string{"desc", "title", "min", "max", "enum", "pattern", "format", "optional", "required"}

// splitTag splits a hitl tag into its keys, keeping commas that no key follows.
func splitTag(tag string) ([]string, error) {
	var parts []string
	for _, p := range strings.Split(tag, ",") {
		k, _, _ := strings.Cut(p, "=")
		if slices.Contains(tagKeys, strings.TrimSpace(k)) || len(parts) == 0 {
			parts = append(parts, p)
			continue
		}
		parts[len(parts)-1] += "," + p
	}
	for _, p := range parts {
		if k, _, _ := strings.Cut(p, "="); !slices.Contains(tagKeys, strings.TrimSpace(k)) {
			return nil, fmt.Errorf("unknown key %q (one of %s)", k, strings.Join(tagKeys, ", "))
		}
	}
	return parts, nil
}

// applyTag applies a hitl tag to the schema s of a field of type t.
func applyTag(s any, t reflect.Type, tag string, optional bool) (any, bool, error) {
	parts, err := splitTag(tag)
	if err != nil {
		return nil, false, err
	}
	m, ok := s.(obj)
	if !ok {
		m = obj{}
	}
	base := t
	for base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	typ, _ := m["type"].(string)
	if ts, ok := m["type"].([]any); ok && len(ts) > 0 {
		typ, _ = ts[0].(string)
	}
	for _, p := range parts {
		k, v, hasValue := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		switch k {
		case "optional":
			optional = true
			continue
		case "required":
			optional = false
			continue
		}
		if !hasValue || v == "" {
			return nil, false, fmt.Errorf("%s needs a value (%s=...)", k, k)
		}
		switch k {
		case "desc":
			m["description"] = v
		case "title":
			m["title"] = v
		case "format":
			m["format"] = v
		case "pattern":
			if typ != "string" {
				return nil, false, fmt.Errorf("pattern applies to strings, not %s", base)
			}
			if _, err := regexp.Compile(v); err != nil {
				return nil, false, fmt.Errorf("pattern %q is not a valid regular expression (%s)", v, regexpProblem(err))
			}
			m["pattern"] = v
		case "min", "max":
			if err := applyBound(m, typ, k, v); err != nil {
				return nil, false, err
			}
		case "enum":
			var vals []any
			for _, e := range strings.Split(v, "|") {
				switch typ {
				case "string":
					vals = append(vals, e)
				case "number", "integer":
					f, err := strconv.ParseFloat(e, 64)
					if err != nil || math.IsInf(f, 0) {
						return nil, false, fmt.Errorf("enum value %q is not a number", e)
					}
					vals = append(vals, f)
				default:
					return nil, false, fmt.Errorf("enum applies to strings and numbers, not %s", base)
				}
			}
			if t.Kind() == reflect.Pointer {
				vals = append(vals, nil)
			}
			m["enum"] = vals
		}
	}
	return m, optional, nil
}

func applyBound(m obj, typ, k, v string) error {
	if typ == "number" || typ == "integer" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsInf(f, 0) {
			return fmt.Errorf("%s=%s is not a number", k, v)
		}
		m[map[string]string{"min": "minimum", "max": "maximum"}[k]] = f
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return fmt.Errorf("%s=%s is not a count (a whole number, 0 or more)", k, v)
	}
	switch typ {
	case "string":
		m[map[string]string{"min": "minLength", "max": "maxLength"}[k]] = n
	case "array":
		m[map[string]string{"min": "minItems", "max": "maxItems"}[k]] = n
	case "object":
		m[map[string]string{"min": "minProperties", "max": "maxProperties"}[k]] = n
	default:
		return fmt.Errorf("%s applies to numbers, strings, lists and maps", k)
	}
	return nil
}
