package jobapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/jobapi"
	"github.com/hitl-dev/hitl/store"
)

// FuzzStartJob posts bodies to POST /start_job of the job API on a real server over an
// embedded JetStream (started once; no orchestrator, so started jobs stay queued). Every
// body is answered 200, 400 or 413, never a 5xx; an error is the documented JSON object;
// a started job's run holds exactly the input_data sent, with the purchaser's identifier
// added when given.
func FuzzStartJob(f *testing.F) {
	env := natstest.Single(f)
	_, js := env.Connect(f)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		f.Fatal(err)
	}
	api, err := jobapi.New(jobapi.Config{Store: st, LinkSecret: []byte("0123456789abcdef0123")})
	if err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Mount(mux)
	srv := httptest.NewServer(mux)
	f.Cleanup(srv.Close)
	for _, s := range []string{
		`{"input_data": {"text": "Summarise this"}}`,
		`{"input_data": {"text": "x"}, "identifier_from_purchaser": "order-77"}`,
		`{"input_data": [{"key": "text", "value": "x"}]}`, `{"input_data": {"text": 1}}`, `{"input_data": {}}`,
		`{"input_data": {"text": "x", "identifier_from_purchaser": "y"}}`, `{"input_data": null}`, `{}`, `[]`, `{`, ``,
		`{"input_data": {"text": "x"}, "identifier_from_purchaser": 5}`, `{"input_data": {"text": "a", "text": "b"}}`,
		`{"input_data": {"text": "x", "more": {"nested": [1, 2]}}, "extra": true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := http.Post(srv.URL+"/start_job", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK {
			if res.StatusCode != http.StatusBadRequest && res.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("body %q: %d %s", body, res.StatusCode, out)
			}
			var e struct {
				Error  struct{ Code, Message string }
				Detail string
			}
			if json.Unmarshal(out, &e) != nil || e.Error.Code == "" || e.Error.Message == "" || e.Detail == "" {
				t.Fatalf("%d with %q, not the error object", res.StatusCode, out)
			}
			return
		}
		var started jobapi.StartJobResponse
		if err := json.Unmarshal(out, &started); err != nil || started.JobID == "" || started.Status != jobapi.StatusRunning {
			t.Fatalf("200 with %q: %v", out, err)
		}
		run, _, err := st.Run(context.Background(), started.JobID)
		if err != nil {
			t.Fatalf("job %s has no run: %v", started.JobID, err)
		}
		var sent struct {
			InputData               map[string]any `json:"input_data"`
			IdentifierFromPurchaser string         `json:"identifier_from_purchaser"`
		}
		if err := json.Unmarshal(body, &sent); err != nil {
			t.Fatalf("accepted %q: %v", body, err)
		}
		if sent.IdentifierFromPurchaser != "" {
			sent.InputData[jobapi.IdentifierKey] = sent.IdentifierFromPurchaser
		}
		var stored map[string]any
		if err := json.Unmarshal(run.Input, &stored); err != nil || !reflect.DeepEqual(stored, sent.InputData) {
			t.Fatalf("sent %q, the run holds %s (%v)", body, run.Input, err)
		}
		if started.IdentifierFromPurchaser != sent.IdentifierFromPurchaser {
			t.Fatalf("identifier %q answered as %q", sent.IdentifierFromPurchaser, started.IdentifierFromPurchaser)
		}
	})
}

var answerSpecs = []input.Spec{
	{Type: input.Approval},
	{Type: input.Text, Skippable: true},
	{Type: input.Number},
	{Type: input.Select, Options: []input.Option{{ID: "eu"}, {ID: "us"}}},
	{Type: input.MultiSelect, Options: []input.Option{{ID: "eu"}, {ID: "us"}}},
	{Type: input.Form, Fields: []input.Field{{ID: "amount", Type: input.FieldNumber}}},
	{Type: input.JSON},
}

// FuzzAnswer: /provide_input's input_data becomes the answer or a *input.ValidationError
// whose paths name input_data; a type answered by one "value" field gives that value as is;
// an approval or a form gives input_data itself.
func FuzzAnswer(f *testing.F) {
	for i, s := range []string{
		`{"approved": true}`, `{"value": "hello"}`, `{}`, `{"value": 12.5}`, `{"value": "eu"}`, `{"value": ["eu", "us"]}`,
		`{"amount": 3}`, `{"value": {"any": null}}`, `{"value": 1, "other": 2}`, `[]`, `null`, `"x"`, ``, `{"value": null}`,
	} {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		spec := answerSpecs[int(which)%len(answerSpecs)]
		got, err := jobapi.Answer(spec, data)
		if err != nil {
			var ve *input.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) == 0 {
				t.Fatalf("Answer(%q) = %v, want a *ValidationError", data, err)
			}
			for _, fe := range ve.Fields {
				if !strings.HasPrefix(fe.Path, "input_data") || fe.Message == "" {
					t.Fatalf("Answer(%q): field %+v", data, fe)
				}
			}
			return
		}
		if !json.Valid(got) {
			t.Fatalf("Answer(%q) = %q, not JSON", data, got)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
			t.Fatalf("Answer accepted %q, not an object", data)
		}
		switch {
		case len(obj) == 0 && spec.Skippable:
			if string(got) != "null" {
				t.Fatalf("an empty input_data skips, got %q", got)
			}
		case spec.Type == input.Approval || spec.Type == input.Form:
			if !bytes.Equal(got, data) {
				t.Fatalf("Answer(%q) = %q, want input_data itself", data, got)
			}
		default:
			v, ok := obj[jobapi.ValueField]
			if len(obj) > 1 || (len(obj) == 1 && !ok) {
				t.Fatalf("Answer accepted %q, which has fields besides value", data)
			}
			if ok && !bytes.Equal(got, v) || !ok && string(got) != "null" {
				t.Fatalf("Answer(%q) = %q, want the value", data, got)
			}
		}
	})
}
