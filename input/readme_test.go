package input_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/input"
)

// Every spec and answer in the README's input-types table is valid.
func TestReadmeInputTable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(\\{.*?\\})` \\| `(.*?)` \\|")
	rows := row.FindAllStringSubmatch(string(b), -1)
	if len(rows) < 8 {
		t.Fatalf("found %d rows in the README's input table, want one per type (8)", len(rows))
	}
	seen := map[input.Type]bool{}
	for _, r := range rows {
		var spec input.Spec
		if err := json.Unmarshal([]byte(r[1]), &spec); err != nil {
			t.Errorf("spec %s: %v", r[1], err)
			continue
		}
		seen[spec.Type] = true
		if err := spec.Check(); err != nil {
			t.Errorf("spec %s: %v", r[1], err)
		}
		if err := spec.Validate(json.RawMessage(strings.TrimSpace(r[2]))); err != nil {
			t.Errorf("answer %s to %s: %v", r[2], r[1], err)
		}
	}
	for _, typ := range []input.Type{input.Approval, input.Text, input.Boolean, input.Number, input.Select, input.MultiSelect, input.Form, "json"} {
		if !seen[typ] {
			t.Errorf("the README has no example of %s", typ)
		}
	}
}
