package slack_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/engine"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/internal/slackfake"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/surface/slack"
)

const (
	botToken      = "xoxb-handler-test"
	signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"
)

var (
	alice   = slackfake.User{ID: "U0ALICE", Name: "alice"}
	bob     = slackfake.User{ID: "U0BOB", Name: "bob"}
	mallory = slackfake.User{ID: "U0MALLORY", Name: "mallory"}
)

// handlerBundle is hitl with Slack on a real JetStream: orchestrator, notifier (Slack channel
// against the fake) and the interactions handler.
type handlerBundle struct {
	st      *store.Store
	fake    *slackfake.Server
	url     string // the interactions endpoint
	reg     *hitl.Registry
	metrics *prometheus.Registry
}

func setupHandler(t *testing.T, register func(reg *hitl.Registry)) *handlerBundle {
	t.Helper()
	env := natstest.Single(t)
	_, js := env.Connect(t)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fake := slackfake.New(t, botToken)
	fake.AddChannel("ops")
	ch, err := slack.New(slack.Config{BotToken: botToken, APIURL: fake.APIURL})
	if err != nil {
		t.Fatal(err)
	}
	routes, err := routing.New([]string{"slack"}, map[string][]string{"leads": {"slack:@U0BOSS"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	preg := prometheus.NewRegistry()
	m := metrics.New(preg)
	h, err := slack.NewHandler(slack.HandlerConfig{Store: st, SigningSecret: signingSecret, API: ch.API(),
		Routes: func() *routing.Routes { return routes }, Logger: log, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+slack.Path, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	reg := hitl.NewRegistry()
	if register != nil {
		register(reg)
	}
	o, err := engine.New(engine.Config{Store: st, Registry: reg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	n, err := notify.New(notify.Config{Store: st, Channels: []notify.Channel{ch}, Routes: routes,
		LinkSecret: []byte("0123456789abcdef0123"), PublicURL: "http://hitl.test", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = o.Run(ctx); done <- struct{}{} }()
	go func() { _ = n.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	return &handlerBundle{st: st, fake: fake, url: srv.URL + slack.Path, reg: reg, metrics: preg}
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ask creates a standalone request and waits for its Slack message.
func (b *handlerBundle) ask(t *testing.T, r *events.Request) slackfake.Message {
	t.Helper()
	r.ID = uuid.NewString()
	if r.Title == "" {
		r.Title = "Deploy billing 1.4?"
	}
	if len(r.Assignees) == 0 {
		r.Assignees = []string{"slack:#ops"}
	}
	if err := b.st.CreateRequest(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return b.message(t, r.ID)
}

// message waits for the message that asks request id.
func (b *handlerBundle) message(t *testing.T, id string) slackfake.Message {
	t.Helper()
	var msg slackfake.Message
	waitFor(t, "the Slack message of "+id, func() bool {
		for _, m := range b.fake.Messages() {
			if strings.Contains(string(m.Blocks), id) {
				msg = m
				return true
			}
		}
		return false
	})
	return msg
}

func (b *handlerBundle) click(t *testing.T, m slackfake.Message, u slackfake.User, label string) slackfake.Interaction {
	t.Helper()
	i, err := b.fake.Click(m.Channel, m.TS, u, label)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// send posts an interaction signed now and returns the status and body.
func (b *handlerBundle) send(t *testing.T, i slackfake.Interaction) (int, string) {
	t.Helper()
	return b.do(t, i.Request(context.Background(), b.url, signingSecret))
}

func (b *handlerBundle) do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Slack waits 3 s; the handler took %s", d)
	}
	return res.StatusCode, string(body)
}

func (b *handlerBundle) request(t *testing.T, id string) *events.Request {
	t.Helper()
	r, _, err := b.st.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func requestID(t *testing.T, m slackfake.Message) string {
	t.Helper()
	var blocks []struct {
		Elements []struct {
			ActionID string `json:"action_id"`
		} `json:"elements"`
	}
	_ = json.Unmarshal(m.Blocks, &blocks)
	for _, b := range blocks {
		for _, e := range b.Elements {
			if id, _, ok := slack.ParseActionID(e.ActionID); ok {
				return id
			}
		}
	}
	t.Fatalf("message has no hitl button: %s", m.Blocks)
	return ""
}

func (b *handlerBundle) ephemerals(user string) []slackfake.Ephemeral {
	var out []slackfake.Ephemeral
	for _, e := range b.fake.Ephemerals() {
		if e.User == user {
			out = append(out, e)
		}
	}
	return out
}

func TestRefusesUnsignedRequests(t *testing.T) {
	t.Parallel()
	b := setupHandler(t, nil)
	m := b.ask(t, &events.Request{Input: input.Spec{Type: input.Approval}})
	id := requestID(t, m)
	click := b.click(t, m, alice, "Approve")
	body := click.Body()
	ctx := context.Background()
	cases := map[string]*http.Request{
		"forged signature": func() *http.Request {
			r := slackfake.SignedRequest(ctx, b.url, "not-the-secret", body, time.Now())
			return r
		}(),
		"stale timestamp":  slackfake.SignedRequest(ctx, b.url, signingSecret, body, time.Now().Add(-6*time.Minute)),
		"future timestamp": slackfake.SignedRequest(ctx, b.url, signingSecret, body, time.Now().Add(6*time.Minute)),
		"missing headers": func() *http.Request {
			r := slackfake.SignedRequest(ctx, b.url, signingSecret, body, time.Now())
			r.Header.Del("X-Slack-Signature")
			r.Header.Del("X-Slack-Request-Timestamp")
			return r
		}(),
		"missing timestamp": func() *http.Request {
			r := slackfake.SignedRequest(ctx, b.url, signingSecret, body, time.Now())
			r.Header.Del("X-Slack-Request-Timestamp")
			return r
		}(),
		"body changed after signing": func() *http.Request {
			r := slackfake.SignedRequest(ctx, b.url, signingSecret, body, time.Now())
			tampered := strings.Replace(string(body), "U0ALICE", "U0BOSS", 1)
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(tampered)), int64(len(tampered))
			return r
		}(),
		"signature without v0=": func() *http.Request {
			r := slackfake.SignedRequest(ctx, b.url, signingSecret, body, time.Now())
			r.Header.Set("X-Slack-Signature", strings.TrimPrefix(r.Header.Get("X-Slack-Signature"), "v0="))
			return r
		}(),
	}
	for name, req := range cases {
		if status, _ := b.do(t, req); status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, status)
		}
	}
	if r := b.request(t, id); r.Resolved() {
		t.Fatalf("request resolved by an unsigned click: %+v", r.Response)
	}
	if e := b.fake.Ephemerals(); len(e) > 0 {
		t.Fatalf("replies sent for unsigned requests: %+v", e)
	}
	// The same click, signed, is accepted.
	if status, _ := b.send(t, click); status != http.StatusOK {
		t.Fatalf("signed click: %d", status)
	}
	waitFor(t, "the answer", func() bool { return b.request(t, id).Resolved() })
}

type deployed struct {
	Deployed bool   `json:"deployed"`
	By       string `json:"by"`
}

func TestClickAnswersRunAndUpdatesMessageOnce(t *testing.T) {
	t.Parallel()
	b := setupHandler(t, func(reg *hitl.Registry) {
		hitl.Register(reg, "deploy", func(ctx context.Context, in struct{}) (deployed, error) {
			a, err := hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{Title: "Deploy billing 1.4?",
				Message: "All checks passed. **12 files** changed.", Context: map[string]any{"service": "billing", "risk": "low"},
				Input:     input.Spec{Type: input.Approval, Labels: input.Labels{Approve: "Ship it", Reject: "Hold"}},
				Assignees: []string{"slack:#ops"}})
			if err != nil {
				return deployed{}, err
			}
			return deployed{Deployed: a.Approved}, nil
		})
	})
	ctx := context.Background()
	run, err := b.st.StartRun(ctx, "deploy", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var m slackfake.Message
	waitFor(t, "the question in #ops", func() bool {
		ms := b.fake.Messages()
		if len(ms) == 0 {
			return false
		}
		m = ms[0]
		return true
	})
	if m.Channel != b.fake.ChannelID("ops") {
		t.Fatalf("posted in %s", m.Channel)
	}
	if got := slackfake.Buttons(m.Blocks); strings.Join(got, ",") != "Ship it,Hold" {
		t.Fatalf("buttons %q", got)
	}
	text := slackfake.BlockText(m.Blocks)
	for _, want := range []string{"Deploy billing 1.4?", "*12 files* changed", "*risk*\nlow", "*service*\nbilling"} {
		if !strings.Contains(text, want) {
			t.Errorf("message lacks %q:\n%s", want, text)
		}
	}
	id := requestID(t, m)

	if status, body := b.send(t, b.click(t, m, alice, "Ship it")); status != http.StatusOK {
		t.Fatalf("click: %d %s", status, body)
	}
	waitFor(t, "the run to complete", func() bool {
		r, _, err := b.st.Run(ctx, run.ID)
		return err == nil && r.Status == events.RunCompleted
	})
	r, _, _ := b.st.Run(ctx, run.ID)
	if string(r.Result) != `{"deployed":true,"by":""}` {
		t.Fatalf("run result %s", r.Result)
	}
	req := b.request(t, id)
	if req.Status != events.StatusAnswered || req.Response.Responder != "slack:@U0ALICE" || req.Response.InputHash == "" {
		t.Fatalf("request %s, response %+v", req.Status, req.Response)
	}
	if n := counter(t, b.metrics, "hitl_requests_resolved_total"); n != 1 {
		t.Fatalf("hitl_requests_resolved_total = %v, want 1", n)
	}

	// The message now shows the outcome, once, without buttons.
	waitFor(t, "the message update", func() bool { got, _ := b.fake.Message(m.Channel, m.TS); return got.Updates > 0 })
	time.Sleep(300 * time.Millisecond) // room for a wrong second update
	got, _ := b.fake.Message(m.Channel, m.TS)
	if got.Updates != 1 || len(b.fake.Calls("chat.update")) != 1 {
		t.Fatalf("message updated %d times (%d chat.update calls)", got.Updates, len(b.fake.Calls("chat.update")))
	}
	if btns := slackfake.Buttons(got.Blocks); len(btns) > 0 {
		t.Fatalf("buttons left after resolution: %q", btns)
	}
	if text := slackfake.BlockText(got.Blocks); !strings.Contains(text, "*Approved* by <@U0ALICE>") || !strings.Contains(text, "<!date^") {
		t.Fatalf("updated message:\n%s", text)
	}
	if e := b.fake.Ephemerals(); len(e) > 0 {
		t.Fatalf("unexpected replies: %+v", e)
	}
}

// counter sums a counter family's values.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.Metric {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func TestUnlistedUserIsRefusedPolitely(t *testing.T) {
	t.Parallel()
	b := setupHandler(t, nil)
	// Sent to #ops, but only the leads may decide.
	m := b.ask(t, &events.Request{Input: input.Spec{Type: input.Approval}, Approvers: []string{"group:leads"}})
	id := requestID(t, m)
	if status, _ := b.send(t, b.click(t, m, mallory, "Approve")); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	replies := b.ephemerals(mallory.ID)
	if len(replies) != 1 || !strings.Contains(replies[0].Text, "for other people to answer") ||
		replies[0].ResponseType != "ephemeral" || replies[0].ReplaceOriginal {
		t.Fatalf("replies to mallory: %+v", replies)
	}
	if r := b.request(t, id); r.Resolved() {
		t.Fatalf("mallory's click resolved the request: %+v", r.Response)
	}
	// A lead may.
	boss := slackfake.User{ID: "U0BOSS", Name: "boss"}
	if status, _ := b.send(t, b.click(t, m, boss, "Reject")); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	waitFor(t, "the boss's answer", func() bool { return b.request(t, id).Resolved() })
	if r := b.request(t, id); string(r.Response.Data) != `{"approved":false}` || r.Response.Responder != "slack:@U0BOSS" {
		t.Fatalf("response %+v", r.Response)
	}
}

func TestClickAfterResolutionSaysWhoDecided(t *testing.T) {
	t.Parallel()
	b := setupHandler(t, nil)
	m := b.ask(t, &events.Request{Input: input.Spec{Type: input.Select,
		Options: []input.Option{{ID: "original", Label: "Original payment"}, {ID: "store_credit", Label: "Store credit"}}}})
	id := requestID(t, m)
	// Both see the buttons; bob clicks first, alice a moment later on the same message.
	bobs, alices := b.click(t, m, bob, "Store credit"), b.click(t, m, alice, "Original payment")
	if status, _ := b.send(t, bobs); status != http.StatusOK {
		t.Fatal(status)
	}
	if status, _ := b.send(t, alices); status != http.StatusOK {
		t.Fatal(status)
	}
	r := b.request(t, id)
	if string(r.Response.Data) != `"store_credit"` || r.Response.Responder != "slack:@U0BOB" {
		t.Fatalf("response %+v", r.Response)
	}
	replies := b.ephemerals(alice.ID)
	if len(replies) != 1 || !strings.Contains(replies[0].Text, "Already decided by <@U0BOB>") {
		t.Fatalf("replies to alice: %+v", replies)
	}
	if len(b.ephemerals(bob.ID)) != 0 {
		t.Fatalf("bob got replies: %+v", b.ephemerals(bob.ID))
	}
}

// submit sends a view_submission and decodes the answer: nil errors mean the modal closed.
func (b *handlerBundle) submit(t *testing.T, viewID string, u slackfake.User, values map[string][]string) map[string]string {
	t.Helper()
	i, err := b.fake.Submit(viewID, u, values)
	if err != nil {
		t.Fatal(err)
	}
	status, body := b.send(t, i)
	if status != http.StatusOK {
		t.Fatalf("submission: %d %s", status, body)
	}
	if strings.TrimSpace(body) == "" {
		return nil
	}
	var res struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil || res.ResponseAction != "errors" {
		t.Fatalf("submission answer %s", body)
	}
	return res.Errors
}

// openModal clicks label and returns the modal that opened.
func (b *handlerBundle) openModal(t *testing.T, m slackfake.Message, u slackfake.User, label string) slackfake.View {
	t.Helper()
	before := len(b.fake.Views())
	if status, _ := b.send(t, b.click(t, m, u, label)); status != http.StatusOK {
		t.Fatal(status)
	}
	views := b.fake.Views()
	if len(views) != before+1 {
		t.Fatalf("no modal opened; replies: %+v; views.open calls: %+v", b.fake.Ephemerals(), b.fake.Calls("views.open"))
	}
	return views[len(views)-1]
}

func TestModalShowsFieldErrorsThenResolves(t *testing.T) {
	t.Parallel()
	b := setupHandler(t, nil)
	minLen := 3
	m := b.ask(t, &events.Request{Title: "Ticket for the incident?",
		Input: input.Spec{Type: input.Text, MinLength: &minLen, Pattern: `^[A-Z]{2,4}-[0-9]+$`}})
	id := requestID(t, m)
	if got := slackfake.Buttons(m.Blocks); strings.Join(got, ",") != "Answer…" {
		t.Fatalf("buttons %q", got)
	}
	v := b.openModal(t, m, alice, "Answer…")
	if v.User != alice.ID {
		t.Fatalf("modal opened for %s", v.User)
	}
	errs := b.submit(t, v.ID, alice, map[string][]string{"hitl.answer": {"ops 12"}})
	if len(errs) != 1 || !strings.Contains(errs["hitl.answer"], "match") {
		t.Fatalf("field errors %v", errs)
	}
	if b.request(t, id).Resolved() {
		t.Fatal("an invalid answer resolved the request")
	}
	if errs := b.submit(t, v.ID, alice, map[string][]string{"hitl.answer": {"OPS-1234"}}); errs != nil {
		t.Fatalf("valid answer refused: %v", errs)
	}
	r := b.request(t, id)
	if r.Status != events.StatusAnswered || string(r.Response.Data) != `"OPS-1234"` || r.Response.Responder != "slack:@U0ALICE" {
		t.Fatalf("request %s %+v", r.Status, r.Response)
	}
	// Submitting again (a second open modal) says who decided.
	if errs := b.submit(t, v.ID, bob, map[string][]string{"hitl.answer": {"OPS-9"}}); !strings.Contains(errs["hitl.answer"], "Already decided by <@U0ALICE>") {
		t.Fatalf("late submission: %v", errs)
	}
	waitFor(t, "the message update", func() bool { got, _ := b.fake.Message(m.Channel, m.TS); return got.Updates == 1 })
	got, _ := b.fake.Message(m.Channel, m.TS)
	if text := slackfake.BlockText(got.Blocks); !strings.Contains(text, "> OPS-1234") || len(slackfake.Buttons(got.Blocks)) > 0 {
		t.Fatalf("updated message:\n%s", text)
	}
}

func TestRejectNeedsAComment(t *testing.T) {
	t.Parallel()
	b := setupHandler(t, nil)
	m := b.ask(t, &events.Request{Input: input.Spec{Type: input.Approval, RequireCommentOnReject: true}})
	id := requestID(t, m)
	v := b.openModal(t, m, alice, "Reject…")
	var view struct {
		Blocks []struct {
			BlockID string `json:"block_id"`
			Element struct {
				InitialOption struct {
					Value string `json:"value"`
				} `json:"initial_option"`
			} `json:"element"`
		} `json:"blocks"`
	}
	_ = json.Unmarshal(v.View, &view)
	if len(view.Blocks) < 2 || view.Blocks[1].BlockID != "hitl.answer" || view.Blocks[1].Element.InitialOption.Value != "reject" {
		t.Fatalf("reject is not picked: %s", v.View)
	}
	errs := b.submit(t, v.ID, alice, map[string][]string{"hitl.answer": {"reject"}})
	if !strings.Contains(errs["hitl.comment"], "say why") || len(errs) != 1 {
		t.Fatalf("errors %v", errs)
	}
	if errs := b.submit(t, v.ID, alice, map[string][]string{"hitl.answer": {"reject"}, "hitl.comment": {"the migration is not reversible"}}); errs != nil {
		t.Fatal(errs)
	}
	r := b.request(t, id)
	if string(r.Response.Data) != `{"approved":false,"comment":"the migration is not reversible"}` {
		t.Fatalf("answer %s", r.Response.Data)
	}
}

func TestFormModal(t *testing.T) {
	t.Parallel()
	b := setupHandler(t, nil)
	m := b.ask(t, &events.Request{Input: input.Spec{Type: input.Form, Fields: []input.Field{
		{ID: "budget", Type: input.FieldNumber, Name: "Approved budget (USD)"},
		{ID: "notes", Type: input.FieldString, Name: "Notes"},
		{ID: "approved", Type: input.FieldBoolean, Name: "Approve", Required: true},
		{ID: "tier", Type: input.FieldSelect, Name: "Tier", Options: []input.Option{{ID: "gold", Label: "Gold"}, {ID: "silver", Label: "Silver"}}},
	}}})
	id := requestID(t, m)
	v := b.openModal(t, m, alice, "Answer…")
	// "12abc" is not a number: caught before validation, on its own field.
	errs := b.submit(t, v.ID, alice, map[string][]string{"hitl.field.0": {"12abc"}, "hitl.field.2": {"Yes"}})
	if len(errs) != 1 || errs["hitl.field.0"] == "" {
		t.Fatalf("errors %v", errs)
	}
	if errs := b.submit(t, v.ID, alice, map[string][]string{"hitl.field.0": {"1500"}, "hitl.field.2": {"Yes"}, "hitl.field.3": {"Gold"}}); errs != nil {
		t.Fatal(errs)
	}
	if r := b.request(t, id); string(r.Response.Data) != `{"approved":true,"budget":1500,"tier":"gold"}` {
		t.Fatalf("answer %s", r.Response.Data)
	}
}

func TestMultiselectModalErrors(t *testing.T) {
	t.Parallel()
	b := setupHandler(t, nil)
	one, two := 1, 2
	m := b.ask(t, &events.Request{Input: input.Spec{Type: input.MultiSelect, MinPicks: &one, MaxPicks: &two,
		Options: []input.Option{{ID: "email", Label: "Email"}, {ID: "sms", Label: "SMS"}, {ID: "push", Label: "Push"}}}})
	id := requestID(t, m)
	v := b.openModal(t, m, alice, "Answer…")
	errs := b.submit(t, v.ID, alice, map[string][]string{"hitl.answer": {"Email", "SMS", "Push"}})
	if len(errs) != 1 || errs["hitl.answer"] == "" {
		t.Fatalf("errors %v", errs)
	}
	if errs := b.submit(t, v.ID, alice, map[string][]string{"hitl.answer": {"Email", "SMS"}}); errs != nil {
		t.Fatal(errs)
	}
	if r := b.request(t, id); string(r.Response.Data) != `["email","sms"]` {
		t.Fatalf("answer %s", r.Response.Data)
	}
}

func TestTimeoutUpdatesTheMessage(t *testing.T) {
	t.Parallel()
	b := setupHandler(t, nil)
	m := b.ask(t, &events.Request{Input: input.Spec{Type: input.Approval}, Timeout: events.Duration(time.Second)})
	id := requestID(t, m)
	late := b.click(t, m, alice, "Approve") // made on the message as it was, sent after the timeout
	waitFor(t, "the timeout", func() bool { return b.request(t, id).Status == events.StatusTimedOut })
	waitFor(t, "the message update", func() bool { got, _ := b.fake.Message(m.Channel, m.TS); return got.Updates == 1 })
	got, _ := b.fake.Message(m.Channel, m.TS)
	if text := slackfake.BlockText(got.Blocks); !strings.Contains(text, "*Timed out*") || len(slackfake.Buttons(got.Blocks)) > 0 {
		t.Fatalf("after timeout:\n%s", text)
	}
	if status, _ := b.send(t, late); status != http.StatusOK {
		t.Fatal(status)
	}
	if replies := b.ephemerals(alice.ID); len(replies) != 1 || !strings.Contains(replies[0].Text, "timed out") {
		t.Fatalf("replies %+v", replies)
	}
}

func TestSkipButton(t *testing.T) {
	t.Parallel()
	b := setupHandler(t, nil)
	m := b.ask(t, &events.Request{Input: input.Spec{Type: input.Boolean, Skippable: true}})
	id := requestID(t, m)
	if got := strings.Join(slackfake.Buttons(m.Blocks), ","); got != "Yes,No,Skip" {
		t.Fatalf("buttons %s", got)
	}
	if status, _ := b.send(t, b.click(t, m, alice, "Skip")); status != http.StatusOK {
		t.Fatal(status)
	}
	if r := b.request(t, id); !r.Resolved() || string(r.Response.Data) != "null" {
		t.Fatalf("%s %+v", r.Status, r.Response)
	}
}
