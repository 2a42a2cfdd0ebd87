package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/surface/webhook"
)

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Fields  []struct {
			Path    string `json:"path"`
			Message string `json:"message"`
		} `json:"fields"`
	} `json:"error"`
}

func TestBadInputOnEveryEndpoint(t *testing.T) {
	t.Parallel()
	s := newSystem(t, natstest.Single(t), registry(&resumes{}))
	s.orchestrator()

	// A pending request and a resolved one to aim at.
	var pending, resolved events.Request
	s.call("POST", "/v1/requests", map[string]any{"title": "Pending?"}).decode(t, &pending)
	s.call("POST", "/v1/requests", map[string]any{"title": "Resolved?"}).decode(t, &resolved)
	if r := s.call("POST", "/v1/requests/"+resolved.ID+"/respond", map[string]any{"data": map[string]any{"approved": false}}); r.Status != 200 {
		t.Fatalf("setup: %d %s", r.Status, r.Body)
	}
	unknown := "6f1c2e0a-3d4b-4c5d-8e9f-0a1b2c3d4e5f"
	huge := `{"title": "` + strings.Repeat("x", 70<<10) + `"}`
	hugeAnswer := `{"data": "` + strings.Repeat("x", 70<<10) + `"}`
	sign := func(rid string, exp time.Time) string {
		tok, err := linktoken.Sign([]byte(linkSecret), linktoken.Claims{RequestID: rid, Subject: "webhook:x", Expires: exp.Unix()})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	forged, err := linktoken.Sign([]byte("another-secret-of-32-bytes-long!"), linktoken.Claims{RequestID: pending.ID, Subject: "webhook:x", Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	okAnswer := map[string]any{"data": map[string]any{"approved": true}}

	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		code, field               string
	}{
		{"create: malformed JSON", "POST", "/v1/requests", apiToken, `{"title": `, 400, "invalid_json", ""},
		{"create: not an object", "POST", "/v1/requests", apiToken, `[1,2]`, 400, "invalid_request", ""},
		{"create: wrong type", "POST", "/v1/requests", apiToken, `{"title": 5}`, 400, "invalid_request", "title"},
		{"create: unknown field", "POST", "/v1/requests", apiToken, `{"title": "a", "colour": 1}`, 400, "invalid_request", "colour"},
		{"create: missing title", "POST", "/v1/requests", apiToken, `{"message": "hi"}`, 400, "validation_failed", "title"},
		{"create: unknown input type", "POST", "/v1/requests", apiToken, `{"title": "a", "input": {"type": "dance"}}`, 400, "validation_failed", "input.type"},
		{"create: select without options", "POST", "/v1/requests", apiToken, `{"title": "a", "input": {"type": "select"}}`, 400, "validation_failed", "input.options"},
		{"create: bad timeout", "POST", "/v1/requests", apiToken, `{"title": "a", "timeout": "soon"}`, 400, "invalid_request", ""},
		{"create: timeout too short", "POST", "/v1/requests", apiToken, `{"title": "a", "timeout": "10ms"}`, 400, "validation_failed", "timeout"},
		{"create: default policy without default", "POST", "/v1/requests", apiToken, `{"title": "a", "on_timeout": "default"}`, 400, "validation_failed", "default"},
		{"create: default not a valid answer", "POST", "/v1/requests", apiToken, `{"title": "a", "on_timeout": "default", "default": "yes"}`, 400, "validation_failed", "default"},
		{"create: bad assignee", "POST", "/v1/requests", apiToken, `{"title": "a", "assignees": ["ops-bot"]}`, 400, "validation_failed", "assignees[0]"},
		{"create: bad callback", "POST", "/v1/requests", apiToken, `{"title": "a", "callback_url": "ftp://x"}`, 400, "validation_failed", "callback_url"},
		{"create: oversized", "POST", "/v1/requests", apiToken, huge, 413, "payload_too_large", ""},
		{"create: no token", "POST", "/v1/requests", "", `{"title": "a"}`, 401, "unauthorized", ""},
		{"create: bad token", "POST", "/v1/requests", "wrong", `{"title": "a"}`, 401, "unauthorized", ""},
		{"create: link token is not an API token", "POST", "/v1/requests?token=" + sign(pending.ID, time.Now().Add(time.Hour)), "", `{"title": "a"}`, 401, "unauthorized", ""},
		{"list: bad status", "GET", "/v1/requests?status=done", apiToken, nil, 400, "invalid_request", "status"},
		{"list: no token", "GET", "/v1/requests", "", nil, 401, "unauthorized", ""},
		{"get: unknown id", "GET", "/v1/requests/" + unknown, apiToken, nil, 404, "not_found", ""},
		{"get: not an id", "GET", "/v1/requests/..%2f..%2fetc", apiToken, nil, 404, "not_found", ""},
		{"wait: bad timeout", "GET", "/v1/requests/" + pending.ID + "/wait?timeout=forever", apiToken, nil, 400, "invalid_request", "timeout"},
		{"wait: unknown id", "GET", "/v1/requests/" + unknown + "/wait?timeout=1s", apiToken, nil, 404, "not_found", ""},
		{"respond: malformed JSON", "POST", "/v1/requests/" + pending.ID + "/respond", apiToken, `{"data": tru}`, 400, "invalid_json", ""},
		{"respond: missing data", "POST", "/v1/requests/" + pending.ID + "/respond", apiToken, `{"comment": "hm"}`, 400, "validation_failed", "data"},
		{"respond: wrong answer type", "POST", "/v1/requests/" + pending.ID + "/respond", apiToken, `{"data": "yes"}`, 400, "validation_failed", "data"},
		{"respond: approved not a boolean", "POST", "/v1/requests/" + pending.ID + "/respond", apiToken, `{"data": {"approved": "yes"}}`, 400, "validation_failed", "data.approved"},
		{"respond: wrong type of comment", "POST", "/v1/requests/" + pending.ID + "/respond", apiToken, `{"data": {"approved": true}, "comment": 3}`, 400, "invalid_request", "comment"},
		{"respond: oversized", "POST", "/v1/requests/" + pending.ID + "/respond", apiToken, hugeAnswer, 413, "payload_too_large", ""},
		{"respond: unknown id", "POST", "/v1/requests/" + unknown + "/respond", apiToken, okAnswer, 404, "not_found", ""},
		{"respond: already resolved", "POST", "/v1/requests/" + resolved.ID + "/respond", apiToken, okAnswer, 409, "already_resolved", ""},
		{"respond: no token", "POST", "/v1/requests/" + pending.ID + "/respond", "", okAnswer, 401, "unauthorized", ""},
		{"respond: forged link", "POST", "/v1/requests/" + pending.ID + "/respond?token=" + forged, "", okAnswer, 401, "unauthorized", ""},
		{"respond: tampered link", "POST", "/v1/requests/" + pending.ID + "/respond?token=" + sign(pending.ID, time.Now().Add(time.Hour)) + "x", "", okAnswer, 401, "unauthorized", ""},
		{"respond: expired link", "POST", "/v1/requests/" + pending.ID + "/respond?token=" + sign(pending.ID, time.Now().Add(-time.Second)), "", okAnswer, 401, "unauthorized", ""},
		{"respond: link for another request", "POST", "/v1/requests/" + pending.ID + "/respond?token=" + sign(resolved.ID, time.Now().Add(time.Hour)), "", okAnswer, 401, "unauthorized", ""},
		{"cancel: link cannot cancel", "POST", "/v1/requests/" + pending.ID + "/cancel?token=" + sign(pending.ID, time.Now().Add(time.Hour)), "", nil, 401, "unauthorized", ""},
		{"cancel: unknown id", "POST", "/v1/requests/" + unknown + "/cancel", apiToken, nil, 404, "not_found", ""},
		{"cancel: already resolved", "POST", "/v1/requests/" + resolved.ID + "/cancel", apiToken, nil, 409, "already_resolved", ""},
		{"cancel: malformed JSON", "POST", "/v1/requests/" + pending.ID + "/cancel", apiToken, `{"reason":`, 400, "invalid_json", ""},
		{"runs: malformed JSON", "POST", "/v1/runs", apiToken, `{"workflow"`, 400, "invalid_json", ""},
		{"runs: wrong type", "POST", "/v1/runs", apiToken, `{"workflow": 1}`, 400, "invalid_request", "workflow"},
		{"runs: missing workflow", "POST", "/v1/runs", apiToken, `{"input": {}}`, 400, "validation_failed", "workflow"},
		{"runs: invalid workflow name", "POST", "/v1/runs", apiToken, `{"workflow": "no.pe"}`, 400, "validation_failed", "workflow"},
		{"runs: oversized", "POST", "/v1/runs", apiToken, `{"workflow": "one", "input": "` + strings.Repeat("x", 70<<10) + `"}`, 413, "payload_too_large", ""},
		{"runs: no token", "POST", "/v1/runs", "", `{"workflow": "one"}`, 401, "unauthorized", ""},
		{"runs: unknown id", "GET", "/v1/runs/" + unknown, apiToken, nil, 404, "not_found", ""},
		{"runs: cancel unknown", "POST", "/v1/runs/" + unknown + "/cancel", apiToken, nil, 404, "not_found", ""},
		{"unknown endpoint", "GET", "/v1/nothing-here", apiToken, nil, 404, "not_found", ""},
	}
	for _, tc := range cases {
		r := doCall(t, tc.method, s.api.URL+tc.path, tc.token, tc.body)
		if r.Status != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, r.Status, tc.status, r.Body)
			continue
		}
		var e apiError
		if err := json.Unmarshal(r.Body, &e); err != nil || e.Error.Code != tc.code || e.Error.Message == "" {
			t.Errorf("%s: body %s, want error code %q", tc.name, r.Body, tc.code)
			continue
		}
		if tc.field != "" {
			found := false
			for _, f := range e.Error.Fields {
				found = found || f.Path == tc.field
			}
			if !found {
				t.Errorf("%s: fields %+v do not name %q", tc.name, e.Error.Fields, tc.field)
			}
		}
	}

	// Nothing changed: the pending request is still pending, and no request was added.
	var got events.Request
	s.call("GET", "/v1/requests/"+pending.ID, nil).decode(t, &got)
	if got.Status != events.StatusPending {
		t.Errorf("pending request is now %s", got.Status)
	}
	var list struct {
		Count int `json:"count"`
	}
	s.call("GET", "/v1/requests", nil).decode(t, &list)
	if list.Count != 2 {
		t.Errorf("%d requests exist, want the 2 made by the test", list.Count)
	}
}

