package input

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Op is one change in a Diff, shaped like a JSON Patch (RFC 6902) operation: Op is "add",
// "remove" or "replace" and Path a JSON Pointer (RFC 6901). Value is the new value (add,
// replace) and From the previous one (remove, replace), both as canonical JSON, so that the
// record reads on its own; without From, a Diff is a JSON Patch that turns the old document
// into the new one when applied in order.
type Op struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  json.RawMessage `json:"from,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// Diff lists the changes from one JSON document to another, deterministically: object
// members in RFC 8785 key order, array elements compared index by index (extra elements
// added at the end, or removed from the end backwards), any other difference (including a
// change of type) as one replace. Numbers compare as float64, like Hash, so 1.0 equals 1.
// An empty from counts as null. Equal documents give an empty list.
func Diff(from, to json.RawMessage) ([]Op, error) {
	a, err := decodeForDiff(from)
	if err != nil {
		return nil, fmt.Errorf("diff: old document: %w", err)
	}
	b, err := decodeForDiff(to)
	if err != nil {
		return nil, fmt.Errorf("diff: new document: %w", err)
	}
	ops := []Op{}
	if err := diffValues(&ops, "", a, b); err != nil {
		return nil, err
	}
	return ops, nil
}

func decodeForDiff(doc json.RawMessage) (any, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	return v, nil
}

func diffValues(ops *[]Op, ptr string, a, b any) error {
	switch x := a.(type) {
	case map[string]any:
		if y, ok := b.(map[string]any); ok {
			keys := make([]string, 0, len(x)+len(y))
			for k := range x {
				keys = append(keys, k)
			}
			for k := range y {
				if _, dup := x[k]; !dup {
					keys = append(keys, k)
				}
			}
			sortKeys(keys)
			for _, k := range keys {
				p := ptr + "/" + escapeToken(k)
				va, inA := x[k]
				vb, inB := y[k]
				var err error
				switch {
				case !inB:
					err = addOp(ops, "remove", p, va, nil, true, false)
				case !inA:
					err = addOp(ops, "add", p, nil, vb, false, true)
				default:
					err = diffValues(ops, p, va, vb)
				}
				if err != nil {
					return err
				}
			}
			return nil
		}
	case []any:
		if y, ok := b.([]any); ok {
			common := min(len(x), len(y))
			for i := range common {
				if err := diffValues(ops, ptr+"/"+strconv.Itoa(i), x[i], y[i]); err != nil {
					return err
				}
			}
			for i := common; i < len(y); i++ {
				if err := addOp(ops, "add", ptr+"/"+strconv.Itoa(i), nil, y[i], false, true); err != nil {
					return err
				}
			}
			for i := len(x) - 1; i >= common; i-- {
				if err := addOp(ops, "remove", ptr+"/"+strconv.Itoa(i), x[i], nil, true, false); err != nil {
					return err
				}
			}
			return nil
		}
	}
	ca, err := canonicalValue(a)
	if err != nil {
		return err
	}
	cb, err := canonicalValue(b)
	if err != nil {
		return err
	}
	if !bytes.Equal(ca, cb) {
		*ops = append(*ops, Op{Op: "replace", Path: ptr, From: ca, Value: cb})
	}
	return nil
}

func addOp(ops *[]Op, op, ptr string, from, value any, hasFrom, hasValue bool) error {
	o := Op{Op: op, Path: ptr}
	var err error
	if hasFrom {
		if o.From, err = canonicalValue(from); err != nil {
			return err
		}
	}
	if hasValue {
		if o.Value, err = canonicalValue(value); err != nil {
			return err
		}
	}
	*ops = append(*ops, o)
	return nil
}

func canonicalValue(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	if err := writeCanonical(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// escapeToken writes a member name as a JSON Pointer token.
func escapeToken(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// EditDiff returns the Diff, as JSON, from the spec's proposed action to the action an
// approval answer carries in "edited", or nil when the spec is not an editable approval or
// the answer edits nothing. Call it on a validated answer; an answer that edited the action
// back to what was proposed gives "[]".
func (s Spec) EditDiff(answer json.RawMessage) (json.RawMessage, error) {
	if !s.Editable() {
		return nil, nil
	}
	var a struct {
		Edited json.RawMessage `json:"edited"`
	}
	if err := json.Unmarshal(answer, &a); err != nil || len(a.Edited) == 0 {
		return nil, nil // null (skipped) or no edit
	}
	ops, err := Diff(s.Proposed, a.Edited)
	if err != nil {
		return nil, err
	}
	return json.Marshal(ops)
}
