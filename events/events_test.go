package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
)

func ptr[T any](v T) *T { return &v }

// sample is an event of one type with realistic data, and how to decode that data back.
type sample struct {
	typ    string
	data   any
	decode func(body []byte, want ...string) (any, error)
}

func decoder[T any]() func([]byte, ...string) (any, error) {
	return func(body []byte, want ...string) (any, error) {
		_, v, err := events.DecodeAs[T](body, want...)
		return v, err
	}
}

const (
	requestID = "9b2f7c1e-5a3d-5e4f-8a6b-1c2d3e4f5a6b"
	runID     = "0f8fad5b-d9cb-469f-a165-70867728950e"
)

var (
	created  = time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)
	resolved = created.Add(90 * time.Second)
	deadline = created.Add(time.Hour)
)

func pendingRequest() events.Request {
	return events.Request{
		ID: requestID, RunID: runID, Workflow: "refund",
		Title: "Refund order 1234?", Message: "**Amount**: 120 EUR",
		Context: map[string]any{"order": "1234", "amount": 120.5, "tags": []any{"vip"}, "nested": map[string]any{"ok": true}},
		Input: input.Spec{
			Type: input.MultiSelect, Options: []input.Option{{ID: "a", Label: "A", Description: "first"}, {ID: "b", Label: "B"}},
			AllowCustom: true, Skippable: true, MinPicks: ptr(0), MaxPicks: ptr(2),
		},
		Assignees: []string{"webhook:ops-bot", "email:alice@example.com", "ms-teams:ops:on-call"},
		Timeout:   events.Duration(time.Hour), OnTimeout: events.TimeoutDefault, Default: json.RawMessage(`["a"]`),
		Metadata:    map[string]string{"tenant": "acme"},
		CallbackURL: "https://example.com/hooks/hitl?x=1",
		Status:      events.StatusPending, CreatedAt: created, Deadline: &deadline,
	}
}

func answeredResponse() events.Response {
	return events.Response{
		RequestID: requestID, RunID: runID, Outcome: events.StatusAnswered,
		Data:      json.RawMessage(`{"approved":true,"comment":"ok"}`),
		InputHash: "15a3eb7879f88ba5b9961b5b873167f25f2c56bc93111c06c1eaf2c3bd9d43cc",
		Responder: "webhook:ops-bot", Comment: "looks fine", At: resolved,
	}
}

func resolvedRequest() events.Request {
	r := pendingRequest()
	resp := answeredResponse()
	r.Input = input.Spec{Type: input.Approval}
	r.OnTimeout, r.Default = "", nil
	r.Status, r.Response, r.ResolvedAt = events.StatusAnswered, &resp, &resolved
	return r
}

func samples() []sample {
	return []sample{
		{events.TypeRequestInfo, pendingRequest(), decoder[events.Request]()},
		{events.TypeRequestInfo, events.Request{ID: requestID, Title: "Minimal", Input: input.Spec{Type: input.Text}, Status: events.StatusPending, CreatedAt: created}, decoder[events.Request]()},
		{events.TypeResolved, resolvedRequest(), decoder[events.Request]()},
		{events.TypeResolved, events.Request{
			ID: requestID, Title: "Timed out", Input: input.Spec{Type: input.Number, Min: ptr(-1.5), Max: ptr(1e9), Integer: true},
			Status: events.StatusTimedOut, CreatedAt: created, ResolvedAt: &resolved,
			Response: &events.Response{RequestID: requestID, Outcome: events.StatusTimedOut, At: resolved},
		}, decoder[events.Request]()},
		{events.TypeResponse, answeredResponse(), decoder[events.Response]()},
		{events.TypeResponse, events.Response{RequestID: requestID, Outcome: events.StatusCancelled, Responder: "system", At: resolved}, decoder[events.Response]()},
		{events.TypeResponse, events.Response{RequestID: requestID, Outcome: events.StatusAnswered, Data: json.RawMessage(`null`), At: resolved}, decoder[events.Response]()},
		{events.TypeRunStarted, events.RunStarted{RunID: runID, Workflow: "refund", Input: json.RawMessage(`{"order_id":"1234","amount":120.5}`)}, decoder[events.RunStarted]()},
		{events.TypeRunStarted, events.RunStarted{RunID: runID, Workflow: "noinput"}, decoder[events.RunStarted]()},
		{events.TypeRunCancel, events.RunCancel{RunID: runID, Reason: "customer withdrew"}, decoder[events.RunCancel]()},
		{events.TypeRunResume, events.RunResume{RunID: runID, RequestID: requestID}, decoder[events.RunResume]()},
		{events.TypeRunResume, events.RunResume{RunID: runID, RequestID: requestID, Response: ptr(answeredResponse())}, decoder[events.RunResume]()},
		{events.TypeRunCompleted, events.RunFinished{RunID: runID, Workflow: "refund", Status: events.RunCompleted, Result: json.RawMessage(`{"refunded":true}`)}, decoder[events.RunFinished]()},
		{events.TypeRunFailed, events.RunFinished{RunID: runID, Workflow: "refund", Status: events.RunFailed, Error: "payment gateway: 502"}, decoder[events.RunFinished]()},
		{events.TypeRunCancelled, events.RunFinished{RunID: runID, Workflow: "refund", Status: events.RunCancelled}, decoder[events.RunFinished]()},
	}
}

