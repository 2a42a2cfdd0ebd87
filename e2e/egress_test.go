package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/egress/egresstest"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/respond"
	"github.com/hitl-dev/hitl/surface/webhook"
)

// receiver is a callback endpoint that counts what it receives and checks the signature:
// the callback secret verifies it, the bots' webhook secret does not.
type receiver struct {
	srv              *httptest.Server
	hits, good, bots atomic.Int32
}

func newReceiver(t *testing.T) *receiver {
	cbs, _ := webhook.NewSigner(callbackSecret)
	whs, _ := webhook.NewSigner(webhookSecret)
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		if cbs.Verify(r.Header, body, time.Now(), time.Minute) == nil {
			rc.good.Add(1)
		}
		if whs.Verify(r.Header, body, time.Now(), time.Minute) == nil {
			rc.bots.Add(1)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// answer approves a pending request as an operator.
func answer(t *testing.T, base, id string) {
	t.Helper()
	if r := doCall(t, "POST", base+"/v1/requests/"+id+"/respond", apiToken, map[string]any{"data": map[string]any{"approved": true}}); r.Status != 200 {
		t.Fatalf("respond: %d %s", r.Status, r.Body)
	}
}

// TestCallbackURLRefusedByDefaultAllowedWhenAllowListed: without an allow-list, a callback_url
// on loopback, link-local (cloud metadata) or a private range is a 400 naming the field, and
// nothing is created; with 127.0.0.1 allow-listed the callback is created and delivered,
// signed with the callback secret.
func TestCallbackURLRefusedByDefaultAllowedWhenAllowListed(t *testing.T) {
	t.Parallel()
	s := newSystem(t, natstest.Single(t), registry(&resumes{}))
	s.orchestrator()
	s.notifier()
	rc := newReceiver(t)
	_, port, _ := net.SplitHostPort(rc.srv.Listener.Addr().String())

	strict, err := respond.New(respond.Config{Store: s.st, Tokens: []string{apiToken}, LinkSecret: []byte(linkSecret), Logger: s.logs})
	if err != nil {
		t.Fatal(err)
	}
	def := httptest.NewServer(strict)
	t.Cleanup(def.Close)
	for _, u := range []string{
		rc.srv.URL + "/cb", // http://127.0.0.1:port
		"http://[::1]:" + port + "/cb",
		"http://[::ffff:127.0.0.1]:" + port + "/cb",
		"http://localhost:" + port + "/cb",
		"http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.7/cb",
		"http://100.64.0.1/cb",
		"http://[fd00::1]/cb",
		"http://0.0.0.0:" + port + "/cb",
	} {
		r := doCall(t, "POST", def.URL+"/v1/requests", apiToken, map[string]any{"title": "a", "callback_url": u})
		var e apiError
		_ = json.Unmarshal(r.Body, &e)
		if r.Status != 400 || e.Error.Code != "validation_failed" || len(e.Error.Fields) != 1 ||
			e.Error.Fields[0].Path != "callback_url" || !strings.Contains(e.Error.Fields[0].Message, "not a public one") {
			t.Errorf("callback_url %s: %d %s, want 400 on callback_url", u, r.Status, r.Body)
		}
	}
	var list struct {
		Count int `json:"count"`
	}
	s.call("GET", "/v1/requests", nil).decode(t, &list)
	if list.Count != 0 {
		t.Fatalf("%d requests exist after refusals", list.Count)
	}

	// The harness's responder and notifier allow 127.0.0.1.
	r := s.call("POST", "/v1/requests", map[string]any{"title": "Deploy?", "callback_url": rc.srv.URL + "/cb"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create allow-listed: %d %s", r.Status, r.Body)
	}
	var req events.Request
	r.decode(t, &req)
	answer(t, s.api.URL, req.ID)
	eventually(t, 10*time.Second, func() bool { return rc.hits.Load() == 1 }, func() string { return "the callback" })
	if rc.good.Load() != 1 || rc.bots.Load() != 0 {
		t.Fatalf("callback signatures: %d verify with the callback secret, %d with the webhook secret", rc.good.Load(), rc.bots.Load())
	}
}

// TestCallbackRefusedAtDialTime: a callback_url naming a host that passes the early check,
// but resolves to 127.0.0.1 (as DNS rebinding would have it), is never connected to: the
// delivery is dead-lettered at once with the reason.
func TestCallbackRefusedAtDialTime(t *testing.T) {
	t.Parallel()
	s := newSystem(t, natstest.Single(t), registry(&resumes{}))
	s.orchestrator()
	rc := newReceiver(t)
	_, port, _ := net.SplitHostPort(rc.srv.Listener.Addr().String())
	dns := egresstest.StartDNS(t, map[string][]string{"receiver.example.test": {"127.0.0.1"}})

	cb, err := webhook.NewCallbacks(webhook.CallbacksConfig{Secret: callbackSecret, Resolver: dns.Resolver()})
	if err != nil {
		t.Fatal(err)
	}
	n, err := notify.New(notify.Config{Store: s.newStore(), Callbacks: cb, LinkSecret: []byte(linkSecret), PublicURL: s.api.URL,
		Logger: s.logs, Metrics: metrics.New(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	s.run(n.Run)

	strict, err := respond.New(respond.Config{Store: s.st, Tokens: []string{apiToken}, LinkSecret: []byte(linkSecret), Logger: s.logs})
	if err != nil {
		t.Fatal(err)
	}
	def := httptest.NewServer(strict)
	t.Cleanup(def.Close)
	url := "http://receiver.example.test:" + port + "/cb"
	r := doCall(t, "POST", def.URL+"/v1/requests", apiToken, map[string]any{"title": "a", "callback_url": url})
	if r.Status != http.StatusCreated {
		t.Fatalf("a public-looking name is accepted at creation: %d %s", r.Status, r.Body)
	}
	var req events.Request
	r.decode(t, &req)
	answer(t, def.URL, req.ID)
	var status, reason string
	eventually(t, 10*time.Second, func() bool {
		status, reason, err = notify.DeliveryStatus(context.Background(), s.st, req.ID, "callback:"+url, "resolved")
		return err == nil && status != ""
	}, func() string { return "a delivery record" })
	if status != "dead_letter" || !strings.Contains(reason, "127.0.0.1 is a loopback address") || !strings.Contains(reason, "after 1 attempts") {
		t.Fatalf("delivery: %s %q, want dead-lettered at once as loopback", status, reason)
	}
	if rc.hits.Load() != 0 {
		t.Fatalf("the receiver on loopback was reached %d times", rc.hits.Load())
	}
	if !errors.Is(cb.Update(context.Background(), notify.Delivery{Request: &req, Target: "http://127.0.0.1:" + port, ID: "x"}), notify.ErrPermanent) {
		t.Fatal("a literal loopback callback_url is not a permanent failure")
	}
}
