package input_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/input"
)

// docBlock is a fenced code block of docs/input.md with an info string "json <role>".
type docBlock struct {
	role, body string
	line       int
}

func docBlocks(t *testing.T) []docBlock {
	t.Helper()
	f, err := os.Open("../docs/input.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks []docBlock
		cur    *docBlock
		body   strings.Builder
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```json "):
			cur = &docBlock{role: strings.TrimPrefix(line, "```json "), line: n}
			body.Reset()
		case cur != nil && line == "```":
			cur.body = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

// TestDocExamples checks the examples of docs/input.md: every spec passes Check, every
// answer after it is valid, and an invalid answer fails with the errors shown.
func TestDocExamples(t *testing.T) {
	t.Parallel()

	var (
		spec      *input.Spec
		lastErr   *input.ValidationError
		specs     int
		answers   int
		typesSeen = map[input.Type]bool{}
	)
	for _, b := range docBlocks(t) {
		switch b.role {
		case "spec":
			var s input.Spec
			dec := json.NewDecoder(strings.NewReader(b.body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&s); err != nil {
				t.Fatalf("line %d: spec: %v", b.line, err)
			}
			if err := s.Check(); err != nil {
				t.Errorf("line %d: Check: %v", b.line, err)
			}
			spec, lastErr = &s, nil
			specs++
			typesSeen[s.Type] = true
		case "answer":
			if spec == nil {
				t.Fatalf("line %d: an answer before any spec", b.line)
			}
			if err := spec.Validate(json.RawMessage(b.body)); err != nil {
				t.Errorf("line %d: Validate(%s): %v", b.line, strings.TrimSpace(b.body), err)
			}
			answers++
		case "invalid":
			err := spec.Validate(json.RawMessage(b.body))
			if !errors.As(err, &lastErr) {
				t.Fatalf("line %d: Validate(%s) = %v, want a *ValidationError", b.line, strings.TrimSpace(b.body), err)
			}
		case "errors":
			var doc struct {
				Error struct {
					Fields []input.FieldError `json:"fields"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(b.body), &doc); err != nil || lastErr == nil {
				t.Fatalf("line %d: errors block (%v) without an invalid answer before it", b.line, err)
			}
			var got []input.FieldError
			for _, f := range lastErr.Fields { // as the API writes them
				got = append(got, input.FieldError{Path: "data" + strings.TrimPrefix(f.Path, "$"), Message: f.Message})
			}
			if !slices.Equal(got, doc.Error.Fields) {
				t.Errorf("line %d: the doc shows %q, Validate gives %q", b.line, doc.Error.Fields, got)
			}
		default:
			t.Errorf("line %d: unknown block role %q", b.line, b.role)
		}
	}
	for _, typ := range []input.Type{input.Approval, input.Text, input.Boolean, input.Number, input.Select, input.MultiSelect, input.Form, input.JSON} {
		if !typesSeen[typ] {
			t.Errorf("docs/input.md has no spec example of %s", typ)
		}
	}
	if specs == 0 || answers < specs {
		t.Errorf("%d specs and %d answers in docs/input.md", specs, answers)
	}
}
