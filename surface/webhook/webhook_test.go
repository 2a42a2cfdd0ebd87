package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
	"github.com/hitl-dev/hitl/surface/webhook"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// loopback allows the receivers of these tests, httptest servers on 127.0.0.1.
var loopback = []string{"127.0.0.1"}

// The test vector of the Standard Webhooks specification.
func TestSignatureVector(t *testing.T) {
	s, err := webhook.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	body := []byte(`{"test": 2432232314}`)
	s.Sign(h, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), body)
	if got, want := h.Get(webhook.HeaderSignature), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	now := time.Unix(1614265330, 0).Add(time.Minute)
	if err := s.Verify(h, body, now, 5*time.Minute); err != nil {
		t.Fatalf("verify: %v", err)
	}
	other, _ := webhook.NewSigner("whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0")
	tampered := http.Header{}
	for k, v := range h {
		tampered[k] = v
	}
	tampered.Set(webhook.HeaderID, "msg_other")
	for name, check := range map[string]error{
		"tampered body":   s.Verify(h, []byte(`{"test": 2432232315}`), now, 5*time.Minute),
		"tampered id":     s.Verify(tampered, body, now, 5*time.Minute),
		"other secret":    other.Verify(h, body, now, 5*time.Minute),
		"stale timestamp": s.Verify(h, body, now.Add(time.Hour), 5*time.Minute),
		"no headers":      s.Verify(http.Header{}, body, now, 5*time.Minute),
	} {
		if !errors.Is(check, webhook.ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, check)
		}
	}
}

func TestBadConfigurationIsRejected(t *testing.T) {
	for _, s := range []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", "whsec_c2hvcnQ="} {
		if _, err := webhook.New(webhook.Config{Secret: s}); err == nil {
			t.Errorf("secret %q accepted", s)
		}
	}
	for _, u := range []string{"not a url", "ftp://x/y", "/relative", "http://"} {
		if _, err := webhook.New(webhook.Config{Targets: map[string]string{"a": u}}); err == nil {
			t.Errorf("target URL %q accepted", u)
		}
	}
	for _, s := range []string{"a", "a=", "=http://x", "a=http://x,a=http://y", "a=mailto:x@y"} {
		if _, err := webhook.ParseTargets(s); err == nil {
			t.Errorf("HITL_WEBHOOKS=%q accepted", s)
		}
	}
	got, err := webhook.ParseTargets(" ops-bot=https://bot.internal/hook , audit=http://127.0.0.1:9000/x ,")
	if err != nil || len(got) != 2 || got["ops-bot"] != "https://bot.internal/hook" || got["audit"] != "http://127.0.0.1:9000/x" {
		t.Fatalf("ParseTargets: %v %v", got, err)
	}
}

// receiver is a webhook endpoint whose answers the test scripts.
type receiver struct {
	srv    *httptest.Server
	signer *webhook.Signer
	mu     sync.Mutex
	got    []delivery
	status func(n int) int // status for the n-th delivery (1-based)
}

