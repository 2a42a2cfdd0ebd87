package jobapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/engine"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/examples/approvalgate"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/internal/ratelimit"
	"github.com/hitl-dev/hitl/jobapi"
	"github.com/hitl-dev/hitl/store"
)

const linkSecret = "0123456789abcdef0123456789abcdef"

// registry holds the seed's two jobs plus the test workflows.
func registry() *hitl.Registry {
	reg := hitl.NewRegistry()
	approvalgate.Register(reg)
	hitl.Register(reg, "every-type", everyType)
	hitl.Register(reg, "ask-all", askAll)
	hitl.Register(reg, "fails", func(context.Context, struct{}) (string, error) { return "", fmt.Errorf("boom") })
	return reg
}

func ptr[T any](v T) *T { return &v }

// everyType asks one question of each input type, in turn, and returns every answer as the
// workflow received it.
func everyType(ctx context.Context, _ struct{}) (map[string]json.RawMessage, error) {
	specs := []struct {
		title string
		spec  input.Spec
	}{
		{"approval", input.Spec{Type: input.Approval}},
		{"text", input.Spec{Type: input.Text, MinLength: ptr(2), MaxLength: ptr(20), Multiline: true}},
		{"boolean", input.Spec{Type: input.Boolean}},
		{"number", input.Spec{Type: input.Number, Min: ptr(0.0), Max: ptr(100.0), Integer: true}},
		{"select", input.Spec{Type: input.Select, AllowCustom: true, Options: []input.Option{{ID: "a", Label: "A"}, {ID: "b", Label: "B"}}}},
		{"multiselect", input.Spec{Type: input.MultiSelect, Skippable: true, MinPicks: ptr(1), MaxPicks: ptr(2),
			Options: []input.Option{{ID: "x", Label: "X"}, {ID: "y", Label: "Y"}, {ID: "z", Label: "Z"}}}},
		{"form", input.Spec{Type: input.Form, Fields: []input.Field{
			{ID: "budget", Type: input.FieldNumber, Name: "Approved Budget (USD)", Data: input.FieldData{Description: "Enter the approved budget"}, Required: true},
			{ID: "tier", Type: input.FieldSelect, Name: "Tier", Options: []input.Option{{ID: "gold", Label: "Gold"}}},
		}}},
	}
	out := map[string]json.RawMessage{}
	for _, s := range specs {
		a, err := hitl.Ask[json.RawMessage](ctx, hitl.Request{Title: s.title, Message: "Answer the " + s.title + " question.", Input: s.spec})
		if err != nil {
			return nil, err
		}
		if a == nil {
			a = json.RawMessage("null")
		}
		out[s.title] = a
	}
	return out, nil
}

// askAll asks two questions at once.
func askAll(ctx context.Context, _ struct{}) ([]json.RawMessage, error) {
	as, err := hitl.AskAll(ctx,
		hitl.Request{Title: "Notes", Message: "Reviewer notes, please.", Input: input.Spec{Type: input.Form,
			Fields: []input.Field{{ID: "notes", Type: input.FieldString, Name: "Notes", Required: true}}}},
		hitl.Request{Title: "Colour", Message: "Pick a colour.", Input: input.Spec{Type: input.Select,
			Options: []input.Option{{ID: "red", Label: "Red"}, {ID: "blue", Label: "Blue"}}}},
	)
	if err != nil {
		return nil, err
	}
	return []json.RawMessage{as[0].Data, as[1].Data}, nil
}

// system is JetStream, an orchestrator and the job API over HTTP.
type system struct {
	t   *testing.T
	st  *store.Store
	reg *hitl.Registry
	url string
}

// setup starts JetStream and an orchestrator; serve adds job APIs on top.
func setup(t *testing.T) *system {
	t.Helper()
	env := natstest.Single(t)
	_, js := env.Connect(t)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	s := &system{t: t, st: st, reg: registry()}
	o, err := engine.New(engine.Config{Store: st, Registry: s.reg, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("orchestrator: %v", err)
		}
	})
	s.url = s.serve(jobapi.Config{})
	return s
}

// serve starts a job API with cfg (Store, LinkSecret and Logger filled in) and returns its URL.
func (s *system) serve(cfg jobapi.Config) string {
	s.t.Helper()
	cfg.Store, cfg.LinkSecret, cfg.Logger = s.st, []byte(linkSecret), testLogger(s.t)
	api, err := jobapi.New(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Mount(mux)
	srv := httptest.NewServer(mux)
	s.t.Cleanup(srv.Close)
	return srv.URL
}

type resp struct {
	status int
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return m
}

func call(t *testing.T, method, url, token string, body any) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, body: b}
}