// allTypes is every type constant; the tests check each has a sample and a schema.
var allTypes = []string{
	events.TypeRequestInfo, events.TypeResponse, events.TypeResolved, events.TypeRunStarted,
	events.TypeRunCancel, events.TypeRunResume, events.TypeRunCompleted, events.TypeRunFailed, events.TypeRunCancelled,
}

func TestSamplesCoverEveryType(t *testing.T) {
	t.Parallel()

	covered := map[string]bool{}
	for _, s := range samples() {
		covered[s.typ] = true
	}
	for _, typ := range allTypes {
		if !covered[typ] {
			t.Errorf("no sample of %s", typ)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()

	for i, s := range samples() {
		t.Run(s.typ, func(t *testing.T) {
			t.Parallel()
			id := "evt-" + s.typ + "-" + string(rune('a'+i))
			subject := "hitl.test." + s.typ
			before := time.Now().UTC()
			e, err := events.New(s.typ, id, "subj/"+id, s.data)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if e.SpecVersion() != "1.0" || e.Source() != events.Source || e.DataContentType() != "application/json" {
				t.Errorf("attributes: specversion %q source %q datacontenttype %q", e.SpecVersion(), e.Source(), e.DataContentType())
			}
			if got, want := e.DataSchema(), events.SchemaURI(s.typ); got != want {
				t.Errorf("dataschema = %q, want %q", got, want)
			}
			if e.Time().Before(before.Add(-time.Second)) || e.Time().Location() != time.UTC {
				t.Errorf("time = %v, want now in UTC", e.Time())
			}

			m, err := events.Msg(subject, e)
			if err != nil {
				t.Fatalf("Msg: %v", err)
			}
			if m.Subject != subject {
				t.Errorf("subject = %q, want %q", m.Subject, subject)
			}
			if got := m.Header.Get("Nats-Msg-Id"); got != id {
				t.Errorf("Nats-Msg-Id = %q, want the event id %q", got, id)
			}
			if got := m.Header.Get(nats.MsgIdHdr); got != id {
				t.Errorf("%s = %q, want %q", nats.MsgIdHdr, got, id)
			}
			if got := m.Header.Get("Content-Type"); got != "application/cloudevents+json" {
				t.Errorf("Content-Type = %q", got)
			}
			var structured map[string]any
			if err := json.Unmarshal(m.Data, &structured); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			for _, attr := range []string{"specversion", "id", "source", "type", "subject", "time", "dataschema", "data"} {
				if _, ok := structured[attr]; !ok {
					t.Errorf("structured body has no %q: %s", attr, m.Data)
				}
			}

			got, err := events.Decode(m.Data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.ID() != id || got.Type() != s.typ || got.Source() != events.Source || got.Subject() != "subj/"+id ||
				got.DataSchema() != e.DataSchema() || !got.Time().Equal(e.Time()) {
				t.Errorf("Decode = %v\nwant %v", got, e)
			}

			data, err := s.decode(m.Data, s.typ)
			if err != nil {
				t.Fatalf("DecodeAs: %v", err)
			}
			assertSameJSON(t, data, s.data)

			// Any of several wanted types, or none, is fine too.
			if _, err := s.decode(m.Data, "hitl.other.v1", s.typ); err != nil {
				t.Errorf("DecodeAs with the type among several: %v", err)
			}
			if _, err := s.decode(m.Data); err != nil {
				t.Errorf("DecodeAs with no wanted type: %v", err)
			}
		})
	}
}

func assertSameJSON(t *testing.T, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Errorf("data = %s\nwant   %s", g, w)
	}
}

func TestNewMsg(t *testing.T) {
	t.Parallel()

	m, err := events.NewMsg("hitl.runs.cancel.r1", events.TypeRunCancel, "cancel/r1", events.RunCancel{RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "hitl.runs.cancel.r1" || m.Header.Get(nats.MsgIdHdr) != "cancel/r1" {
		t.Errorf("msg = %+v", m)
	}
	e, data, err := events.DecodeAs[events.RunCancel](m.Data, events.TypeRunCancel)
	if err != nil {
		t.Fatal(err)
	}
	// NewMsg uses the NATS subject as the CloudEvents subject.
	if e.Subject() != "hitl.runs.cancel.r1" || data.RunID != "r1" {
		t.Errorf("event %v data %+v", e, data)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		typ  string
		data any
	}{
		{"unknown type", "hitl.nope.v1", events.RunCancel{RunID: "r"}},
		{"empty type", "", events.RunCancel{RunID: "r"}},
		{"unencodable data", events.TypeRunCancel, map[string]any{"ch": make(chan int)}},
		{"NaN data", events.TypeRunCancel, map[string]float64{"x": nanValue()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := events.New(tt.typ, "id", "s", tt.data); err == nil {
				t.Error("New succeeded, want an error")
			}
			if _, err := events.NewMsg("s", tt.typ, "id", tt.data); err == nil {
				t.Error("NewMsg succeeded, want an error")
			}
		})
	}
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

// valid is a structured-mode event that Decode accepts; the error cases start from it.
const valid = `{"specversion":"1.0","id":"e1","source":"hitl","type":"hitl.run.cancel.v1","datacontenttype":"application/json","data":{"run_id":"r1"}}`

func TestDecode(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		body    string
		wantErr error
	}{
		{name: "valid", body: valid},
		{name: "minimal", body: `{"specversion":"1.0","id":"e1","source":"hitl","type":"hitl.run.cancel.v1"}`},
		{name: "base64 data", body: `{"specversion":"1.0","id":"e1","source":"hitl","type":"hitl.run.cancel.v1","data_base64":"eyJydW5faWQiOiJyMSJ9"}`},
		{name: "foreign source", body: `{"specversion":"1.0","id":"e1","source":"https://example.com/bot","type":"hitl.response.v1","data":{}}`},
		{name: "empty", body: ``, wantErr: events.ErrMalformed},
		{name: "whitespace", body: "  \n", wantErr: events.ErrMalformed},
		{name: "garbage", body: `not json at all`, wantErr: events.ErrMalformed},
		{name: "binary", body: "\x00\xff\xfe\x01", wantErr: events.ErrMalformed},
		{name: "truncated", body: valid[:len(valid)/2], wantErr: events.ErrMalformed},
		{name: "null", body: `null`, wantErr: events.ErrMalformed},
		{name: "array", body: `[` + valid + `]`, wantErr: events.ErrMalformed},
		{name: "string", body: `"hitl"`, wantErr: events.ErrMalformed},
		{name: "empty object", body: `{}`, wantErr: events.ErrMalformed},
		{name: "wrong specversion", body: strings.Replace(valid, `"1.0"`, `"2.0"`, 1), wantErr: events.ErrMalformed},
		{name: "numeric specversion", body: strings.Replace(valid, `"1.0"`, `1.0`, 1), wantErr: events.ErrMalformed},
		{name: "missing specversion", body: strings.Replace(valid, `"specversion":"1.0",`, ``, 1), wantErr: events.ErrMalformed},
		{name: "missing id", body: strings.Replace(valid, `"id":"e1",`, ``, 1), wantErr: events.ErrMalformed},
		{name: "empty id", body: strings.Replace(valid, `"id":"e1"`, `"id":""`, 1), wantErr: events.ErrMalformed},
		{name: "missing source", body: strings.Replace(valid, `"source":"hitl",`, ``, 1), wantErr: events.ErrMalformed},
		{name: "empty source", body: strings.Replace(valid, `"source":"hitl"`, `"source":""`, 1), wantErr: events.ErrMalformed},
		{name: "missing type", body: strings.Replace(valid, `"type":"hitl.run.cancel.v1",`, ``, 1), wantErr: events.ErrMalformed},
		{name: "empty type", body: strings.Replace(valid, `"hitl.run.cancel.v1"`, `""`, 1), wantErr: events.ErrMalformed},
		{name: "unknown type", body: strings.Replace(valid, `"hitl.run.cancel.v1"`, `"hitl.run.cancel.v2"`, 1), wantErr: events.ErrMalformed},
		{name: "foreign type", body: strings.Replace(valid, `"hitl.run.cancel.v1"`, `"com.example.object.deleted"`, 1), wantErr: events.ErrMalformed},
		{name: "bad time", body: strings.Replace(valid, `"id":"e1"`, `"id":"e1","time":"yesterday"`, 1), wantErr: events.ErrMalformed},
		{name: "bad extension name", body: strings.Replace(valid, `"id":"e1"`, `"id":"e1","bad_ext":1`, 1), wantErr: events.ErrMalformed},
		{name: "trailing garbage", body: valid + `}`, wantErr: events.ErrMalformed},
		{name: "oversized", body: oversized(), wantErr: events.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := events.Decode([]byte(tt.body))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decode = %v, want %v", err, tt.wantErr)
			}
			if err != nil && e.ID() != "" {
				t.Errorf("Decode returned an event with its error: %v", e)
			}
			if err == nil && (e.ID() == "" || e.Source() == "" || e.Type() == "") {
				t.Errorf("Decode accepted an event without id, source or type: %v", e)
			}
		})
	}
}

// oversized is a valid event just over MaxSize.
func oversized() string {
	pad := strings.Repeat("x", events.MaxSize)
	return strings.Replace(valid, `"run_id":"r1"`, `"run_id":"r1","reason":"`+pad+`"`, 1)
}

func TestDecodeAtMaxSize(t *testing.T) {
	t.Parallel()

	body := strings.Replace(valid, `"run_id":"r1"`, `"run_id":"r1","reason":"`, 1)
	body = strings.Replace(body, `}}`, `"}}`, 1)
	pad := strings.Repeat("x", events.MaxSize-len(body))
	body = strings.Replace(body, `"reason":"`, `"reason":"`+pad, 1)
	if len(body) != events.MaxSize {
		t.Fatalf("built %d bytes, want %d", len(body), events.MaxSize)
	}
	if _, data, err := events.DecodeAs[events.RunCancel]([]byte(body), events.TypeRunCancel); err != nil || len(data.Reason) != len(pad) {
		t.Errorf("an event of exactly MaxSize: %v", err)
	}
	if _, err := events.Decode([]byte(body + " ")); !errors.Is(err, events.ErrMalformed) {
		t.Errorf("an event one byte over MaxSize: %v, want ErrMalformed", err)
	}
}

func TestDecodeAsErrors(t *testing.T) {
	t.Parallel()

	response, err := events.NewMsg("s", events.TypeResponse, "e1", answeredResponse())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		body    string
		want    []string
		wantErr error
	}{
		{name: "wanted type", body: string(response.Data), want: []string{events.TypeResponse}},
		{name: "wrong wanted type", body: string(response.Data), want: []string{events.TypeRunCancel}, wantErr: events.ErrMalformed},
		{name: "none of several wanted types", body: string(response.Data), want: []string{events.TypeRequestInfo, events.TypeResolved}, wantErr: events.ErrMalformed},
		{name: "malformed event", body: `{`, want: []string{events.TypeResponse}, wantErr: events.ErrMalformed},
		{name: "data of the wrong shape", body: strings.Replace(valid, `"data":{"run_id":"r1"}`, `"data":{"outcome":["answered"]}`, 1), wantErr: events.ErrMalformed},
		{name: "data not an object", body: strings.Replace(valid, `{"run_id":"r1"}`, `"r1"`, 1), wantErr: events.ErrMalformed},
		{name: "no data", body: `{"specversion":"1.0","id":"e1","source":"hitl","type":"hitl.run.cancel.v1"}`, wantErr: events.ErrMalformed},
		{name: "bad time in data", body: strings.Replace(valid, `{"run_id":"r1"}`, `{"request_id":"x","at":"noon"}`, 1), wantErr: events.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := events.DecodeAs[events.Response]([]byte(tt.body), tt.want...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("DecodeAs = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()

	t.Run("marshal", func(t *testing.T) {
		t.Parallel()
		for d, want := range map[time.Duration]string{
			30 * time.Second:        `"30s"`,
			0:                       `"0s"`,
			90 * time.Minute:        `"1h30m0s"`,
			1500 * time.Millisecond: `"1.5s"`,
		} {
			b, err := json.Marshal(events.Duration(d))
			if err != nil || string(b) != want {
				t.Errorf("Marshal(%v) = %s, %v; want %s", d, b, err, want)
			}
		}
	})

	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: `"30s"`, want: 30 * time.Second},
		{in: `"15m"`, want: 15 * time.Minute},
		{in: `"2h"`, want: 2 * time.Hour},
		{in: `"1h30m0s"`, want: 90 * time.Minute},
		{in: `"0s"`, want: 0},
		{in: `45`, want: 45 * time.Second},
		{in: `0`, want: 0},
		{in: `1.5`, want: 1500 * time.Millisecond},
		{in: `3600e0`, want: time.Hour},
		{in: `4611686018`, want: 4611686018 * time.Second}, // the largest whole number of seconds in range
		// A negative string parses; ValidateRequest rejects any timeout under 1s.
		{in: `"-5s"`, want: -5 * time.Second},
		{in: `-5`, wantErr: true},
		{in: `-0.5`, wantErr: true},
		{in: `4611686019`, wantErr: true},
		{in: `1e400`, wantErr: true},
		{in: `"30"`, wantErr: true},
		{in: `"30 s"`, wantErr: true},
		{in: `"thirty seconds"`, wantErr: true},
		{in: `""`, wantErr: true},
		{in: `"1d"`, wantErr: true},
		{in: `true`, wantErr: true},
		{in: `[30]`, wantErr: true},
		{in: `{"s":30}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			d := events.Duration(time.Minute)
			err := json.Unmarshal([]byte(tt.in), &d)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Unmarshal(%s) = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err == nil && time.Duration(d) != tt.want {
				t.Errorf("Unmarshal(%s) = %v, want %v", tt.in, time.Duration(d), tt.want)
			}
		})
	}

	t.Run("in a request", func(t *testing.T) {
		t.Parallel()
		var r events.Request
		if err := json.Unmarshal([]byte(`{"title":"x","timeout":"1h"}`), &r); err != nil || time.Duration(r.Timeout) != time.Hour {
			t.Errorf("timeout %q: %v %v", "1h", r.Timeout, err)
		}
		r = events.Request{}
		if err := json.Unmarshal([]byte(`{"title":"x","timeout":120}`), &r); err != nil || time.Duration(r.Timeout) != 2*time.Minute {
			t.Errorf("timeout 120: %v %v", r.Timeout, err)
		}
		// null is "no timeout", as for every other field.
		r = events.Request{}
		if err := json.Unmarshal([]byte(`{"title":"x","timeout":null}`), &r); err != nil || r.Timeout != 0 {
			t.Errorf("timeout null: %v %v", r.Timeout, err)
		}
		if err := json.Unmarshal([]byte(`{"title":"x","timeout":"soon"}`), &r); err == nil {
			t.Error(`timeout "soon" decoded`)
		}
		b, err := json.Marshal(events.Request{Title: "x", Timeout: events.Duration(90 * time.Second)})
		if err != nil || !strings.Contains(string(b), `"timeout":"1m30s"`) {
			t.Errorf("Marshal = %s, %v", b, err)
		}
		if b, _ := json.Marshal(events.Request{Title: "x"}); strings.Contains(string(b), `"timeout"`) {
			t.Errorf("a zero timeout is not omitted: %s", b)
		}
	})
}

func TestStatus(t *testing.T) {
	t.Parallel()

	for s, want := range map[events.Status]bool{
		events.StatusPending: false, events.StatusAnswered: true, events.StatusTimedOut: true, events.StatusCancelled: true,
	} {
		if got := (&events.Request{Status: s}).Resolved(); got != want {
			t.Errorf("Request{Status: %s}.Resolved() = %v, want %v", s, got, want)
		}
	}
	for s, want := range map[events.RunStatus]bool{
		events.RunQueued: false, events.RunRunning: false, events.RunWaiting: false, events.RunCompleted: true, events.RunFailed: true, events.RunCancelled: true,
	} {
		if got := s.Final(); got != want {
			t.Errorf("%s.Final() = %v, want %v", s, got, want)
		}
	}
}

// Data already encoded (json.RawMessage) is carried as it is: the message is the one the
// value would have made, and data that is not JSON is refused.
func TestNewMsgWithEncodedData(t *testing.T) {
	r := pendingRequest()
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	fromValue, err := events.NewMsg("hitl.request_info."+r.ID, events.TypeRequestInfo, "request_info/"+r.ID, r)
	if err != nil {
		t.Fatal(err)
	}
	fromRaw, err := events.NewMsg("hitl.request_info."+r.ID, events.TypeRequestInfo, "request_info/"+r.ID, json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	ev, got, err := events.DecodeAs[events.Request](fromRaw.Data, events.TypeRequestInfo)
	if err != nil {
		t.Fatal(err)
	}
	want, _, _ := events.DecodeAs[events.Request](fromValue.Data, events.TypeRequestInfo)
	if string(ev.Data()) != string(want.Data()) || got.ID != r.ID || ev.DataContentType() != want.DataContentType() {
		t.Fatalf("raw data gave %s (%s), the value %s (%s)", ev.Data(), ev.DataContentType(), want.Data(), want.DataContentType())
	}
	if _, err := events.NewMsg("hitl.resolved.x", events.TypeResolved, "resolved/x", json.RawMessage(`{"id":`)); err == nil {
		t.Fatal("data that is not JSON was accepted")
	}
}
