package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// parseJSON reads one JSON document for validation: an answer (prefix "$") or a document
// of a spec (prefix "input.schema", ...). It guards what the schema validator and Hash
// cannot: size, nesting depth, syntax, and numbers beyond float64. Numbers come back as
// json.Number in the shortest form of their float64 value, so that the validator compares
// the value Hash sees and never does arbitrary-precision work on a huge exponent.
func parseJSON(raw []byte, prefix string) (any, error) {
	var c collector
	// Only JSON's own whitespace: bytes.TrimSpace would also drop \v, U+0085 and U+00A0,
	// which are not valid JSON and which Hash would then refuse.
	trimmed := bytes.Trim(raw, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		if prefix == "$" {
			c.add(prefix, "an answer is required")
		} else {
			c.add(prefix, "is empty")
		}
	case len(trimmed) > MaxAnswerSize:
		c.add(prefix, "is too large (%d bytes; the limit is %d)", len(trimmed), MaxAnswerSize)
	case tooDeep(trimmed, MaxDepth):
		c.add(prefix, "is nested too deeply (more than %d levels of lists and objects)", MaxDepth)
	case !json.Valid(trimmed):
		// json.Valid first: Decoder.More alone lets a stray closing bracket through
		// ("true}"), which Hash (json.Unmarshal) would then refuse.
		c.add(prefix, "is not valid JSON")
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		c.add(prefix, "is not valid JSON")
		return nil, c.err()
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		c.add(prefix, "is not valid JSON")
		return nil, c.err()
	}
	v = normalizeNumbers(v, nil, prefix, &c)
	if err := c.err(); err != nil {
		return nil, err
	}
	return v, nil
}

// tooDeep reports whether arrays and objects in b nest more than max deep. It scans bytes
// without recursion, skipping strings.
func tooDeep(b []byte, max int) bool {
	depth := 0
	inString, escaped := false, false
	for _, ch := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
			}
			continue
		}
		switch ch {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > max {
				return true
			}
		case ']', '}':
			depth--
		}
	}
	return false
}

// normalizeNumbers replaces every json.Number in v by the shortest form of its float64
// value, reporting numbers beyond float64's range.
func normalizeNumbers(v any, p path, prefix string, c *collector) any {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			c.add(p.format(prefix), "is out of range (numbers must be within ±1.7976931348623157e308)")
			return x
		}
		if f == 0 {
			f = 0 // -0 is 0, as in canonical JSON
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e, p.index(i), prefix, c)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) { // sorted: errors come out in path order
			x[k] = normalizeNumbers(x[k], p.key(k), prefix, c)
		}
	}
	return v
}

// path is a location in a JSON document.
type path []pathTok

type pathTok struct {
	key   string
	index int
	isIdx bool
}

func (p path) key(k string) path {
	return append(p[:len(p):len(p)], pathTok{key: k})
}

func (p path) index(i int) path {
	return append(p[:len(p):len(p)], pathTok{index: i, isIdx: true})
}

// format writes p as a JSON path after prefix: $.approved, $.items[2], $['a b'].
func (p path) format(prefix string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, t := range p {
		switch {
		case t.isIdx:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(t.index))
			b.WriteByte(']')
		case isShorthand(t.key):
			b.WriteByte('.')
			b.WriteString(t.key)
		default:
			b.WriteString("['")
			for _, r := range t.key {
				switch r {
				case '\'', '\\':
					b.WriteByte('\\')
					b.WriteRune(r)
				case '\n':
					b.WriteString(`\n`)
				case '\r':
					b.WriteString(`\r`)
				case '\t':
					b.WriteString(`\t`)
				default:
					if r < 0x20 {
						b.WriteString(`\u00`)
						b.WriteByte("0123456789abcdef"[r>>4])
						b.WriteByte("0123456789abcdef"[r&0xf])
					} else {
						b.WriteRune(r)
					}
				}
			}
			b.WriteString("']")
		}
	}
	return b.String()
}

// MemberPath is the JSON path of a top-level member of an answer, as validation errors
// name it: $.name, or $['odd name'] when the name is not a plain identifier.
func MemberPath(name string) string { return path{}.key(name).format("$") }

// isShorthand reports whether a member name can be written .name (RFC 9535).
func isShorthand(k string) bool {
	if k == "" {
		return false
	}
	for i, r := range k {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= 0x80:
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// compare orders paths for error lists: member names alphabetically, indexes numerically
// (before names), and a field's children before the field itself.
func (p path) compare(q path) int {
	for i := 0; i < len(p) && i < len(q); i++ {
		a, b := p[i], q[i]
		switch {
		case a.isIdx && b.isIdx:
			if a.index != b.index {
				return a.index - b.index
			}
		case a.isIdx:
			return -1
		case b.isIdx:
			return 1
		default:
			if c := strings.Compare(a.key, b.key); c != 0 {
				return c
			}
		}
	}
	return len(q) - len(p)
}

// resolve turns the validator's instance location into a path, telling indexes from
// member names by the document itself, and returns the value found there (nil if absent).
func resolve(doc any, loc []string) (path, any) {
	p := make(path, 0, len(loc))
	v := doc
	for _, tok := range loc {
		switch x := v.(type) {
		case []any:
			i, err := strconv.Atoi(tok)
			if err == nil && i >= 0 && i < len(x) {
				p = append(p, pathTok{index: i, isIdx: true})
				v = x[i]
				continue
			}
		case map[string]any:
			p = append(p, pathTok{key: tok})
			v = x[tok]
			continue
		}
		p = append(p, pathTok{key: tok})
		v = nil
	}
	return p, v
}

// parseDoc reads a JSON document of a spec (proposed, schema, action_schema); ok is false
// when it was not usable, and the problems are in c.
func parseDoc(c *collector, at string, raw json.RawMessage) (v any, ok bool) {
	v, err := parseJSON(raw, at)
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			c.fields = append(c.fields, ve.Fields...)
		}
		return nil, false
	}
	return v, true
}
