package respond_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/respond"
	"github.com/hitl-dev/hitl/store"
)

// api is the REST API on a real HTTP server over an embedded JetStream, started once per
// fuzz target (each fuzzing worker process starts its own).
func api(f *testing.F) (*store.Store, string) {
	env := natstest.Single(f)
	_, js := env.Connect(f)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		f.Fatal(err)
	}
	srv, err := respond.New(respond.Config{Store: st, LinkSecret: []byte("0123456789abcdef0123")})
	if err != nil {
		f.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	f.Cleanup(hs.Close)
	return st, hs.URL
}

func post(t *testing.T, url string, body []byte) (int, []byte) {
	t.Helper()
	res, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// errorBody checks the shape every error response has.
func errorBody(t *testing.T, status int, b []byte) {
	t.Helper()
	var e struct {
		Error struct {
			Code, Message string
		}
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("%d with body %q, not an error object", status, b)
	}
}

var respondSpecs = []input.Spec{
	{Type: input.Approval, RequireCommentOnReject: true},
	{Type: input.Text, MaxLength: ptr(10), Skippable: true},
	{Type: input.Number, Min: ptr(0.0), Max: ptr(100.0)},
	{Type: input.Select, Options: []input.Option{{ID: "eu"}, {ID: "us"}}},
	{Type: input.Form, Fields: []input.Field{{ID: "amount", Type: input.FieldNumber, Required: true}}},
}

func ptr[T any](v T) *T { return &v }

// FuzzRespond posts bodies to POST /v1/requests/{id}/respond of a pending request. Every
// body is answered 200, 400 or 413 with a JSON error, never a 5xx; a refused body leaves the
// request pending; an accepted one records exactly the data the body held, valid for the
// request's input.
func FuzzRespond(f *testing.F) {
	st, base := api(f)
	pending := make([]string, len(respondSpecs)) // a pending request per spec, replaced once answered
	for i, s := range []string{
		`{"data": {"approved": true}}`, `{"data": {"approved": false}, "comment": "c"}`, `{"data": {"approved": false, "comment": "why"}, "responder": "alice"}`,
		`{"data": "hello"}`, `{"data": null}`, `{"data": "far too long for it"}`, `{"data": 42}`, `{"data": 1e300}`, `{"data": "eu"}`,
		`{"data": {"amount": 12.5}}`, `{"data": {}}`, `{}`, `{"data": 1, "extra": 2}`, `{"data": 1} {}`, `[]`, `null`, ``, `{"data": 1, "data": "eu"}`,
		`{"responder": 5, "data": 1}`, `{"DATA": "eu"}`,
	} {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		i := int(which) % len(respondSpecs)
		ctx := context.Background()
		if pending[i] == "" {
			r := &events.Request{ID: uuid.NewString(), Title: "Fuzz", Input: respondSpecs[i], Assignees: []string{"webhook:bot"}}
			if err := st.CreateRequest(ctx, r); err != nil {
				t.Fatal(err)
			}
			pending[i] = r.ID
		}
		id := pending[i]
		status, out := post(t, base+"/v1/requests/"+id+"/respond", body)
		req, _, err := st.Request(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusOK {
			if status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge {
				t.Fatalf("body %q: status %d %s", body, status, out)
			}
			errorBody(t, status, out)
			if req.Resolved() {
				t.Fatalf("body %q was refused (%d %s) but the request resolved: %+v", body, status, out, req.Response)
			}
			return
		}
		pending[i] = ""
		var sent struct{ Data json.RawMessage }
		if err := json.Unmarshal(body, &sent); err != nil {
			t.Fatalf("accepted %q, which is not JSON: %v", body, err)
		}
		if req.Status != events.StatusAnswered || req.Response == nil {
			t.Fatalf("200 for %q but the request is %s", body, req.Status)
		}
		if err := req.Input.Validate(req.Response.Data); err != nil {
			t.Fatalf("recorded an invalid answer %s: %v", req.Response.Data, err)
		}
		c1, err1 := input.Canonical(sent.Data)
		c2, err2 := input.Canonical(req.Response.Data)
		if err1 != nil || err2 != nil || !bytes.Equal(c1, c2) {
			t.Fatalf("sent %s, recorded %s", sent.Data, req.Response.Data)
		}
	})
}

// FuzzCreateRequest posts bodies to POST /v1/requests: 201 with a request that is valid and
// stored pending, or 400 / 413 with a JSON error; never a 5xx.
func FuzzCreateRequest(f *testing.F) {
	st, base := api(f)
	for _, s := range []string{
		`{"title": "Deploy billing 1.4?", "assignees": ["webhook:ops-bot"]}`,
		`{"title": "Refund?", "input": {"type": "select", "options": [{"id": "full"}, {"id": "none"}]}, "timeout": "1h", "on_timeout": "default", "default": "none"}`,
		`{"title": "t", "input": {"type": "number", "min": 1}, "on_timeout": "default", "default": 0}`,
		`{"title": "t", "callback_url": "https://example.com/cb", "metadata": {"k": "v"}, "context": {"order": {"id": 1}}}`,
		`{"title": "t", "callback_url": "ftp://x"}`, `{"title": "t", "approvers": ["slack:@U1"]}`, `{"title": "t", "timeout": "forever"}`,
		`{"title": ""}`, `{"title": "t", "input": {"type": "form"}}`, `{"title": "t", "status": "answered"}`, `{"title": 1}`, `{`, ``,
		`{"title": "t", "input": null}`, `{"title": "t", "assignees": ["x"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		status, out := post(t, base+"/v1/requests", body)
		if status != http.StatusCreated {
			if status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge {
				t.Fatalf("body %q: status %d %s", body, status, out)
			}
			errorBody(t, status, out)
			return
		}
		var got events.Request
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("201 with %q: %v", out, err)
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("created an invalid request %s: %v", out, err)
		}
		stored, _, err := st.Request(context.Background(), got.ID)
		if err != nil || stored.Status != events.StatusPending || stored.Title != got.Title {
			t.Fatalf("created %s, stored %+v, %v", out, stored, err)
		}
	})
}