// start starts a job and returns its id.
func start(t *testing.T, url string, inputData any, ident string) string {
	t.Helper()
	r := call(t, "POST", url+"/start_job", "", map[string]any{"input_data": inputData, "identifier_from_purchaser": ident})
	if r.status != http.StatusOK {
		t.Fatalf("start_job: %d %s", r.status, r.body)
	}
	var v jobapi.StartJobResponse
	mustDecode(t, r.body, &v)
	if v.JobID == "" || v.ID != v.JobID || v.Status != "running" || v.IdentifierFromPurchaser != ident {
		t.Fatalf("start_job answered %s", r.body)
	}
	return v.JobID
}

func status(t *testing.T, url, jobID string) jobapi.JobStatus {
	t.Helper()
	r := call(t, "GET", url+"/status?job_id="+jobID, "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("status: %d %s", r.status, r.body)
	}
	var v jobapi.JobStatus
	mustDecode(t, r.body, &v)
	return v
}

// await polls /status until ok holds.
func await(t *testing.T, url, jobID string, ok func(jobapi.JobStatus) bool) jobapi.JobStatus {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		v := status(t, url, jobID)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s did not get there in time: %+v", jobID, v)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// awaiting waits for the job to await input on a request titled title.
func awaiting(t *testing.T, url, jobID, title string) jobapi.JobStatus {
	t.Helper()
	return await(t, url, jobID, func(v jobapi.JobStatus) bool {
		return v.Status == jobapi.StatusAwaitingInput && len(v.PendingInputs) > 0 && v.PendingInputs[0].Title == title
	})
}

func done(t *testing.T, url, jobID string) jobapi.JobStatus {
	t.Helper()
	return await(t, url, jobID, func(v jobapi.JobStatus) bool {
		return v.Status == jobapi.StatusCompleted || v.Status == jobapi.StatusFailed
	})
}

func provide(t *testing.T, url string, body map[string]any) jobapi.ProvideInputResponse {
	t.Helper()
	r := call(t, "POST", url+"/provide_input", "", body)
	if r.status != http.StatusOK {
		t.Fatalf("provide_input %v: %d %s", body, r.status, r.body)
	}
	var v jobapi.ProvideInputResponse
	mustDecode(t, r.body, &v)
	return v
}

func mustDecode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

func result(t *testing.T, v jobapi.JobStatus) string {
	t.Helper()
	if v.Status != jobapi.StatusCompleted || v.Result == nil {
		t.Fatalf("job is not completed: %+v", v)
	}
	return *v.Result
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func compactJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestJobApprovalGate(t *testing.T) {
	t.Parallel()
	s := setup(t)

	id := start(t, s.url, map[string]any{"text": "hello world"}, "test-123")
	v := awaiting(t, s.url, id, "Approve Processing")
	if v.JobID != id || v.ID != id || v.IdentifierFromPurchaser != "test-123" || v.Message != "Please review and approve this request." {
		t.Errorf("status: %+v", v)
	}
	want := `{"input_data":[{"id":"approve","type":"boolean","name":"Approve Processing","data":{"description":"Approve processing for: 'hello world'?"}}]}`
	if got := compactJSON(t, v.InputSchema); got != want {
		t.Errorf("input_schema\n got %s\nwant %s", got, want)
	}
	if len(v.PendingInputs) != 1 || v.PendingInputs[0].RequestID != v.RequestID || v.PendingInputs[0].InputType != input.Form {
		t.Errorf("pending_inputs: %+v (request_id %s)", v.PendingInputs, v.RequestID)
	}
	// The workflow got input_data with the purchaser's identifier beside it.
	run, _, err := s.st.Run(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if string(run.Input) != `{"identifier_from_purchaser":"test-123","text":"hello world"}` {
		t.Errorf("run input %s", run.Input)
	}

	p := provide(t, s.url, map[string]any{"job_id": id, "input_data": map[string]any{"approve": true}})
	if p.InputHash != sha(`{"approve":true}`) || p.Signature != jobapi.Sign([]byte(linkSecret), p.InputHash) ||
		p.JobID != id || p.RequestID != v.RequestID {
		t.Errorf("provide_input answered %+v", p)
	}
	if got := result(t, done(t, s.url, id)); got != "HELLO WORLD" {
		t.Errorf("result %q", got)
	}
	// The request record holds the same hash, and who answered.
	req, _, err := s.st.Request(context.Background(), v.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	if req.Response.InputHash != p.InputHash || req.Response.Responder != jobapi.Responder {
		t.Errorf("request response %+v", req.Response)
	}

	// Not approved: explicitly, and by leaving the (not required) field out, as in the seed.
	for _, in := range []map[string]any{{"approve": false}, {}} {
		id := start(t, s.url, map[string]any{"text": "hello world"}, "")
		awaiting(t, s.url, id, "Approve Processing")
		provide(t, s.url, map[string]any{"job_id": id, "input_data": in})
		v := done(t, s.url, id)
		if got := result(t, v); got != "Processing was not approved." || v.IdentifierFromPurchaser != "" {
			t.Errorf("input %v: result %q, identifier %q", in, got, v.IdentifierFromPurchaser)
		}
	}
}

func TestJobTwoSteps(t *testing.T) {
	t.Parallel()
	s := setup(t)
	url := s.serve(jobapi.Config{Workflow: approvalgate.TwoStepName, InputSchema: approvalgate.InputSchema})

	cases := []struct {
		name         string
		step1, step2 map[string]any // step2 nil: not reached
		want         string
	}{
		{"accepted", map[string]any{"start": true}, map[string]any{"accept": true}, "HELLO"},
		{"rejected", map[string]any{"start": true}, map[string]any{"accept": false, "feedback": "too loud"}, "Result rejected. Feedback: too loud"},
		{"cancelled at step 1", map[string]any{"start": false}, nil, "Cancelled at step 1."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			id := start(t, url, map[string]any{"text": "hello"}, "two-"+c.name)
			v := awaiting(t, url, id, "Begin?")
			if got := compactJSON(t, v.InputSchema); got != `{"input_data":[{"id":"start","type":"boolean","name":"Begin?","data":{}}]}` {
				t.Errorf("step 1 schema %s", got)
			}
			first := provide(t, url, map[string]any{"job_id": id, "input_data": c.step1}).RequestID
			if c.step2 != nil {
				v = awaiting(t, url, id, "Accept result?")
				want := `{"input_data":[{"id":"accept","type":"boolean","name":"Accept result?","data":{"description":"Result: HELLO"}},` +
					`{"id":"feedback","type":"string","name":"Feedback","data":{"description":"Optional feedback"}}]}`
				if got := compactJSON(t, v.InputSchema); got != want || v.Message != "Please review the result." {
					t.Errorf("step 2 schema %s, message %q", got, v.Message)
				}
				if second := provide(t, url, map[string]any{"job_id": id, "input_data": c.step2}).RequestID; second == first {
					t.Errorf("both steps answered request %s", first)
				}
			}
			if got := result(t, done(t, url, id)); got != c.want {
				t.Errorf("result %q, want %q", got, c.want)
			}
		})
	}
}

func TestJobSeveralPendingAtOnce(t *testing.T) {
	t.Parallel()
	s := setup(t)
	url := s.serve(jobapi.Config{Workflow: "ask-all"})

	id := start(t, url, map[string]any{}, "")
	v := await(t, url, id, func(v jobapi.JobStatus) bool { return len(v.PendingInputs) == 2 })
	notes, colour := v.PendingInputs[0], v.PendingInputs[1]
	if notes.Title != "Notes" || colour.Title != "Colour" || v.RequestID != notes.RequestID || v.Message != notes.Message ||
		compactJSON(t, v.InputSchema) != compactJSON(t, notes.InputSchema) {
		t.Fatalf("status with two pending: %+v", v)
	}
	if got := compactJSON(t, colour.InputSchema); got != `{"input_data":[{"id":"value","type":"select","name":"Colour","data":{"description":"Pick a colour."},"required":true,"options":[{"id":"red","label":"Red"},{"id":"blue","label":"Blue"}]}]}` {
		t.Errorf("colour schema %s", got)
	}

	// Answer the second by its request_id; the first is then the only one pending.
	provide(t, url, map[string]any{"job_id": id, "request_id": colour.RequestID, "input_data": map[string]any{"value": "blue"}})
	v = await(t, url, id, func(v jobapi.JobStatus) bool { return len(v.PendingInputs) == 1 })
	if v.RequestID != notes.RequestID || v.Status != jobapi.StatusAwaitingInput {
		t.Fatalf("after answering the colour: %+v", v)
	}
	r := call(t, "POST", url+"/provide_input", "", map[string]any{"job_id": id, "request_id": colour.RequestID, "input_data": map[string]any{"value": "red"}})
	if r.status != http.StatusConflict || r.json(t)["error"].(map[string]any)["code"] != "already_resolved" {
		t.Errorf("answering the colour again: %d %s", r.status, r.body)
	}
	// Without request_id the first pending one is answered.
	provide(t, url, map[string]any{"job_id": id, "input_data": map[string]any{"notes": "looks fine"}})
	if got := result(t, done(t, url, id)); got != `[{"notes":"looks fine"},"blue"]` {
		t.Errorf("result %s", got)
	}
}

// TestJobFieldMapping drives a workflow that asks every input type through the job API: each
// shows as the documented fields, and each input_data reaches the workflow as the answer it
// asked for.
func TestJobFieldMapping(t *testing.T) {
	t.Parallel()
	s := setup(t)
	url := s.serve(jobapi.Config{Workflow: "every-type"})
	id := start(t, url, map[string]any{}, "")

	steps := []struct {
		title, fields string
		bad           any    // an input_data that fails validation
		badPath       string // the field it names
		good          any
	}{
		{"approval",
			`[{"id":"approved","type":"boolean","name":"approval","data":{"description":"Answer the approval question."},"required":true},` +
				`{"id":"comment","type":"string","name":"Comment","data":{"description":"Optional comment"},"validations":[{"validation":"max","value":"100000"}]}]`,
			map[string]any{"approve": true}, "input_data.approved",
			map[string]any{"approved": true, "comment": "fine"}},
		{"text",
			`[{"id":"value","type":"string","name":"text","data":{"description":"Answer the text question.","multiline":true},"required":true,` +
				`"validations":[{"validation":"min","value":"2"},{"validation":"max","value":"20"}]}]`,
			map[string]any{"value": "x"}, "input_data.value",
			map[string]any{"value": "two\nlines"}},
		{"boolean",
			`[{"id":"value","type":"boolean","name":"boolean","data":{"description":"Answer the boolean question."},"required":true}]`,
			map[string]any{}, "input_data.value",
			map[string]any{"value": false}},
		{"number",
			`[{"id":"value","type":"number","name":"number","data":{"description":"Answer the number question."},"required":true,` +
				`"validations":[{"validation":"min","value":"0"},{"validation":"max","value":"100"},{"validation":"format","value":"integer"}]}]`,
			map[string]any{"value": 100.5}, "input_data.value",
			map[string]any{"value": 42}},
		{"select",
			`[{"id":"value","type":"select","name":"select","data":{"description":"Answer the select question.","allow_custom":true},"required":true,` +
				`"options":[{"id":"a","label":"A"},{"id":"b","label":"B"}]}]`,
			map[string]any{"value": "a", "other": 1}, "input_data.other",
			map[string]any{"value": "my own"}},
		{"multiselect",
			`[{"id":"value","type":"multiselect","name":"multiselect","data":{"description":"Answer the multiselect question."},` +
				`"options":[{"id":"x","label":"X"},{"id":"y","label":"Y"},{"id":"z","label":"Z"}],` +
				`"validations":[{"validation":"min","value":"1"},{"validation":"max","value":"2"}]}]`,
			map[string]any{"value": []string{"x", "w"}}, "input_data.value[1]",
			map[string]any{}}, // skippable: an empty input_data skips it
		{"form",
			`[{"id":"budget","type":"number","name":"Approved Budget (USD)","data":{"description":"Enter the approved budget"},"required":true},` +
				`{"id":"tier","type":"select","name":"Tier","data":{},"options":[{"id":"gold","label":"Gold"}]}]`,
			map[string]any{"tier": "gold"}, "input_data.budget",
			map[string]any{"budget": 1500, "tier": "gold"}},
	}
	for _, st := range steps {
		v := awaiting(t, url, id, st.title)
		if got := compactJSON(t, v.InputSchema.InputData); got != st.fields {
			t.Errorf("%s: fields\n got %s\nwant %s", st.title, got, st.fields)
		}
		r := call(t, "POST", url+"/provide_input", "", map[string]any{"job_id": id, "input_data": st.bad})
		var e struct {
			Error struct {
				Code   string
				Fields []input.FieldError
			}
			Detail string
		}
		mustDecode(t, r.body, &e)
		if r.status != http.StatusBadRequest || e.Error.Code != "validation_failed" || !hasPath(e.Error.Fields, st.badPath) ||
			!strings.Contains(e.Detail, st.badPath) {
			t.Errorf("%s: bad input %v: %d %s", st.title, st.bad, r.status, r.body)
		}
		provide(t, url, map[string]any{"job_id": id, "input_data": st.good})
	}
	want := `{"approval":{"approved":true,"comment":"fine"},"boolean":false,"form":{"budget":1500,"tier":"gold"},` +
		`"multiselect":null,"number":42,"select":"my own","text":"two\nlines"}`
	if got := result(t, done(t, url, id)); got != want {
		t.Errorf("answers the workflow received\n got %s\nwant %s", got, want)
	}
}

func TestJobErrors(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := context.Background()

	waiting := start(t, s.url, map[string]any{"text": "a"}, "")
	awaiting(t, s.url, waiting, "Approve Processing")
	finished := start(t, s.url, map[string]any{"text": "b"}, "")
	awaiting(t, s.url, finished, "Approve Processing")
	provide(t, s.url, map[string]any{"job_id": finished, "input_data": map[string]any{"approve": true}})
	done(t, s.url, finished)
	other, err := s.st.StartRun(ctx, "fails", nil) // a run, but not of the job workflow
	if err != nil {
		t.Fatal(err)
	}
	unknown := "6f1c2e0a-3d4b-4c5d-8e9f-0a1b2c3d4e5f"
	ok := map[string]any{"approve": true}

	cases := []struct {
		name, method, path string
		body               any
		status             int
		code, field        string
	}{
		{"status: no job_id", "GET", "/status", nil, 400, "validation_failed", "job_id"},
		{"status: malformed job_id", "GET", "/status?job_id=abc", nil, 400, "invalid_request", "job_id"},
		{"status: unknown job", "GET", "/status?job_id=" + unknown, nil, 404, "not_found", ""},
		{"status: a run of another workflow", "GET", "/status?job_id=" + other.ID, nil, 404, "not_found", ""},
		{"status: wrong method", "POST", "/status?job_id=" + waiting, nil, 405, "method_not_allowed", ""},

		{"provide: malformed JSON", "POST", "/provide_input", `{"job_id": `, 400, "invalid_json", ""},
		{"provide: not an object", "POST", "/provide_input", `[1]`, 400, "invalid_request", ""},
		{"provide: no job_id", "POST", "/provide_input", map[string]any{"input_data": ok}, 400, "validation_failed", "job_id"},
		{"provide: malformed job_id", "POST", "/provide_input", map[string]any{"job_id": "42", "input_data": ok}, 400, "invalid_request", "job_id"},
		{"provide: job_id a number", "POST", "/provide_input", `{"job_id": 42, "input_data": {}}`, 400, "invalid_request", "job_id"},
		{"provide: no input_data", "POST", "/provide_input", map[string]any{"job_id": waiting}, 400, "validation_failed", "input_data"},
		{"provide: null input_data", "POST", "/provide_input", `{"job_id": "` + waiting + `", "input_data": null}`, 400, "validation_failed", "input_data"},
		{"provide: input_data not an object", "POST", "/provide_input", map[string]any{"job_id": waiting, "input_data": true}, 400, "validation_failed", "input_data"},
		{"provide: malformed request_id", "POST", "/provide_input", map[string]any{"job_id": waiting, "request_id": "r1", "input_data": ok}, 400, "invalid_request", "request_id"},
		{"provide: wrong type", "POST", "/provide_input", map[string]any{"job_id": waiting, "input_data": map[string]any{"approve": "yes"}}, 400, "validation_failed", "input_data.approve"},
		{"provide: unknown field", "POST", "/provide_input", map[string]any{"job_id": waiting, "input_data": map[string]any{"aprove": true}}, 400, "validation_failed", "input_data.aprove"},
		{"provide: unknown job", "POST", "/provide_input", map[string]any{"job_id": unknown, "input_data": ok}, 404, "not_found", ""},
		{"provide: unknown request", "POST", "/provide_input", map[string]any{"job_id": waiting, "request_id": unknown, "input_data": ok}, 404, "not_found", ""},
		{"provide: job completed", "POST", "/provide_input", map[string]any{"job_id": finished, "input_data": ok}, 409, "not_awaiting_input", ""},
		{"provide: wrong method", "GET", "/provide_input", nil, 405, "method_not_allowed", ""},

		{"start: no input_data", "POST", "/start_job", map[string]any{"identifier_from_purchaser": "x"}, 400, "validation_failed", "input_data"},
		{"start: input_data not an object", "POST", "/start_job", map[string]any{"input_data": "hello"}, 400, "invalid_request", "input_data"},
		{"start: no text", "POST", "/start_job", map[string]any{"input_data": map[string]any{}}, 400, "validation_failed", "input_data.text"},
		{"start: text not a string", "POST", "/start_job", map[string]any{"input_data": map[string]any{"text": 5}}, 400, "validation_failed", "input_data.text"},
		{"start: field not in the schema", "POST", "/start_job", map[string]any{"input_data": map[string]any{"text": "a", "colour": "red"}}, 400, "validation_failed", "input_data.colour"},
		{"start: reserved key", "POST", "/start_job", map[string]any{"input_data": map[string]any{"text": "a", "identifier_from_purchaser": "x"}}, 400, "validation_failed", "input_data.identifier_from_purchaser"},
		{"start: identifier too long", "POST", "/start_job", map[string]any{"input_data": map[string]any{"text": "a"}, "identifier_from_purchaser": strings.Repeat("x", 300)}, 400, "invalid_request", "identifier_from_purchaser"},
		{"start: too large", "POST", "/start_job", `{"input_data": {"text": "` + strings.Repeat("x", 2<<20) + `"}}`, 413, "payload_too_large", ""},
		{"start: wrong method", "GET", "/start_job", nil, 405, "method_not_allowed", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := call(t, c.method, s.url+c.path, "", c.body)
			var e struct {
				Error struct {
					Code    string             `json:"code"`
					Message string             `json:"message"`
					Fields  []input.FieldError `json:"fields"`
				} `json:"error"`
				Detail string `json:"detail"`
			}
			mustDecode(t, r.body, &e)
			if r.status != c.status || e.Error.Code != c.code || e.Error.Message == "" || !strings.HasPrefix(e.Detail, e.Error.Message) {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, c.status, c.code)
			}
			if c.field != "" && !hasPath(e.Error.Fields, c.field) {
				t.Errorf("fields %+v, want one at %s", e.Error.Fields, c.field)
			}
		})
	}

	// None of that changed the waiting job; a second answer to it loses the race.
	if v := status(t, s.url, waiting); v.Status != jobapi.StatusAwaitingInput {
		t.Fatalf("the waiting job is now %+v", v)
	}
	provide(t, s.url, map[string]any{"job_id": waiting, "input_data": ok})
	r := call(t, "POST", s.url+"/provide_input", "", map[string]any{"job_id": waiting, "input_data": ok})
	if r.status != http.StatusConflict {
		t.Errorf("second answer: %d %s", r.status, r.body)
	}
}

func TestJobConcurrentInputsOneWins(t *testing.T) {
	t.Parallel()
	s := setup(t)
	id := start(t, s.url, map[string]any{"text": "race"}, "")
	awaiting(t, s.url, id, "Approve Processing")

	const n = 8
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			codes[i] = call(t, "POST", s.url+"/provide_input", "", map[string]any{"job_id": id, "input_data": map[string]any{"approve": i%2 == 0}}).status
		})
	}
	wg.Wait()
	won := 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			won++
		case http.StatusConflict:
		default:
			t.Errorf("status %d", c)
		}
	}
	if won != 1 {
		t.Fatalf("%d answers won: %v", won, codes)
	}
	done(t, s.url, id)
}