type delivery struct {
	typ, webhookID, respondURL string
	path, subject              string // the URL path it was posted to; the event's subject, the request id
	verified                   bool
	header                     http.Header
	body                       []byte
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	s, _ := webhook.NewSigner(secret)
	r := &receiver{signer: s, status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var ev struct {
			Type    string `json:"type"`
			Subject string `json:"subject"`
			Data    struct {
				RespondURL string `json:"respond_url"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &ev)
		r.mu.Lock()
		r.got = append(r.got, delivery{typ: ev.Type, webhookID: req.Header.Get(webhook.HeaderID), respondURL: ev.Data.RespondURL,
			path: req.URL.Path, subject: ev.Subject,
			verified: r.signer.Verify(req.Header, body, time.Now(), time.Minute) == nil, header: req.Header.Clone(), body: body})
		n := len(r.got)
		r.mu.Unlock()
		w.WriteHeader(r.status(n))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

type fixture struct {
	st  *store.Store
	js  jetstream.JetStream
	rcv *receiver
}

func setup(t *testing.T, status func(n int) int) *fixture {
	t.Helper()
	return setupWith(t, status, nil)
}

// setupWith is setup with the notifier's buckets wrapped by wrap (fault injection).
func setupWith(t *testing.T, status func(n int) int, wrap func(streams.Buckets) streams.Buckets) *fixture {
	t.Helper()
	env := natstest.Single(t)
	_, js := env.Connect(t)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	nst := st
	if wrap != nil {
		nst = store.New(js, wrap(st.Buckets()))
	}
	rcv := newReceiver(t, status)
	wh, err := webhook.New(webhook.Config{Targets: map[string]string{"bot": rcv.srv.URL}, Secret: secret, AllowPrivate: loopback})
	if err != nil {
		t.Fatal(err)
	}
	n, err := notify.New(notify.Config{Store: nst, Channels: []notify.Channel{wh}, LinkSecret: []byte("0123456789abcdef0123"),
		PublicURL: "http://hitl.test", MaxDeliver: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &fixture{st: st, js: js, rcv: rcv}
}

func (f *fixture) ask(t *testing.T, assignees ...string) *events.Request {
	t.Helper()
	r := &events.Request{ID: uuid.NewString(), Title: "Ship it?", Input: input.Spec{Type: input.Approval}, Assignees: assignees}
	if err := f.st.CreateRequest(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDeliversOnceAcrossRedeliveryAndUpdatesOnResolution(t *testing.T) {
	t.Parallel()
	f := setup(t, func(int) int { return http.StatusNoContent })
	ctx := context.Background()
	r := f.ask(t, "webhook:bot")
	waitFor(t, "the delivery", func() bool { return len(f.rcv.deliveries()) == 1 })
	d := f.rcv.deliveries()[0]
	if d.typ != events.TypeRequestInfo || !d.verified || !strings.HasPrefix(d.respondURL, "http://hitl.test/v1/requests/"+r.ID+"/respond?token=") {
		t.Fatalf("delivery %+v", d)
	}

	waitFor(t, "the delivery record", func() bool {
		status, _, err := notify.DeliveryStatus(ctx, f.st, r.ID, "webhook:bot", "notify")
		return err == nil && status == "delivered"
	})

	// A redelivery of the same request_info (here: published again under another message id,
	// as after a crash before the ack) must not reach the bot again.
	body, _ := json.Marshal(r)
	e, _ := events.New(events.TypeRequestInfo, "again-"+r.ID, r.ID, json.RawMessage(body))
	msg, _ := events.Msg(streams.SubjectRequestInfo+r.ID, e)
	if _, err := f.js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}

	// Resolution is shown on the surface that showed the request, once.
	resolved, err := f.st.Respond(ctx, events.Response{RequestID: r.ID, Outcome: events.StatusAnswered, Data: json.RawMessage(`{"approved":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.FinishRequest(ctx, resolved); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the resolved event", func() bool { return len(f.rcv.deliveries()) >= 2 })
	time.Sleep(300 * time.Millisecond) // room for a wrong duplicate to arrive
	got := f.rcv.deliveries()
	if len(got) != 2 || got[1].typ != events.TypeResolved || !got[1].verified {
		t.Fatalf("deliveries %+v, want request_info then resolved", got)
	}
}

func TestFailedDeliveryIsRetriedThenDeadLettered(t *testing.T) {
	t.Parallel()
	f := setup(t, func(int) int { return http.StatusServiceUnavailable })
	r := f.ask(t, "webhook:bot")
	var status, reason string
	waitFor(t, "the dead letter", func() bool {
		status, reason, _ = notify.DeliveryStatus(context.Background(), f.st, r.ID, "webhook:bot", "notify")
		return status == "dead_letter"
	})
	got := f.rcv.deliveries()
	if len(got) != 3 {
		t.Fatalf("%d attempts, want 3 (MaxDeliver)", len(got))
	}
	for _, d := range got {
		if d.webhookID != got[0].webhookID {
			t.Errorf("webhook-id changed across retries: %s vs %s", d.webhookID, got[0].webhookID)
		}
	}
	if !strings.Contains(reason, "503") || !strings.Contains(reason, "3 attempts") {
		t.Errorf("dead letter reason %q", reason)
	}
}

func TestPermanentFailureAndUnknownAssigneesDeadLetterAtOnce(t *testing.T) {
	t.Parallel()
	f := setup(t, func(int) int { return http.StatusGone })
	r := f.ask(t, "webhook:bot", "webhook:ghost", "pager:oncall")
	ctx := context.Background()
	for assignee, want := range map[string]string{
		"webhook:bot":   "410",
		"webhook:ghost": `no webhook target named "ghost"`,
		"pager:oncall":  `no "pager" channel`,
	} {
		var status, reason string
		waitFor(t, "dead letter for "+assignee, func() bool {
			status, reason, _ = notify.DeliveryStatus(ctx, f.st, r.ID, assignee, "notify")
			return status == "dead_letter"
		})
		if !strings.Contains(reason, want) {
			t.Errorf("%s: reason %q lacks %q", assignee, reason, want)
		}
	}
	if n := len(f.rcv.deliveries()); n != 1 {
		t.Errorf("a 410 was retried: %d attempts", n)
	}
}

// failingPuts is the real deliveries bucket whose next Puts fail, as during a leader
// election.
type failingPuts struct {
	jetstream.KeyValue
	failures atomic.Int32
}

func (f *failingPuts) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	if f.failures.Add(-1) >= 0 {
		return 0, errors.New("injected: nats: timeout")
	}
	return f.KeyValue.Put(ctx, key, value)
}

// A delivery whose record write fails is recorded by retrying the write, not delivered
// again: the bot gets it once, the event is not redelivered, and webhook-id is the
// delivery's stable key (request, channel, target, phase), never a random one.
func TestFailedRecordWriteIsRetriedNotRedelivered(t *testing.T) {
	t.Parallel()
	deliveries := &failingPuts{}
	f := setupWith(t, func(int) int { return http.StatusNoContent }, func(b streams.Buckets) streams.Buckets {
		deliveries.KeyValue = b.Deliveries
		b.Deliveries = deliveries
		return b
	})
	deliveries.failures.Store(3)
	ctx := context.Background()
	r := f.ask(t, "webhook:bot")
	waitFor(t, "the delivery record", func() bool {
		status, _, err := notify.DeliveryStatus(ctx, f.st, r.ID, "webhook:bot", "notify")
		return err == nil && status == "delivered"
	})
	if n := deliveries.failures.Load(); n >= 0 {
		t.Fatalf("the injected failures were not all hit (%d left)", n+1)
	}
	// The record is written after the delivery it records; a redelivery would have posted
	// again before it.
	got := f.rcv.deliveries()
	if len(got) != 1 {
		t.Fatalf("the bot got %d deliveries, want 1", len(got))
	}
	if id := got[0].webhookID; !strings.HasPrefix(id, r.ID+".webhook.") || !strings.HasSuffix(id, ".notify") {
		t.Fatalf("webhook-id %q is not the delivery's key", id)
	}
	waitFor(t, "the event to be acked", func() bool {
		info, err := f.js.Consumer(ctx, streams.Stream, streams.ConsumerNotifier)
		if err != nil {
			return false
		}
		ci, err := info.Info(ctx)
		return err == nil && ci.NumAckPending == 0 && ci.NumPending == 0
	})
	ci, err := f.js.Consumer(ctx, streams.Stream, streams.ConsumerNotifier)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := ci.Info(ctx); err != nil || info.NumRedelivered != 0 {
		t.Fatalf("consumer redelivered %d messages (%v), want 0", info.NumRedelivered, err)
	}
	if got := f.rcv.deliveries(); len(got) != 1 {
		t.Fatalf("the bot got %d deliveries, want 1", len(got))
	}
}