func TestStandaloneRequestLongPollAndCallback(t *testing.T) {
	t.Parallel()
	s := newSystem(t, natstest.Single(t), registry(&resumes{}))
	s.orchestrator()
	s.notifier()

	signer, _ := webhook.NewSigner(callbackSecret)
	bots, _ := webhook.NewSigner(webhookSecret)
	var mu sync.Mutex
	var callbacks []events.Request
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := signer.Verify(r.Header, body, time.Now(), time.Minute); err != nil {
			http.Error(w, err.Error(), 401)
			return
		}
		// Signed with the callback secret, so a bot's key does not verify it.
		if err := bots.Verify(r.Header, body, time.Now(), time.Minute); !errors.Is(err, webhook.ErrBadSignature) {
			http.Error(w, fmt.Sprintf("the webhook secret verifies a callback: %v", err), 400)
			return
		}
		_, req, err := events.DecodeAs[events.Request](body, events.TypeResolved)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		callbacks = append(callbacks, req)
		mu.Unlock()
	}))
	t.Cleanup(cb.Close)

	r := s.call("POST", "/v1/requests", map[string]any{
		"title": "Ship release 1.4?", "input": map[string]any{"type": "select", "options": []map[string]string{
			{"id": "ship", "label": "Ship"}, {"id": "hold", "label": "Hold"}}},
		"assignees": []string{"webhook:ops-bot"}, "timeout": "1h", "callback_url": cb.URL,
	})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var req events.Request
	r.decode(t, &req)
	if req.Status != events.StatusPending || req.Deadline == nil {
		t.Fatalf("created: %+v", req)
	}

	// The long-poll returns the pending state at its timeout...
	start := time.Now()
	s.call("GET", "/v1/requests/"+req.ID+"/wait?timeout=300ms", nil).decode(t, &req)
	if req.Status != events.StatusPending || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("wait returned %s after %s", req.Status, time.Since(start))
	}
	// ...and the answer as soon as it comes, from the bot's signed link.
	eventually(t, 10*time.Second, func() bool { return s.bot.link(req.ID, "ops-bot") != "" }, func() string { return "webhook" })
	done := make(chan events.Request)
	go func() {
		var got events.Request
		s.call("GET", "/v1/requests/"+req.ID+"/wait?timeout=20s", nil).decode(t, &got)
		done <- got
	}()
	time.Sleep(100 * time.Millisecond)
	r = doCall(t, "POST", s.bot.link(req.ID, "ops-bot"), "", map[string]any{"data": "ship", "comment": "go"})
	var answered struct {
		events.Request
		InputHash string `json:"input_hash"`
	}
	r.decode(t, &answered)
	// SHA-256 of the canonical JSON `"ship"` (printf ship | sha256sum).
	if r.Status != 200 || answered.InputHash != "c2d0c9e24dacb62fe122572b1ae64a4a89c55ebad3e2f63890e67268e28a5683" {
		t.Fatalf("respond: %d %s", r.Status, r.Body)
	}
	got := <-done
	if got.Status != events.StatusAnswered || string(got.Response.Data) != `"ship"` || got.Response.Responder != "webhook:ops-bot" {
		t.Fatalf("wait: %+v", got)
	}
	eventually(t, 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(callbacks) == 1 },
		func() string { return "callback" })
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(callbacks) != 1 || callbacks[0].Status != events.StatusAnswered {
		t.Fatalf("callbacks: %+v", callbacks)
	}
}

