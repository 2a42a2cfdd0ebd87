package events_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hitl-dev/hitl/events"
)

// compileSchemas adds every file of events.Schemas to one compiler under its $id, so that
// cross-file $refs resolve without any loader, and compiles each. Formats are asserted.
func compileSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	files, err := fs.Glob(events.Schemas, "schemas/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no schemas embedded: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	ids := map[string]string{}
	for _, f := range files {
		b, err := fs.ReadFile(events.Schemas, f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if want := "urn:hitl:schema:" + strings.TrimPrefix(f, "schemas/"); id != want {
			t.Errorf("%s: $id = %q, want %q", f, id, want)
		}
		if err := c.AddResource(id, doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		ids[f] = id
	}
	compiled := map[string]*jsonschema.Schema{}
	for f, id := range ids {
		sch, err := c.Compile(id)
		if err != nil {
			t.Fatalf("compile %s: %v", f, err)
		}
		compiled[id] = sch
	}
	return compiled
}

func validateData(t *testing.T, sch *jsonschema.Schema, data []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("data is not JSON: %v", err)
	}
	return sch.Validate(inst)
}

func TestSchemasMatchEvents(t *testing.T) {
	t.Parallel()
	schemas := compileSchemas(t)

	for _, typ := range allTypes {
		if _, ok := schemas[events.SchemaURI(typ)]; !ok {
			t.Errorf("%s: dataschema %q is not an embedded schema", typ, events.SchemaURI(typ))
		}
	}
	for _, s := range samples() {
		t.Run(s.typ, func(t *testing.T) {
			t.Parallel()
			m, err := events.NewMsg("s", s.typ, "e1", s.data)
			if err != nil {
				t.Fatal(err)
			}
			e, err := events.Decode(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			sch := schemas[e.DataSchema()]
			if sch == nil {
				t.Fatalf("no schema %q", e.DataSchema())
			}
			if err := validateData(t, sch, e.Data()); err != nil {
				t.Errorf("data of %s does not match %s:\n%s\n%v", s.typ, e.DataSchema(), e.Data(), err)
			}
		})
	}
}

// TestSchemasReject checks that the schemas constrain something: each document here breaks one rule.
func TestSchemasReject(t *testing.T) {
	t.Parallel()
	schemas := compileSchemas(t)

	request := func(edit func(m map[string]any)) string {
		b, _ := json.Marshal(pendingRequest())
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		edit(m)
		b, _ = json.Marshal(m)
		return string(b)
	}
	tests := []struct {
		name   string
		schema string
		doc    string
	}{
		{"request without title", "request.json", request(func(m map[string]any) { delete(m, "title") })},
		{"request with empty title", "request.json", request(func(m map[string]any) { m["title"] = "" })},
		{"request id not a uuid", "request.json", request(func(m map[string]any) { m["id"] = "req-1" })},
		{"request without input", "request.json", request(func(m map[string]any) { delete(m, "input") })},
		{"request input of unknown type", "request.json", request(func(m map[string]any) { m["input"] = map[string]any{"type": "date"} })},
		{"request option without label", "request.json", request(func(m map[string]any) {
			m["input"] = map[string]any{"type": "select", "options": []any{map[string]any{"id": "a"}}}
		})},
		{"request negative max_length", "request.json", request(func(m map[string]any) { m["input"] = map[string]any{"type": "text", "max_length": -1} })},
		{"request status unknown", "request.json", request(func(m map[string]any) { m["status"] = "open" })},
		{"request timeout as number", "request.json", request(func(m map[string]any) { m["timeout"] = 30 })},
		{"request bad on_timeout", "request.json", request(func(m map[string]any) { m["on_timeout"] = "retry" })},
		{"request assignee without kind", "request.json", request(func(m map[string]any) { m["assignees"] = []any{":ops"} })},
		{"request assignee without name", "request.json", request(func(m map[string]any) { m["assignees"] = []any{"webhook:"} })},
		{"request assignee without colon", "request.json", request(func(m map[string]any) { m["assignees"] = []any{"ops-bot"} })},
		{"request metadata not strings", "request.json", request(func(m map[string]any) { m["metadata"] = map[string]any{"n": 1} })},
		{"request bad created_at", "request.json", request(func(m map[string]any) { m["created_at"] = "yesterday" })},
		{"request bad callback_url", "request.json", request(func(m map[string]any) { m["callback_url"] = "not a uri" })},
		{"request bad nested response", "request.json", request(func(m map[string]any) { m["response"] = map[string]any{"request_id": "x"} })},
		{"response without outcome", "response.json", `{"request_id":"x","at":"2026-03-01T09:30:00Z"}`},
		{"response pending outcome", "response.json", `{"request_id":"x","outcome":"pending","at":"2026-03-01T09:30:00Z"}`},
		{"response bad input_hash", "response.json", `{"request_id":"x","outcome":"answered","input_hash":"ABC","at":"2026-03-01T09:30:00Z"}`},
		{"run_started without workflow", "run_started.json", `{"run_id":"r"}`},
		{"run_started empty workflow", "run_started.json", `{"run_id":"r","workflow":""}`},
		{"run_started workflow with a dot", "run_started.json", `{"run_id":"r","workflow":"a.b"}`},
		{"run_started workflow with a wildcard", "run_started.json", `{"run_id":"r","workflow":"*"}`},
		{"run_cancel without run_id", "run_cancel.json", `{"reason":"x"}`},
		{"run_resume without request_id", "run_resume.json", `{"run_id":"0f8fad5b-d9cb-469f-a165-70867728950e"}`},
		{"run_resume run_id not a uuid", "run_resume.json", `{"run_id":"r","request_id":"9b2f7c1e-5a3d-5e4f-8a6b-1c2d3e4f5a6b"}`},
		{"run_finished running", "run_finished.json", `{"run_id":"r","workflow":"w","status":"running"}`},
		{"run_finished not an object", "run_finished.json", `"done"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sch := schemas["urn:hitl:schema:"+tt.schema]
			if err := validateData(t, sch, []byte(tt.doc)); err == nil {
				t.Errorf("%s accepted %s", tt.schema, tt.doc)
			}
		})
	}
}
