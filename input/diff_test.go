package input_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/input"
)

func TestDiff(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		from, to string
		want     string
	}{
		{"equal", `{"a": [1, {"b": null}]}`, `{"a":[1,{"b":null}]}`, `[]`},
		{"numbers compare as float64", `{"a": 1.0, "b": 1e2}`, `{"a": 1, "b": 100}`, `[]`},
		{"replace a member", `{"amount": 149.99, "method": "original"}`, `{"amount": 120, "method": "original"}`,
			`[{"op":"replace","path":"/amount","from":149.99,"value":120}]`},
		{"add and remove members in key order", `{"b": 1, "d": 2}`, `{"a": true, "b": 1, "c": "x"}`,
			`[{"op":"add","path":"/a","value":true},{"op":"add","path":"/c","value":"x"},{"op":"remove","path":"/d","from":2}]`},
		{"nested", `{"o": {"p": {"q": 1}}}`, `{"o": {"p": {"q": 2}}}`, `[{"op":"replace","path":"/o/p/q","from":1,"value":2}]`},
		{"array grows", `[1, 2]`, `[1, 3, 4, 5]`,
			`[{"op":"replace","path":"/1","from":2,"value":3},{"op":"add","path":"/2","value":4},{"op":"add","path":"/3","value":5}]`},
		{"array shrinks from the end", `["a", "b", "c", "d"]`, `["a"]`,
			`[{"op":"remove","path":"/3","from":"d"},{"op":"remove","path":"/2","from":"c"},{"op":"remove","path":"/1","from":"b"}]`},
		{"type change is one replace", `{"a": {"x": 1}}`, `{"a": [1]}`, `[{"op":"replace","path":"/a","from":{"x":1},"value":[1]}]`},
		{"null to value", `{"a": null}`, `{"a": 0}`, `[{"op":"replace","path":"/a","from":null,"value":0}]`},
		{"remove a member holding null", `{"a": null}`, `{}`, `[{"op":"remove","path":"/a","from":null}]`},
		{"pointer escapes", `{"a/b": 1, "m~n": 1}`, `{"a/b": 2, "m~n": 2}`,
			`[{"op":"replace","path":"/a~1b","from":1,"value":2},{"op":"replace","path":"/m~0n","from":1,"value":2}]`},
		{"whole document", `1`, `"one"`, `[{"op":"replace","path":"","from":1,"value":"one"}]`},
		{"no proposal", ``, `{"a": 1}`, `[{"op":"replace","path":"","from":null,"value":{"a":1}}]`},
		{"canonical values", `{"a": 1}`, `{"a": {"z": 1, "b": [1E3, "\u00e9"]}}`, `[{"op":"replace","path":"/a","from":1,"value":{"b":[1000,"é"],"z":1}}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ops, err := input.Diff(json.RawMessage(tt.from), json.RawMessage(tt.to))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(ops)
			if string(got) != tt.want {
				t.Errorf("Diff\n got %s\nwant %s", got, tt.want)
			}
			// Applied in order, the ops turn from into to.
			var from, to any
			if tt.from != "" {
				_ = json.Unmarshal([]byte(tt.from), &from)
			}
			_ = json.Unmarshal([]byte(tt.to), &to)
			if applied := apply(t, from, ops); !reflect.DeepEqual(applied, to) {
				t.Errorf("applying the diff gives %v, want %v", applied, to)
			}
		})
	}
}

// apply is a minimal JSON Patch (add, remove, replace) for the test.
func apply(t *testing.T, doc any, ops []input.Op) any {
	t.Helper()
	for _, op := range ops {
		var val any
		if op.Value != nil {
			if err := json.Unmarshal(op.Value, &val); err != nil {
				t.Fatal(err)
			}
		}
		if op.Path == "" {
			doc = val
			continue
		}
		toks := strings.Split(op.Path, "/")[1:]
		for i, tok := range toks {
			toks[i] = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		}
		doc = applyAt(t, doc, toks, op.Op, val)
	}
	return doc
}

func applyAt(t *testing.T, doc any, toks []string, op string, val any) any {
	switch d := doc.(type) {
	case map[string]any:
		if len(toks) == 1 {
			if op == "remove" {
				delete(d, toks[0])
			} else {
				d[toks[0]] = val
			}
			return d
		}
		d[toks[0]] = applyAt(t, d[toks[0]], toks[1:], op, val)
		return d
	case []any:
		i, _ := strconv.Atoi(toks[0])
		if len(toks) == 1 {
			switch op {
			case "remove":
				return append(d[:i:i], d[i+1:]...)
			case "add":
				return append(d[:i:i], append([]any{val}, d[i:]...)...)
			default:
				d[i] = val
				return d
			}
		}
		d[i] = applyAt(t, d[i], toks[1:], op, val)
		return d
	}
	t.Fatalf("cannot apply %s at %v to %v", op, toks, doc)
	return nil
}

func TestDiffErrors(t *testing.T) {
	t.Parallel()
	if _, err := input.Diff(json.RawMessage(`{`), json.RawMessage(`1`)); err == nil {
		t.Error("Diff of invalid JSON succeeded")
	}
	if _, err := input.Diff(json.RawMessage(`1`), json.RawMessage(`1e400`)); err == nil {
		t.Error("Diff with a number beyond float64 succeeded")
	}
}

func TestEditDiff(t *testing.T) {
	t.Parallel()

	tests := []struct {
		spec   input.Spec
		answer string
		want   string // "" for nil
	}{
		{editSpec, `{"approved": true, "edited": {"order_id": "A-1001", "amount": 120, "method": "store_credit", "notify": ["email", "sms"]}}`,
			`[{"op":"replace","path":"/amount","from":149.99,"value":120},{"op":"replace","path":"/method","from":"original","value":"store_credit"},{"op":"add","path":"/notify/1","value":"sms"}]`},
		{editSpec, `{"approved": true, "edited": {"order_id": "A-1001", "amount": 149.99, "method": "original", "notify": ["email"]}}`, `[]`},
		{editSpec, `{"approved": true}`, ""},
		{editSpec, `{"approved": false, "comment": "no"}`, ""},
		{input.Spec{Type: input.Approval, Skippable: true, Proposed: refundProposed}, `null`, ""},
		{input.Spec{Type: input.Approval}, `{"approved": true}`, ""},
		{flujo, `{"confirmation": "yes"}`, ""},
		{input.Spec{Type: input.Approval, ActionSchema: json.RawMessage(`{"type": "object"}`)}, `{"approved": true, "edited": {"a": 1}}`,
			`[{"op":"replace","path":"","from":null,"value":{"a":1}}]`},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			if err := tt.spec.Validate(json.RawMessage(tt.answer)); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			got, err := tt.spec.EditDiff(json.RawMessage(tt.answer))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("EditDiff = %s, want %s", got, tt.want)
			}
		})
	}
}
