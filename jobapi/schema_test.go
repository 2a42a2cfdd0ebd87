package jobapi_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/examples/approvalgate"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/jobapi"
)

func TestJobAnswerFromInputData(t *testing.T) {
	t.Parallel()
	form := input.Spec{Type: input.Form, Fields: []input.Field{{ID: "approve", Type: input.FieldBoolean}}}
	cases := []struct {
		name      string
		spec      input.Spec
		inputData string
		want      string
		wantErr   error
		wantPath  string
	}{
		{"form: the object itself", form, `{"approve": true}`, `{"approve": true}`, nil, ""},
		{"form: empty object kept", form, `{}`, `{}`, nil, ""},
		{"skippable form: empty object skips", input.Spec{Type: input.Form, Skippable: true, Fields: form.Fields}, `{}`, `null`, nil, ""},
		{"approval: the object itself", input.Spec{Type: input.Approval}, `{"approved": false, "comment": "no"}`, `{"approved": false, "comment": "no"}`, nil, ""},
		{"text: the value", input.Spec{Type: input.Text}, `{"value": "hi"}`, `"hi"`, nil, ""},
		{"boolean: the value", input.Spec{Type: input.Boolean}, `{"value": false}`, `false`, nil, ""},
		{"number: the value, digits kept", input.Spec{Type: input.Number}, `{"value": 1.50}`, `1.50`, nil, ""},
		{"select: the value", input.Spec{Type: input.Select}, `{"value": "a"}`, `"a"`, nil, ""},
		{"multiselect: the list", input.Spec{Type: input.MultiSelect}, `{"value": ["a", "b"]}`, `["a", "b"]`, nil, ""},
		{"one value: absent is null", input.Spec{Type: input.Boolean}, `{}`, `null`, nil, ""},
		{"one value: another key", input.Spec{Type: input.Text}, `{"text": "hi"}`, ``, input.ErrInvalid, "input_data.text"},
		{"not an object", input.Spec{Type: input.Text}, `"hi"`, ``, input.ErrInvalid, "input_data"},
		{"null", form, `null`, ``, input.ErrInvalid, "input_data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := jobapi.Answer(c.spec, json.RawMessage(c.inputData))
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err %v, want %v", err, c.wantErr)
			}
			if err != nil {
				var ve *input.ValidationError
				if !errors.As(err, &ve) || ve.Fields[0].Path != c.wantPath {
					t.Errorf("err %v, want path %s", err, c.wantPath)
				}
				return
			}
			if string(got) != c.want {
				t.Errorf("answer %s, want %s", got, c.want)
			}
		})
	}
}

func TestJobFieldsOfEveryType(t *testing.T) {
	t.Parallel()
	opts := []input.Option{{ID: "a", Label: "A"}}
	cases := []struct {
		spec input.Spec
		want string
	}{
		{input.Spec{Type: input.Approval, Skippable: true},
			`[{"id":"approved","type":"boolean","name":"T","data":{"description":"M"}},{"id":"comment","type":"string","name":"Comment","data":{"description":"Optional comment"},"validations":[{"validation":"max","value":"100000"}]}]`},
		{input.Spec{Type: input.Text},
			`[{"id":"value","type":"string","name":"T","data":{"description":"M"},"required":true,"validations":[{"validation":"max","value":"100000"}]}]`},
		{input.Spec{Type: input.Boolean, Skippable: true}, `[{"id":"value","type":"boolean","name":"T","data":{"description":"M"}}]`},
		{input.Spec{Type: input.Number, Min: ptr(-1.5)}, `[{"id":"value","type":"number","name":"T","data":{"description":"M"},"required":true,"validations":[{"validation":"min","value":"-1.5"}]}]`},
		{input.Spec{Type: input.Select, Options: opts}, `[{"id":"value","type":"select","name":"T","data":{"description":"M"},"required":true,"options":[{"id":"a","label":"A"}]}]`},
		{input.Spec{Type: input.MultiSelect, Options: opts}, `[{"id":"value","type":"multiselect","name":"T","data":{"description":"M"},"required":true,"options":[{"id":"a","label":"A"}]}]`},
		{input.Spec{Type: input.Form, Fields: []input.Field{{ID: "f", Type: input.FieldSelect, Name: "F", Required: true, Options: opts, Data: input.FieldData{Description: "D"}}}},
			`[{"id":"f","type":"select","name":"F","data":{"description":"D"},"required":true,"options":[{"id":"a","label":"A"}]}]`},
		{input.Spec{Type: "json"}, `[{"id":"value","type":"json","name":"T","data":{"description":"M"},"required":true}]`},
	}
	for _, c := range cases {
		t.Run(string(c.spec.Type), func(t *testing.T) {
			got, err := json.Marshal(jobapi.Fields(&events.Request{Title: "T", Message: "M", Input: c.spec}))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("fields\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestJobDefaultInputSchemaIsTheApprovalGates(t *testing.T) {
	t.Parallel()
	if jobapi.DefaultWorkflow != approvalgate.Name || !reflect.DeepEqual(jobapi.DefaultInputSchema, approvalgate.InputSchema) {
		t.Fatalf("the job API's defaults (%s, %+v) are not the approval gate's (%s, %+v)",
			jobapi.DefaultWorkflow, jobapi.DefaultInputSchema, approvalgate.Name, approvalgate.InputSchema)
	}
}
