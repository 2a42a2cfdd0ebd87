package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/respond"
	"github.com/hitl-dev/hitl/streams"
)

// keyedCall is one API call with an Idempotency-Key.
func keyedCall(t testing.TB, url, token, key string, body any) apiResp {
	t.Helper()
	j, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", url, strings.NewReader(string(j)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return apiResp{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// runsOf counts the run records and the run.started commands of a workflow.
func runsOf(t *testing.T, s *system, workflow string) (records, commands int) {
	t.Helper()
	ctx := context.Background()
	keys, err := s.st.Buckets().Runs.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys.Keys() {
		if run, _, err := s.st.Run(ctx, k); err == nil && run.Workflow == workflow {
			records++
		}
	}
	st, err := s.st.JetStream().Stream(ctx, streams.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx, jetstreamSubjects(streams.SubjectRunStarted+workflow+".*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range info.State.Subjects {
		commands += int(n)
	}
	return records, commands
}

// POST /v1/runs with an Idempotency-Key: a retry returns the same run, a different body is
// 422, concurrent duplicates make one run, another token's same key is its own, and a bad
// key is refused. No orchestrator hosts the workflow, so the runs stay queued and countable.
func TestIdempotencyKeyOnRuns(t *testing.T) {
	t.Parallel()
	s := newSystem(t, natstest.Single(t), registry(&resumes{}))
	const other = "another-token-4567"
	api, err := respond.New(respond.Config{Store: s.st, Tokens: []string{apiToken, other}, LinkSecret: []byte(linkSecret), Logger: s.logs})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	url := srv.URL + "/v1/runs"
	body := map[string]any{"workflow": "idem-runs", "input": map[string]any{"amount": 5, "who": "ann"}}

	first := keyedCall(t, url, apiToken, "order-1", body)
	if first.Status != http.StatusCreated || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first start: %d %v %s", first.Status, first.Header, first.Body)
	}
	var a, b respond.RunView
	first.decode(t, &a)
	// The same body, encoded with its keys in another order and quoted as the draft writes keys.
	retry := keyedCall(t, url, apiToken, `"order-1"`, json.RawMessage(`{"input": {"who": "ann", "amount": 5}, "workflow": "idem-runs"}`))
	if retry.Status != http.StatusCreated || retry.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %v %s", retry.Status, retry.Header, retry.Body)
	}
	retry.decode(t, &b)
	if b.ID != a.ID || b.Workflow != a.Workflow || b.Status != events.RunQueued {
		t.Fatalf("retry answered run %+v, want %+v", b, a)
	}
	if got := retry.Header.Get("Location"); got != "/v1/runs/"+a.ID {
		t.Fatalf("retry Location %q", got)
	}
	if recs, cmds := runsOf(t, s, "idem-runs"); recs != 1 || cmds != 1 {
		t.Fatalf("%d run records and %d run.started commands, want 1 and 1", recs, cmds)
	}

	// A different body with the same key changes nothing.
	r := keyedCall(t, url, apiToken, "order-1", map[string]any{"workflow": "idem-runs", "input": map[string]any{"amount": 6}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), `"idempotency_key_reused"`) {
		t.Fatalf("different body: %d %s", r.Status, r.Body)
	}
	// Another token's same key is another caller's: its own run.
	r = keyedCall(t, url, other, "order-1", body)
	var c respond.RunView
	r.decode(t, &c)
	if r.Status != http.StatusCreated || c.ID == a.ID || r.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("other token: %d %s (first run %s)", r.Status, r.Body, a.ID)
	}
	if recs, cmds := runsOf(t, s, "idem-runs"); recs != 2 || cmds != 2 {
		t.Fatalf("%d run records and %d commands, want 2 and 2", recs, cmds)
	}

	// Concurrent starts with one key make one run.
	const n = 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := keyedCall(t, url, apiToken, "burst-1", map[string]any{"workflow": "idem-runs", "input": "x"})
			var v respond.RunView
			if r.Status == http.StatusCreated && json.Unmarshal(r.Body, &v) == nil {
				ids[i] = v.ID
			}
		}()
	}
	wg.Wait()
	for i := range ids {
		if ids[i] == "" || ids[i] != ids[0] {
			t.Fatalf("concurrent starts answered runs %v, want one id", ids)
		}
	}
	if recs, cmds := runsOf(t, s, "idem-runs"); recs != 3 || cmds != 3 {
		t.Fatalf("after the burst %d run records and %d commands, want 3 and 3", recs, cmds)
	}

	// Bad keys are refused and start nothing.
	for _, key := range []string{strings.Repeat("k", 256), "two words", `""`, "caf\u00e9"} {
		r := keyedCall(t, url, apiToken, key, body)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"invalid_idempotency_key"`) {
			t.Fatalf("key %q: %d %s", key, r.Status, r.Body)
		}
	}
	if recs, _ := runsOf(t, s, "idem-runs"); recs != 3 {
		t.Fatalf("bad keys made runs: %d records", recs)
	}
	// Without a key every call is a new run, as before.
	s.startRun("idem-runs", "x")
	s.startRun("idem-runs", "x")
	if recs, _ := runsOf(t, s, "idem-runs"); recs != 5 {
		t.Fatalf("%d records, want 5", recs)
	}
}

// A key whose record landed but whose run was never started (a crash in between, or a
// failed publish) ends, on retry, with exactly one run.
func TestIdempotencyKeyCompletesAnInterruptedStart(t *testing.T) {
	t.Parallel()
	s := newSystem(t, natstest.Single(t), registry(&resumes{}))
	url := s.api.URL + "/v1/runs"
	body := map[string]any{"workflow": "idem-crash", "input": 1}
	// Stream unreachable for the first attempt's publish: the record lands, the run does not.
	ctx := context.Background()
	st, err := s.st.JetStream().Stream(ctx, streams.Stream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	sealed := cfg
	sealed.Subjects = []string{"hitl.other.>"} // run.started has no stream to land in
	if _, err := s.st.JetStream().UpdateStream(ctx, sealed); err != nil {
		t.Fatal(err)
	}
	if r := keyedCall(t, url, apiToken, "crash-1", body); r.Status < 500 {
		t.Fatalf("start without a stream: %d %s", r.Status, r.Body)
	}
	if recs, cmds := runsOf(t, s, "idem-crash"); recs != 0 || cmds != 0 {
		t.Fatalf("the failed start left %d records, %d commands", recs, cmds)
	}
	if _, err := s.st.JetStream().UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	r := keyedCall(t, url, apiToken, "crash-1", body)
	if r.Status != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %s", r.Status, r.Body)
	}
	again := keyedCall(t, url, apiToken, "crash-1", body)
	var v1, v2 respond.RunView
	r.decode(t, &v1)
	again.decode(t, &v2)
	if v1.ID == "" || v1.ID != v2.ID {
		t.Fatalf("runs %q and %q", v1.ID, v2.ID)
	}
	if recs, cmds := runsOf(t, s, "idem-crash"); recs != 1 || cmds != 1 {
		t.Fatalf("%d run records and %d commands, want 1 and 1", recs, cmds)
	}
}

// POST /v1/requests with an Idempotency-Key: same request, one request, 422 on another body,
// one request from concurrent duplicates.
func TestIdempotencyKeyOnRequests(t *testing.T) {
	t.Parallel()
	s := newSystem(t, natstest.Single(t), registry(&resumes{}))
	url := s.api.URL + "/v1/requests"
	count := func() int {
		var l struct {
			Count int `json:"count"`
		}
		s.call("GET", "/v1/requests", nil).decode(t, &l)
		return l.Count
	}
	body := map[string]any{"title": "Deploy?", "metadata": map[string]string{"build": "42"}}
	first := keyedCall(t, url, apiToken, "deploy-42", body)
	retry := keyedCall(t, url, apiToken, "deploy-42", body)
	var a, b events.Request
	first.decode(t, &a)
	retry.decode(t, &b)
	if first.Status != http.StatusCreated || retry.Status != http.StatusCreated || a.ID == "" || a.ID != b.ID ||
		retry.Header.Get("Idempotent-Replayed") != "true" || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first %d %s, retry %d %v %s", first.Status, first.Body, retry.Status, retry.Header, retry.Body)
	}
	if b.Title != "Deploy?" || b.Status != events.StatusPending || !b.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("retry answered %s", retry.Body)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	r := keyedCall(t, url, apiToken, "deploy-42", map[string]any{"title": "Deploy 43?"})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), `"idempotency_key_reused"`) {
		t.Fatalf("different body: %d %s", r.Status, r.Body)
	}
	// Answered meanwhile: the retry shows it as it stands, and creates nothing.
	if r := s.call("POST", "/v1/requests/"+a.ID+"/respond", map[string]any{"data": map[string]any{"approved": true}}); r.Status != 200 {
		t.Fatalf("answer: %d %s", r.Status, r.Body)
	}
	r = keyedCall(t, url, apiToken, "deploy-42", body)
	var c events.Request
	r.decode(t, &c)
	if r.Status != http.StatusCreated || c.ID != a.ID || c.Status != events.StatusAnswered {
		t.Fatalf("retry after the answer: %d %s", r.Status, r.Body)
	}

	const n = 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := keyedCall(t, url, apiToken, "burst", map[string]any{"title": "Burst?"})
			var v events.Request
			if r.Status == http.StatusCreated && json.Unmarshal(r.Body, &v) == nil {
				ids[i] = v.ID
			}
		}()
	}
	wg.Wait()
	for i := range ids {
		if ids[i] == "" || ids[i] != ids[0] {
			t.Fatalf("concurrent creates answered %v, want one id", ids)
		}
	}
	if n := count(); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
	// One question for the notifiers, however many calls.
	st, err := s.st.JetStream().Stream(context.Background(), streams.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(streams.SubjectRequestInfo+ids[0]))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.State.Subjects[streams.SubjectRequestInfo+ids[0]]; got != 1 {
		t.Fatalf("%d request_info events, want 1", got)
	}
}