func TestStandaloneTimeoutWithDefault(t *testing.T) {
	t.Parallel()
	s := newSystem(t, natstest.Single(t), registry(&resumes{}))
	s.orchestrator()
	var req events.Request
	r := s.call("POST", "/v1/requests", map[string]any{"title": "Auto-approve if silent?", "timeout": "1s",
		"on_timeout": "default", "default": map[string]any{"approved": true, "comment": "no answer"}})
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	r.decode(t, &req)
	s.call("GET", "/v1/requests/"+req.ID+"/wait?timeout=10s", nil).decode(t, &req)
	if req.Status != events.StatusTimedOut || string(req.Response.Data) != `{"approved":true,"comment":"no answer"}` {
		t.Fatalf("after timeout: %s %+v", req.Status, req.Response)
	}
	if r := s.call("POST", "/v1/requests/"+req.ID+"/respond", map[string]any{"data": map[string]any{"approved": false}}); r.Status != 409 {
		t.Fatalf("answer after timeout: %d %s", r.Status, r.Body)
	}
}

func TestCancelRequestAndRun(t *testing.T) {
	t.Parallel()
	res := &resumes{}
	s := newSystem(t, natstest.Single(t), registry(res))
	s.orchestrator()

	// Cancelling a run's request fails its Ask with ErrCancelled: the run fails with it.
	id := s.startRun("one", nil)
	rid := s.waitRun(id, 20*time.Second, waiting(1)).Pending[0].ID
	if r := s.call("POST", "/v1/requests/"+rid+"/cancel", map[string]any{"reason": "duplicate"}); r.Status != 200 {
		t.Fatalf("cancel request: %d %s", r.Status, r.Body)
	}
	v := s.waitRun(id, 20*time.Second, finished)
	if v.Status != events.RunFailed || !strings.Contains(v.Error, "cancelled") {
		t.Fatalf("run after cancel: %s %q", v.Status, v.Error)
	}

	// Cancelling a whole run cancels its pending request and stops it.
	id = s.startRun("one", nil)
	rid = s.waitRun(id, 20*time.Second, waiting(1)).Pending[0].ID
	if r := s.call("POST", "/v1/runs/"+id+"/cancel", map[string]any{"reason": "customer withdrew"}); r.Status != 202 {
		t.Fatalf("cancel run: %d %s", r.Status, r.Body)
	}
	v = s.waitRun(id, 20*time.Second, finished)
	if v.Status != events.RunCancelled {
		t.Fatalf("run: %s", v.Status)
	}
	var req events.Request
	s.call("GET", "/v1/requests/"+rid+"/wait?timeout=10s", nil).decode(t, &req)
	if req.Status != events.StatusCancelled {
		t.Fatalf("request of cancelled run: %s", req.Status)
	}
	if r := s.call("POST", "/v1/requests/"+rid+"/respond", map[string]any{"data": map[string]any{"approved": true}}); r.Status != 409 {
		t.Fatalf("answer to cancelled: %d", r.Status)
	}
	if r := s.call("POST", "/v1/runs/"+id+"/cancel", nil); r.Status != 409 {
		t.Fatalf("second cancel: %d", r.Status)
	}
	if res.get(id) != 0 {
		t.Fatalf("cancelled run resumed %d times", res.get(id))
	}
}