func TestJobFailedAndCancelled(t *testing.T) {
	t.Parallel()
	s := setup(t)

	failing := s.serve(jobapi.Config{Workflow: "fails"})
	id := start(t, failing, map[string]any{}, "")
	v := done(t, failing, id)
	if v.Status != jobapi.StatusFailed || v.RunStatus != "failed" || v.Error != "boom" || v.Result != nil {
		t.Errorf("failed job: %+v", v)
	}

	id = start(t, s.url, map[string]any{"text": "x"}, "")
	awaiting(t, s.url, id, "Approve Processing")
	if _, err := s.st.CancelRun(context.Background(), id, "changed my mind"); err != nil {
		t.Fatal(err)
	}
	v = done(t, s.url, id)
	if v.Status != jobapi.StatusFailed || v.RunStatus != "cancelled" || v.Error != "cancelled: changed my mind" {
		t.Errorf("cancelled job: %+v", v)
	}
}

func TestJobAuthAvailabilityAndInputSchema(t *testing.T) {
	t.Parallel()
	s := setup(t)
	url := s.serve(jobapi.Config{Tokens: []string{"job-api-token-one", "job-api-token-two"}})

	body := map[string]any{"input_data": map[string]any{"text": "hi"}}
	for _, tok := range []string{"", "wrong"} {
		if r := call(t, "POST", url+"/start_job", tok, body); r.status != http.StatusUnauthorized || r.json(t)["detail"] == "" {
			t.Errorf("token %q: %d %s", tok, r.status, r.body)
		}
	}
	if r := call(t, "GET", url+"/status?job_id=6f1c2e0a-3d4b-4c5d-8e9f-0a1b2c3d4e5f", "", nil); r.status != http.StatusUnauthorized {
		t.Errorf("status without token: %d", r.status)
	}
	if r := call(t, "POST", url+"/start_job", "job-api-token-two", body); r.status != http.StatusOK {
		t.Errorf("with a token: %d %s", r.status, r.body)
	}

	// availability and input_schema are open.
	r := call(t, "GET", url+"/availability", "", nil)
	if r.status != http.StatusOK || string(r.body) != `{"status":"available","type":"masumi-agent","message":"hitl job API: jobs run workflow approval-gate"}`+"\n" {
		t.Errorf("availability: %d %s", r.status, r.body)
	}
	r = call(t, "GET", url+"/input_schema", "", nil)
	if r.status != http.StatusOK || string(r.body) != `{"input_data":[{"id":"text","type":"string","name":"Text","data":{"description":"The text to process"},"required":true}]}`+"\n" {
		t.Errorf("input_schema: %d %s", r.status, r.body)
	}

	// A workflow no orchestrator hosts: the job API need not know which exist. The job is
	// accepted and runs (queued) until an orchestrator hosting it takes it.
	missing := s.serve(jobapi.Config{Workflow: "nope"})
	if r := call(t, "GET", missing+"/availability", "", nil); r.json(t)["status"] != "available" {
		t.Errorf("availability of a workflow hosted nowhere: %s", r.body)
	}
	id := start(t, missing, map[string]any{}, "")
	if v := status(t, missing, id); v.Status != jobapi.StatusRunning || v.RunStatus != "queued" {
		t.Errorf("job of a workflow hosted nowhere: %+v", v)
	}
	if r := call(t, "GET", missing+"/input_schema", "", nil); string(r.body) != `{"input_data":[]}`+"\n" {
		t.Errorf("input_schema with none configured: %s", r.body)
	}

	// A name that cannot be a workflow's is a configuration error.
	for _, name := range []string{"a.b", "with space", "*"} {
		_, err := jobapi.New(jobapi.Config{Store: s.st, LinkSecret: []byte(linkSecret), Workflow: name})
		if !errors.Is(err, events.ErrInvalidWorkflowName) {
			t.Errorf("Workflow %q: %v, want ErrInvalidWorkflowName", name, err)
		}
	}
}

