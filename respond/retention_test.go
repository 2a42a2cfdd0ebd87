package respond_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	hitlclient "github.com/hitl-dev/hitl/client"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/respond"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
)

// Over the REST API: a request created with its own retention of 1 s is removed a moment
// after it is answered; reading or answering it then is 410 gone, and changes nothing. Bad
// retentions are refused. Export streams what finished in its range, with the trailer that
// says it is complete.
func TestRetentionOverREST(t *testing.T) {
	t.Parallel()
	b := setup(t, respond.Config{})
	ctx := context.Background()
	created := call(t, "POST", b.url+"/v1/requests", adminToken, `{"title": "Ship it?", "retention": "1s"}`)
	if created.status != http.StatusCreated || created.body["retention"] != "1s" {
		t.Fatalf("create: %d %v", created.status, created.body)
	}
	id := created.body["id"].(string)
	start := time.Now().Add(-time.Second)
	if got := call(t, "POST", b.url+"/v1/requests/"+id+"/respond", answerToken, `{"data": {"approved": true}}`); got.status != http.StatusOK {
		t.Fatalf("answer: %d %v", got.status, got.body)
	}

	// Export before it goes: one line, the request with its answer.
	api, err := hitlclient.New(hitlclient.Config{URL: b.url, Token: readToken})
	if err != nil {
		t.Fatal(err)
	}
	var lines []store.Finished
	var out bytes.Buffer
	if err := api.Export(ctx, start, time.Now().Add(time.Second), &out); err != nil {
		t.Fatalf("export: %v", err)
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var f store.Finished
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		lines = append(lines, f)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("export: %v", err)
	}
	if len(lines) != 1 || lines[0].Kind != "request" || lines[0].Request.ID != id || lines[0].Request.Status != events.StatusAnswered {
		t.Fatalf("export: %+v", lines)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		got := call(t, "GET", b.url+"/v1/requests/"+id, readToken, "")
		if got.status == http.StatusGone && got.code() == "gone" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the answered request was not removed: %d %v", got.status, got.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The gate's response goes with the record, give or take JetStream's expiry tick.
	st, err := b.st.JetStream().Stream(ctx, streams.Stream)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := st.GetLastMsgForSubject(ctx, streams.SubjectResponse+id); err == nil; _, err = st.GetLastMsgForSubject(ctx, streams.SubjectResponse+id) {
		if time.Now().After(deadline) {
			t.Fatal("the gate's response was not removed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for path, body := range map[string]string{"/respond": `{"data": {"approved": false}}`, "/cancel": `{"reason": "late"}`} {
		got := call(t, "POST", b.url+"/v1/requests/"+id+path, adminToken, body)
		if got.status != http.StatusGone || got.code() != "gone" {
			t.Fatalf("late %s: %d %v, want 410 gone", path, got.status, got.body)
		}
	}
	answerer, err := hitlclient.New(hitlclient.Config{URL: b.url, Token: answerToken})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := answerer.Respond(ctx, id, hitlclient.Answer{Data: json.RawMessage(`{"approved": false}`)}); !errors.Is(err, hitlclient.ErrGone) {
		t.Fatalf("client: %v, want ErrGone", err)
	}
	if _, err := st.GetLastMsgForSubject(ctx, streams.SubjectResponse+id); err == nil {
		t.Fatal("a late answer reached the gate")
	}
	// A request that never existed is still 404.
	if got := call(t, "GET", b.url+"/v1/requests/6f1c0000-0000-4000-8000-000000000000", readToken, ""); got.status != http.StatusNotFound {
		t.Fatalf("unknown id: %d", got.status)
	}

	for _, body := range []string{`{"title": "t", "retention": "500ms"}`, `{"title": "t", "retention": "100000h"}`, `{"title": "t", "retention": "soon"}`} {
		if got := call(t, "POST", b.url+"/v1/requests", adminToken, body); got.status != http.StatusBadRequest {
			t.Errorf("%s: %d %v, want 400", body, got.status, got.body)
		}
	}
	if got := call(t, "POST", b.url+"/v1/runs", adminToken, `{"workflow": "w", "retention": "0.5s"}`); got.status != http.StatusBadRequest {
		t.Errorf("run with a retention under 1s: %d %v, want 400", got.status, got.body)
	}
	if got := call(t, "POST", b.url+"/v1/runs", adminToken, `{"workflow": "w", "retention": "1h"}`); got.status != http.StatusCreated || got.body["retention"] != "1h0m0s" {
		t.Errorf("run with a retention: %d %v", got.status, got.body)
	}
	q := url.Values{"since": {"2026-01-02T00:00:00Z"}, "until": {"2026-01-01T00:00:00Z"}}
	if got := call(t, "GET", b.url+"/v1/export?"+q.Encode(), readToken, ""); got.status != http.StatusBadRequest {
		t.Errorf("export with until before since: %d", got.status)
	}
}