// The pending gauges come from the pending index, read at scrape time: two instances, each
// with its own connection and registry, report the same exact figures, a request resolved on
// one is gone on the other at once, and an instance started later needs no catching up.
func TestPendingGaugeIsClusterWide(t *testing.T) {
	t.Parallel()
	env := natstest.Single(t)
	s := newSystem(t, env, registry(&resumes{}))
	type instance struct {
		st  *store.Store
		reg *prometheus.Registry
	}
	start := func() instance {
		in := instance{st: s.newStore(), reg: prometheus.NewRegistry()}
		metrics.RegisterPending(in.reg, in.st.PendingStats, s.logs)
		return in
	}
	a, b := start(), start()
	gauges := func(in instance) (float64, float64) {
		t.Helper()
		return gaugeValue(t, in.reg, "hitl_requests_pending"), gaugeValue(t, in.reg, "hitl_oldest_pending_request_age_seconds")
	}
	want := func(n float64, oldest time.Time) {
		t.Helper()
		for i, in := range []instance{a, b} {
			got, age := gauges(in)
			if got != n {
				t.Fatalf("instance %d: %v pending, want %v", i, got, n)
			}
			// The age is read against the entry's stream time, written just before the record.
			if d := time.Since(oldest).Seconds() - age; oldest.IsZero() && age != 0 || !oldest.IsZero() && (d < -0.5 || d > 0.5) {
				t.Fatalf("instance %d: oldest age %.3fs, the oldest pending was created %.3fs ago", i, age, time.Since(oldest).Seconds())
			}
		}
	}
	want(0, time.Time{})
	var first events.Request
	s.call("POST", "/v1/requests", map[string]any{"title": "First"}).decode(t, &first)
	// The others come more than a second later, so the oldest age tells them apart.
	eventually(t, 5*time.Second, func() bool { return time.Since(first.CreatedAt) > 1500*time.Millisecond }, func() string { return "time passing" })
	ids := []string{first.ID}
	var second events.Request
	for i := range 2 {
		var req events.Request
		s.call("POST", "/v1/requests", map[string]any{"title": "Pending?"}).decode(t, &req)
		ids = append(ids, req.ID)
		if i == 0 {
			second = req
		}
	}
	want(3, first.CreatedAt)
	// Resolved through instance b's store: instance a sees it at once.
	if _, err := b.st.Respond(context.Background(), events.Response{RequestID: first.ID, Outcome: events.StatusCancelled, Responder: "test"}); err != nil {
		t.Fatal(err)
	}
	want(2, second.CreatedAt)
	s.call("POST", "/v1/requests/"+ids[1]+"/respond", map[string]any{"data": map[string]any{"approved": true}})
	// A restarted instance: a new connection and registry, exact at its first scrape.
	a = start()
	got, _ := gauges(a)
	if got != 1 {
		t.Fatalf("after a restart: %v pending, want 1", got)
	}
	s.call("POST", "/v1/requests/"+ids[2]+"/cancel", nil)
	want(0, time.Time{})
}

// gaugeValue reads one unlabelled gauge from reg, failing when it is missing.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("gauge %s not gathered", name)
	return 0
}

// Approvers are checked like assignees when a request is created: a misspelt group would
// expand to nobody and leave the request open to everyone it was sent to.
func TestApproversAreCheckedLikeAssignees(t *testing.T) {
	addr, stop := startDev(t, t.TempDir())
	defer stop()
	r := doCall(t, "POST", "http://"+addr+"/v1/requests", "", `{"title": "Refund?", "approvers": ["group:fnance"]}`)
	if r.Status != 400 || !strings.Contains(string(r.Body), "approvers[0]") || !strings.Contains(string(r.Body), "fnance") {
		t.Fatalf("unknown approver group: %d %s", r.Status, r.Body)
	}
	if l := doCall(t, "GET", "http://"+addr+"/v1/requests", "", nil); !strings.Contains(string(l.Body), `"count":0`) {
		t.Fatalf("a refused request was stored: %s", l.Body)
	}
}