func hasPath(fs []input.FieldError, path string) bool {
	return slices.ContainsFunc(fs, func(f input.FieldError) bool { return f.Path == path })
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// startKeyed is POST /start_job with an Idempotency-Key.
func startKeyed(t *testing.T, url, key string, body any) (resp, http.Header) {
	t.Helper()
	j, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", url+"/start_job", bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, body: b}, res.Header
}

// jobCount counts the runs of a workflow.
func (s *system) jobCount(workflow string) int {
	s.t.Helper()
	ctx := context.Background()
	keys, err := s.st.Buckets().Runs.ListKeys(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	n := 0
	for k := range keys.Keys() {
		if run, _, err := s.st.Run(ctx, k); err == nil && run.Workflow == workflow {
			n++
		}
	}
	return n
}

// start_job with an Idempotency-Key: a retry is the same job with the same answer, another
// body is 422, concurrent duplicates make one job, a bad key is 400; the job still runs.
func TestStartJobIdempotencyKey(t *testing.T) {
	s := setup(t)
	body := map[string]any{"input_data": map[string]any{"text": "hello"}, "identifier_from_purchaser": "p-1"}
	first, h1 := startKeyed(t, s.url, "job-1", body)
	retry, h2 := startKeyed(t, s.url, "job-1", body)
	if first.status != 200 || retry.status != 200 || string(first.body) != string(retry.body) ||
		h1.Get("Idempotent-Replayed") != "" || h2.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("first %d %s, retry %d %v %s", first.status, first.body, retry.status, h2, retry.body)
	}
	var v jobapi.StartJobResponse
	mustDecode(t, first.body, &v)
	if v.JobID == "" || v.IdentifierFromPurchaser != "p-1" {
		t.Fatalf("start_job answered %s", first.body)
	}
	if n := s.jobCount(jobapi.DefaultWorkflow); n != 1 {
		t.Fatalf("%d jobs, want 1", n)
	}
	// The identifier is part of the body: another one with the same key is refused.
	other := map[string]any{"input_data": map[string]any{"text": "hello"}, "identifier_from_purchaser": "p-2"}
	if r, _ := startKeyed(t, s.url, "job-1", other); r.status != http.StatusUnprocessableEntity ||
		r.json(t)["error"].(map[string]any)["code"] != "idempotency_key_reused" {
		t.Fatalf("other body: %d %s", r.status, r.body)
	}
	if r, _ := startKeyed(t, s.url, strings.Repeat("x", 300), body); r.status != http.StatusBadRequest ||
		!strings.Contains(string(r.body), "invalid_idempotency_key") {
		t.Fatalf("long key: %d %s", r.status, r.body)
	}
	var wg sync.WaitGroup
	ids := make([]string, 12)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := startKeyed(t, s.url, "job-burst", map[string]any{"input_data": map[string]any{"text": "burst"}})
			var v jobapi.StartJobResponse
			if r.status == 200 && json.Unmarshal(r.body, &v) == nil {
				ids[i] = v.JobID
			}
		}()
	}
	wg.Wait()
	for i := range ids {
		if ids[i] == "" || ids[i] != ids[0] {
			t.Fatalf("concurrent start_jobs answered %v", ids)
		}
	}
	if n := s.jobCount(jobapi.DefaultWorkflow); n != 2 {
		t.Fatalf("%d jobs, want 2", n)
	}
	// The job runs as any other: it asks for approval.
	await(t, s.url, v.JobID, func(v jobapi.JobStatus) bool { return v.Status == jobapi.StatusAwaitingInput })
}

// The job API's scopes: status reads, provide_input answers, start_job is admin. A named
// token answers as its name; a refusal is 403 insufficient_scope and changes nothing.
func TestJobScopes(t *testing.T) {
	t.Parallel()
	s := setup(t)
	const read, answer, admin = "job-read-token-0123456789", "job-answer-token-0123456789", "job-admin-token-0123456789"
	url := s.serve(jobapi.Config{Tokens: []string{"dash:read:" + read, "bot:answer:" + answer, "ops:admin:" + admin}})
	startBody := map[string]any{"input_data": map[string]any{"text": "hi"}}
	for _, tok := range []string{read, answer} {
		r := call(t, "POST", url+"/start_job", tok, startBody)
		if r.status != http.StatusForbidden || r.json(t)["error"].(map[string]any)["code"] != "insufficient_scope" {
			t.Errorf("start_job with a lesser token: %d %s", r.status, r.body)
		}
	}
	r := call(t, "POST", url+"/start_job", admin, startBody)
	if r.status != http.StatusOK {
		t.Fatalf("start_job with admin: %d %s", r.status, r.body)
	}
	var started jobapi.StartJobResponse
	mustDecode(t, r.body, &started)
	id := started.JobID
	v := awaiting(t, s.url, id, "Approve Processing") // s.url has no tokens
	for _, tok := range []string{read, answer, admin} {
		if r := call(t, "GET", url+"/status?job_id="+id, tok, nil); r.status != http.StatusOK {
			t.Errorf("status: %d %s", r.status, r.body)
		}
	}
	provideBody := map[string]any{"job_id": id, "input_data": map[string]any{"approve": true}}
	if r := call(t, "POST", url+"/provide_input", read, provideBody); r.status != http.StatusForbidden {
		t.Errorf("provide_input with read: %d %s", r.status, r.body)
	}
	if req, _, err := s.st.Request(context.Background(), v.RequestID); err != nil || req.Resolved() {
		t.Fatalf("a refused provide_input changed the request: %+v %v", req, err)
	}
	if r := call(t, "POST", url+"/provide_input", answer, provideBody); r.status != http.StatusOK {
		t.Fatalf("provide_input with answer: %d %s", r.status, r.body)
	}
	req, _, err := s.st.Request(context.Background(), v.RequestID)
	if err != nil || req.Response == nil || req.Response.Responder != "bot" {
		t.Fatalf("responder of a named token: %+v %v", req, err)
	}
}

// A refused bearer token counts against AuthFailures: past it 429 with Retry-After, even
// for the right token.
func TestJobRefusedTokensAreLimited(t *testing.T) {
	t.Parallel()
	s := setup(t)
	const good = "job-admin-token-0123456789"
	url := s.serve(jobapi.Config{Tokens: []string{good},
		AuthFailures: ratelimit.New(ratelimit.Config{Rate: ratelimit.Rate{Burst: 1, Per: time.Hour}})})
	if r := call(t, "GET", url+"/status?job_id=6f1c2e0a-3d4b-4c5d-8e9f-0a1b2c3d4e5f", "wrong-token-0123456789", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", r.status)
	}
	r := call(t, "GET", url+"/status?job_id=6f1c2e0a-3d4b-4c5d-8e9f-0a1b2c3d4e5f", good, nil)
	if r.status != http.StatusTooManyRequests || r.json(t)["error"].(map[string]any)["code"] != "rate_limited" {
		t.Fatalf("past the limit: %d %s", r.status, r.body)
	}
}
