package telegram_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/engine"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/internal/telegramfake"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/surface/telegram"
)

const (
	botToken    = "123456789:AAH-handler_test_token_0123456789ab"
	secretToken = "webhook-secret_0123456789abcdef"
	linkSecret  = "0123456789abcdef0123"
	publicURL   = "https://hitl.example.com"
)

var (
	alice   = telegramfake.User{ID: 111, FirstName: "Alice", Username: "alice"}
	bob     = telegramfake.User{ID: 222, FirstName: "Bob", Username: "bob"}
	mallory = telegramfake.User{ID: 333, FirstName: "Mallory"}
	boss    = telegramfake.User{ID: 999, FirstName: "Boss"}
	opsChat = telegramfake.Chat{ID: -1001234567890, Type: "supergroup", Title: "Ops", Username: "hitl_ops"}
)

// bundle is hitl with Telegram on a real JetStream: orchestrator, notifier (the Telegram
// channel against the fake) and the webhook handler.
type bundle struct {
	st      *store.Store
	fake    *telegramfake.Server
	url     string // the webhook
	metrics *prometheus.Registry
	logs    *syncBuffer
}

func setup(t *testing.T, register func(reg *hitl.Registry)) *bundle {
	t.Helper()
	env := natstest.Single(t)
	_, js := env.Connect(t)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(tWriter{t}, logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	fake := telegramfake.New(t, botToken)
	fake.AddChat(opsChat)
	for _, u := range []telegramfake.User{alice, bob, mallory, boss} {
		fake.AddUser(u)
	}
	cfg := telegram.Config{BotToken: botToken, SecretToken: secretToken, APIURL: fake.URL, Store: st, Logger: log}
	ch, err := telegram.NewChannel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	routes, err := routing.New([]string{"telegram"}, map[string][]string{"leads": {"telegram:999"}},
		map[string]func(string) error{"telegram": telegram.CheckTarget})
	if err != nil {
		t.Fatal(err)
	}
	preg := prometheus.NewRegistry()
	cfg.Metrics = metrics.New(preg)
	cfg.Routes = func() *routing.Routes { return routes }
	h, err := telegram.NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+telegram.Path, h)
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
		LinkSecret: []byte(linkSecret), PublicURL: publicURL, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = o.Run(ctx); done <- struct{}{} }()
	go func() { _ = n.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		if s := logs.String(); strings.Contains(s, botToken) || strings.Contains(s, secretToken) {
			t.Errorf("a token was logged:\n%s", s)
		}
	})
	return &bundle{st: st, fake: fake, url: srv.URL + telegram.Path, metrics: preg, logs: logs}
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
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

// ask creates a standalone request (to the ops group unless it names assignees) and waits
// for its message.
func (b *bundle) ask(t *testing.T, r *events.Request) telegramfake.Message {
	t.Helper()
	r.ID = uuid.NewString()
	if r.Title == "" {
		r.Title = "Deploy billing 1.4?"
	}
	if len(r.Assignees) == 0 {
		r.Assignees = []string{"telegram:-1001234567890"}
	}
	if err := b.st.CreateRequest(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return b.message(t, r.ID)
}

// message waits for the message that asks request id.
func (b *bundle) message(t *testing.T, id string) telegramfake.Message {
	t.Helper()
	var msg telegramfake.Message
	waitFor(t, "the Telegram message of "+id, func() bool {
		for _, m := range b.fake.Messages() {
			if strings.Contains(m.Text, id) {
				msg = m
				return true
			}
		}
		return false
	})
	return msg
}

// current is the message as it now stands.
func (b *bundle) current(t *testing.T, m telegramfake.Message) telegramfake.Message {
	t.Helper()
	got, ok := b.fake.Message(m.Chat.ID, m.MessageID)
	if !ok {
		t.Fatalf("message %d in %d is gone", m.MessageID, m.Chat.ID)
	}
	return got
}

func (b *bundle) click(t *testing.T, m telegramfake.Message, u telegramfake.User, label string) telegramfake.Update {
	t.Helper()
	up, err := b.fake.Click(m.Chat.ID, m.MessageID, u, label)
	if err != nil {
		t.Fatal(err)
	}
	return up
}

// send posts an update to the webhook with the right secret.
func (b *bundle) send(t *testing.T, u telegramfake.Update) int {
	t.Helper()
	return b.do(t, u.Request(context.Background(), b.url, secretToken))
}

func (b *bundle) do(t *testing.T, req *http.Request) int {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

// toast is the answer to u's callback query, "" when none was given.
func (b *bundle) toast(u telegramfake.Update) (telegramfake.Answer, bool) {
	for _, a := range b.fake.Answers() {
		if a.QueryID == u.CallbackQuery.ID {
			return a, true
		}
	}
	return telegramfake.Answer{}, false
}

func (b *bundle) mustToast(t *testing.T, u telegramfake.Update, want string) telegramfake.Answer {
	t.Helper()
	a, ok := b.toast(u)
	if !ok || !strings.Contains(a.Text, want) {
		t.Fatalf("toast %+v (answered: %v), want one containing %q; answerCallbackQuery calls: %+v", a, ok, want, b.fake.Calls("answerCallbackQuery"))
	}
	return a
}

func (b *bundle) request(t *testing.T, id string) *events.Request {
	t.Helper()
	r, _, err := b.st.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// requestID reads the request id out of a message's first callback button.
func requestID(t *testing.T, m telegramfake.Message) string {
	t.Helper()
	if m.ReplyMarkup != nil {
		for _, row := range m.ReplyMarkup.InlineKeyboard {
			for _, btn := range row {
				if id, _, err := telegram.ParseCallbackData(btn.CallbackData); err == nil {
					return id
				}
			}
		}
	}
	t.Fatalf("message has no hitl button: %+v", m.ReplyMarkup)
	return ""
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

// settle leaves room for a wrong second edit to arrive before counting.
func settle() { time.Sleep(300 * time.Millisecond) }

type deployed struct {
	Deployed bool `json:"deployed"`
}

func TestClickAnswersRunAndEditsMessageOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, func(reg *hitl.Registry) {
		hitl.Register(reg, "deploy", func(ctx context.Context, in struct{}) (deployed, error) {
			a, err := hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{Title: "Deploy billing 1.4?",
				Message:   "All checks passed. **12 files** changed, see [the diff](https://git.example.com/d?a=1&b=2).",
				Context:   map[string]any{"service": "billing", "risk": "<low>"},
				Input:     input.Spec{Type: input.Approval, Labels: input.Labels{Approve: "Ship it", Reject: "Hold"}},
				Assignees: []string{"telegram:-1001234567890"}})
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
	var m telegramfake.Message
	waitFor(t, "the question in the ops group", func() bool {
		ms := b.fake.Messages()
		if len(ms) == 0 {
			return false
		}
		m = ms[0]
		return true
	})
	if m.Chat.ID != opsChat.ID || m.ParseMode != "HTML" {
		t.Fatalf("sent to %d with parse mode %q", m.Chat.ID, m.ParseMode)
	}
	if got := strings.Join(m.Buttons(), ","); got != "Ship it,Hold" {
		t.Fatalf("buttons %q", got)
	}
	for _, want := range []string{"Deploy billing 1.4?", "12 files changed", "risk: <low>", "service: billing"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("message lacks %q:\n%s", want, m.Text)
		}
	}
	var bold, link bool
	for _, e := range m.Entities {
		bold = bold || (e.Type == "bold" && e.Length == len("12 files"))
		link = link || (e.Type == "text_link" && e.URL == "https://git.example.com/d?a=1&b=2")
	}
	if !bold || !link {
		t.Errorf("Markdown not shown as Telegram formatting: %+v in %q", m.Entities, m.Text)
	}
	id := requestID(t, m)

	click := b.click(t, m, alice, "Ship it")
	if status := b.send(t, click); status != http.StatusOK {
		t.Fatalf("click: %d", status)
	}
	b.mustToast(t, click, "Recorded: Approved")
	waitFor(t, "the run to complete", func() bool {
		r, _, err := b.st.Run(ctx, run.ID)
		return err == nil && r.Status == events.RunCompleted
	})
	r, _, _ := b.st.Run(ctx, run.ID)
	if string(r.Result) != `{"deployed":true}` {
		t.Fatalf("run result %s", r.Result)
	}
	req := b.request(t, id)
	if req.Status != events.StatusAnswered || req.Response.Responder != "telegram:111" || req.Response.InputHash == "" {
		t.Fatalf("request %s, response %+v", req.Status, req.Response)
	}
	if n := counter(t, b.metrics, "hitl_requests_resolved_total"); n != 1 {
		t.Fatalf("hitl_requests_resolved_total = %v, want 1", n)
	}

	// The message now shows the outcome, once, without buttons.
	waitFor(t, "the message edit", func() bool { return b.current(t, m).Edits > 0 })
	settle()
	got := b.current(t, m)
	if got.Edits != 1 || len(b.fake.Calls("editMessageText")) != 1 {
		t.Fatalf("message edited %d times (%d editMessageText calls)", got.Edits, len(b.fake.Calls("editMessageText")))
	}
	if len(got.Buttons()) > 0 {
		t.Fatalf("buttons left after resolution: %q", got.Buttons())
	}
	for _, want := range []string{"Deploy billing 1.4?", "✅ Approved by telegram:111", "Answered 20", id} {
		if !strings.Contains(got.Text, want) {
			t.Errorf("edited message lacks %q:\n%s", want, got.Text)
		}
	}
}

func TestRefusesUnauthenticatedUpdates(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	m := b.ask(t, &events.Request{Input: input.Spec{Type: input.Approval}})
	id := requestID(t, m)
	click := b.click(t, m, alice, "Approve")
	body := click.Body()
	ctx := context.Background()
	for name, tc := range map[string]struct {
		req    *http.Request
		status int
	}{
		"no secret":              {telegramfake.WebhookRequest(ctx, b.url, "", body), http.StatusUnauthorized},
		"wrong secret":           {telegramfake.WebhookRequest(ctx, b.url, "webhook-secret_0123456789abcdeX", body), http.StatusUnauthorized},
		"secret of other length": {telegramfake.WebhookRequest(ctx, b.url, secretToken+"0", body), http.StatusUnauthorized},
		"secret's prefix":        {telegramfake.WebhookRequest(ctx, b.url, secretToken[:10], body), http.StatusUnauthorized},
		"invalid JSON":           {telegramfake.WebhookRequest(ctx, b.url, secretToken, []byte(`{"update_id": 1, "callback_query": {`)), http.StatusBadRequest},
		"not an update":          {telegramfake.WebhookRequest(ctx, b.url, secretToken, []byte(`["h:x"]`)), http.StatusBadRequest},
		"no update_id":           {telegramfake.WebhookRequest(ctx, b.url, secretToken, []byte(`{"callback_query": {"id": "1"}}`)), http.StatusBadRequest},
		"query without from": {telegramfake.WebhookRequest(ctx, b.url, secretToken,
			[]byte(`{"update_id": 5, "callback_query": {"id": "1", "data": "`+telegram.CallbackData(id, "a")+`"}}`)), http.StatusBadRequest},
		"too large": {telegramfake.WebhookRequest(ctx, b.url, secretToken,
			append(append([]byte(`{"update_id": 1, "x": "`), bytes.Repeat([]byte("x"), 2<<20)...), '"', '}')), http.StatusRequestEntityTooLarge},
	} {
		if status := b.do(t, tc.req); status != tc.status {
			t.Errorf("%s: status %d, want %d", name, status, tc.status)
		}
	}
	if r := b.request(t, id); r.Resolved() {
		t.Fatalf("request resolved by a refused update: %+v", r.Response)
	}
	if a := b.fake.Answers(); len(a) > 0 {
		t.Fatalf("clicks answered for refused updates: %+v", a)
	}
	// Updates hitl has nothing to do with are taken (200) and change nothing.
	if status := b.send(t, b.fake.TextMessage(telegramfake.Chat{ID: alice.ID, Type: "private"}, alice, "/start")); status != http.StatusOK {
		t.Fatalf("a text message: %d", status)
	}
	// The same click with the secret is taken.
	if status := b.send(t, click); status != http.StatusOK {
		t.Fatalf("click with the secret: %d", status)
	}
	if r := b.request(t, id); !r.Resolved() || r.Response.Responder != "telegram:111" {
		t.Fatalf("the click did not answer: %+v", r)
	}
}

func TestUnlistedUserIsRefusedPolitely(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	// Sent to the ops group, but only the leads may decide.
	m := b.ask(t, &events.Request{Input: input.Spec{Type: input.Approval}, Approvers: []string{"group:leads"}})
	id := requestID(t, m)
	mc := b.click(t, m, mallory, "Approve")
	if status := b.send(t, mc); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if a := b.mustToast(t, mc, "You are not an approver of this request"); !a.ShowAlert {
		t.Fatalf("the refusal is not an alert: %+v", a)
	}
	if r := b.request(t, id); r.Resolved() {
		t.Fatalf("mallory's click resolved the request: %+v", r.Response)
	}
	if logs := b.logs.String(); !strings.Contains(logs, "answer refused: not an approver") || !strings.Contains(logs, "surface=telegram") || !strings.Contains(logs, "telegram:333") {
		t.Fatalf("the refusal was not logged:\n%s", b.logs.String())
	}
	settle()
	if got := b.current(t, m); got.Edits != 0 || len(got.Buttons()) != 2 {
		t.Fatalf("a refused click changed the message: %+v", got)
	}
	// A lead may.
	bc := b.click(t, m, boss, "Reject")
	if status := b.send(t, bc); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	b.mustToast(t, bc, "Recorded: Rejected")
	if r := b.request(t, id); string(r.Response.Data) != `{"approved":false}` || r.Response.Responder != "telegram:999" {
		t.Fatalf("response %+v", r.Response)
	}
}

func TestPrivateChatAnswersAsThePerson(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	m := b.ask(t, &events.Request{Input: input.Spec{Type: input.Boolean}, Assignees: []string{"telegram:111"}})
	if m.Chat.ID != alice.ID || m.Chat.Type != "private" {
		t.Fatalf("sent to %+v", m.Chat)
	}
	id := requestID(t, m)
	// Bob cannot see Alice's chat; were he to send her click as his own, he is refused.
	forged := b.fake.CallbackUpdate(m, bob, telegram.CallbackData(id, telegram.ChoiceYes))
	if status := b.send(t, forged); status != http.StatusOK {
		t.Fatal(status)
	}
	b.mustToast(t, forged, "not an approver")
	ac := b.click(t, m, alice, "No")
	if status := b.send(t, ac); status != http.StatusOK {
		t.Fatal(status)
	}
	b.mustToast(t, ac, "Recorded: No")
	if r := b.request(t, id); string(r.Response.Data) != "false" || r.Response.Responder != "telegram:111" {
		t.Fatalf("response %+v", r.Response)
	}
	waitFor(t, "the message edit", func() bool { return b.current(t, m).Edits == 1 })
	if got := b.current(t, m); !strings.Contains(got.Text, "Answered by telegram:111") || !strings.Contains(got.Text, "\nNo") {
		t.Fatalf("edited:\n%s", got.Text)
	}
}

func TestClickAfterResolutionSaysWhoDecided(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	m := b.ask(t, &events.Request{Input: input.Spec{Type: input.Select,
		Options: []input.Option{{ID: "original", Label: "Original payment"}, {ID: "store_credit", Label: "Store credit"}}}})
	id := requestID(t, m)
	// Both see the buttons; bob clicks first, alice a moment later on the same message.
	bobs, alices := b.click(t, m, bob, "Store credit"), b.click(t, m, alice, "Original payment")
	if status := b.send(t, bobs); status != http.StatusOK {
		t.Fatal(status)
	}
	if status := b.send(t, alices); status != http.StatusOK {
		t.Fatal(status)
	}
	r := b.request(t, id)
	if string(r.Response.Data) != `"store_credit"` || r.Response.Responder != "telegram:222" {
		t.Fatalf("response %+v", r.Response)
	}
	b.mustToast(t, bobs, "Recorded: Store credit")
	b.mustToast(t, alices, "Already decided by telegram:222 (Store credit).")
	// Telegram sends bob's update again (its webhook call timed out, say): he is told it
	// counted, and nothing changes.
	again := b.fake.CallbackUpdate(m, bob, bobs.CallbackQuery.Data)
	if status := b.send(t, again); status != http.StatusOK {
		t.Fatal(status)
	}
	b.mustToast(t, again, "You already answered this request: Store credit.")
	waitFor(t, "the message edit", func() bool { return b.current(t, m).Edits == 1 })
	settle()
	if got := b.current(t, m); got.Edits != 1 || !strings.Contains(got.Text, "Answered by telegram:222\nStore credit") {
		t.Fatalf("edited %d times:\n%s", got.Edits, got.Text)
	}
}

func TestResolutionElsewhereEditsTheMessage(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	m := b.ask(t, &events.Request{Input: input.Spec{Type: input.Approval},
		Assignees: []string{"telegram:-1001234567890", "telegram:111"}})
	id := requestID(t, m)
	var private telegramfake.Message
	waitFor(t, "the message to alice", func() bool {
		for _, x := range b.fake.Messages() {
			if x.Chat.ID == alice.ID && strings.Contains(x.Text, id) {
				private = x
				return true
			}
		}
		return false
	})
	stale := b.click(t, private, alice, "Approve") // made before, sent after the answer below
	// Answered through the store, as the REST API and every other surface do.
	if _, err := b.st.Respond(context.Background(), events.Response{RequestID: id, Outcome: events.StatusAnswered,
		Data: json.RawMessage(`{"approved":false,"comment":"not during the freeze"}`), Responder: "email:cfo@example.com"}); err != nil {
		t.Fatal(err)
	}
	for _, msg := range []telegramfake.Message{m, private} {
		waitFor(t, "the edit of each message", func() bool { return b.current(t, msg).Edits == 1 })
		got := b.current(t, msg)
		if len(got.Buttons()) > 0 || !strings.Contains(got.Text, "❌ Rejected by email:cfo@example.com") ||
			!strings.Contains(got.Text, "not during the freeze") {
			t.Fatalf("edited message in %d:\n%s\nbuttons %q", msg.Chat.ID, got.Text, got.Buttons())
		}
	}
	if status := b.send(t, stale); status != http.StatusOK {
		t.Fatal(status)
	}
	b.mustToast(t, stale, "Already decided by email:cfo@example.com (Rejected).")
	if r := b.request(t, id); r.Response.Responder != "email:cfo@example.com" {
		t.Fatalf("the stale click changed the answer: %+v", r.Response)
	}
}

func TestTimeoutEditsTheMessage(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	m := b.ask(t, &events.Request{Input: input.Spec{Type: input.Approval}, Timeout: events.Duration(time.Second)})
	id := requestID(t, m)
	if !strings.Contains(m.Text, "Due 20") {
		t.Fatalf("no due time:\n%s", m.Text)
	}
	late := b.click(t, m, alice, "Approve")
	waitFor(t, "the timeout", func() bool { return b.request(t, id).Status == events.StatusTimedOut })
	waitFor(t, "the message edit", func() bool { return b.current(t, m).Edits == 1 })
	if got := b.current(t, m); !strings.Contains(got.Text, "⌛ Timed out") || len(got.Buttons()) > 0 {
		t.Fatalf("after the timeout:\n%s", got.Text)
	}
	if status := b.send(t, late); status != http.StatusOK {
		t.Fatal(status)
	}
	b.mustToast(t, late, "Already decided: this request timed out.")
}

func TestSelectAndBooleanButtons(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var opts []input.Option
	for _, c := range []string{"red", "orange", "yellow", "green", "blue", "indigo", "violet"} {
		opts = append(opts, input.Option{ID: c, Label: strings.ToUpper(c[:1]) + c[1:]})
	}
	m := b.ask(t, &events.Request{Title: "Which colour?", Input: input.Spec{Type: input.Select, Options: opts, Skippable: true}})
	var rows []string
	for _, row := range m.ReplyMarkup.InlineKeyboard {
		var texts []string
		for _, btn := range row {
			texts = append(texts, btn.Text)
		}
		rows = append(rows, strings.Join(texts, ","))
	}
	if got := strings.Join(rows, " | "); got != "Red,Orange,Yellow | Green,Blue,Indigo | Violet | Skip" {
		t.Fatalf("keyboard rows %q", got)
	}
	for _, row := range m.ReplyMarkup.InlineKeyboard {
		for _, btn := range row {
			if len(btn.CallbackData) > telegram.MaxCallbackData {
				t.Fatalf("callback data of %q is %d bytes", btn.Text, len(btn.CallbackData))
			}
		}
	}
	id := requestID(t, m)
	c := b.click(t, m, alice, "Indigo")
	if status := b.send(t, c); status != http.StatusOK {
		t.Fatal(status)
	}
	b.mustToast(t, c, "Recorded: Indigo")
	if r := b.request(t, id); string(r.Response.Data) != `"indigo"` {
		t.Fatalf("answer %s", r.Response.Data)
	}

	yn := b.ask(t, &events.Request{Title: "Rotate the keys?", Input: input.Spec{Type: input.Boolean}})
	if got := strings.Join(yn.Buttons(), ","); got != "Yes,No" {
		t.Fatalf("boolean buttons %q", got)
	}
	c = b.click(t, yn, bob, "Yes")
	if status := b.send(t, c); status != http.StatusOK {
		t.Fatal(status)
	}
	b.mustToast(t, c, "Recorded: Yes")
	if r := b.request(t, requestID(t, yn)); string(r.Response.Data) != "true" || r.Response.Responder != "telegram:222" {
		t.Fatalf("response %+v", r.Response)
	}

	skip := b.ask(t, &events.Request{Title: "Anything to add?", Input: input.Spec{Type: input.Select, Options: opts[:2], Skippable: true}})
	c = b.click(t, skip, alice, "Skip")
	if status := b.send(t, c); status != http.StatusOK {
		t.Fatal(status)
	}
	b.mustToast(t, c, "Recorded: Skipped")
	if r := b.request(t, requestID(t, skip)); !r.Resolved() || string(r.Response.Data) != "null" {
		t.Fatalf("%s %+v", r.Status, r.Response)
	}
}

func TestButtonsThatDoNotFitChangeNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	m := b.ask(t, &events.Request{Input: input.Spec{Type: input.Approval}})
	id := requestID(t, m)
	other := uuid.NewString()
	for name, tc := range map[string]struct {
		data, want string
	}{
		"garbage":             {"hello", "not one of hitl's"},
		"empty":               {"", "not one of hitl's"},
		"a short id":          {"h:" + id[:35] + ":a", "not one of hitl's"},
		"a choice of nothing": {"h:" + id + ":z", "not one of hitl's"},
		"trailing bytes":      {telegram.CallbackData(id, "a") + "x", "not one of hitl's"},
		"a boolean's choice":  {telegram.CallbackData(id, telegram.ChoiceYes), "does not answer this request"},
		"an option":           {telegram.CallbackData(id, telegram.OptionChoice(0)), "does not answer this request"},
		"skip, not skippable": {telegram.CallbackData(id, telegram.ChoiceSkip), "does not answer this request"},
		"an unknown request":  {telegram.CallbackData(other, telegram.ChoiceApprove), "no longer exists"},
	} {
		u := b.fake.CallbackUpdate(m, alice, tc.data)
		if status := b.send(t, u); status != http.StatusOK {
			t.Errorf("%s: status %d", name, status)
			continue
		}
		if a, ok := b.toast(u); !ok || !strings.Contains(a.Text, tc.want) {
			t.Errorf("%s: toast %+v, want %q", name, a, tc.want)
		}
	}
	if r := b.request(t, id); r.Resolved() {
		t.Fatalf("resolved by a button that does not fit: %+v", r.Response)
	}
}

func TestAnswersThatNeedTheFormLinkToIt(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for name, tc := range map[string]struct {
		spec    input.Spec
		buttons string
	}{
		"text":                    {input.Spec{Type: input.Text}, "Answer…"},
		"number":                  {input.Spec{Type: input.Number}, "Answer…"},
		"multiselect":             {input.Spec{Type: input.MultiSelect, Options: []input.Option{{ID: "a"}, {ID: "b"}}}, "Answer…"},
		"reject needs a comment":  {input.Spec{Type: input.Approval, RequireCommentOnReject: true}, "Approve,Reject…"},
		"edit then approve":       {input.Spec{Type: input.Approval, Proposed: json.RawMessage(`{"amount":120}`)}, "Approve,Reject,Edit…"},
		"select with own answers": {input.Spec{Type: input.Select, AllowCustom: true, Options: []input.Option{{ID: "a", Label: "A"}}}, "A,Other…"},
	} {
		m := b.ask(t, &events.Request{Title: "Question: " + name, Input: tc.spec})
		if got := strings.Join(m.Buttons(), ","); got != tc.buttons {
			t.Errorf("%s: buttons %q, want %q", name, got, tc.buttons)
			continue
		}
		last := m.Buttons()[len(m.Buttons())-1]
		if name == "reject needs a comment" {
			last = "Reject…"
		}
		btn, _ := m.Button(last)
		u, err := url.Parse(btn.URL)
		if err != nil || !strings.HasPrefix(btn.URL, publicURL+"/inbox/requests/") {
			t.Errorf("%s: %q links to %q", name, last, btn.URL)
			continue
		}
		// The link opens the form as the recipient the message went to.
		c, err := linktoken.Verify([]byte(linkSecret), u.Query().Get("token"), time.Now())
		if err != nil || c.Subject != "telegram:-1001234567890" || u.Path != "/inbox/requests/"+c.RequestID || c.Option != "" {
			t.Errorf("%s: link %s: claims %+v, %v", name, btn.URL, c, err)
		}
		if name == "edit then approve" && !strings.Contains(m.Text, `"amount": 120`) {
			t.Errorf("the proposed action is not shown:\n%s", m.Text)
		}
	}
}

// TestDeliveryRetriesAndDeadLetters runs the channel's error classes through the real
// notifier: flood control is waited out and the message arrives; a chat Telegram does not
// know is a dead letter after one try, with the reason.
func TestDeliveryRetriesAndDeadLetters(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.fake.Fail("sendMessage", telegramfake.Failure{Code: http.StatusTooManyRequests, RetryAfter: 1, Times: 1})
	m := b.ask(t, &events.Request{Input: input.Spec{Type: input.Approval}})
	id := requestID(t, m)
	calls := b.fake.Calls("sendMessage")
	if len(calls) != 2 || calls[0].Status != http.StatusTooManyRequests || !calls[1].OK() {
		t.Fatalf("sendMessage calls %+v", calls)
	}
	waitFor(t, "the delivery record", func() bool {
		status, _, _ := notify.DeliveryStatus(context.Background(), b.st, id, "telegram:-1001234567890", "notify")
		return status == "delivered"
	})

	r := &events.Request{ID: uuid.NewString(), Title: "Nobody there", Input: input.Spec{Type: input.Boolean},
		Assignees: []string{"telegram:555"}}
	if err := b.st.CreateRequest(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	var reason string
	waitFor(t, "the dead letter", func() bool {
		var status string
		status, reason, _ = notify.DeliveryStatus(context.Background(), b.st, r.ID, "telegram:555", "notify")
		return status == "dead_letter"
	})
	if !strings.Contains(reason, "400 Bad Request: chat not found") || !strings.Contains(reason, "started the bot") {
		t.Fatalf("reason %q", reason)
	}
	settle()
	n := 0
	for _, c := range b.fake.Calls("sendMessage") {
		if c.Params["chat_id"] == "555" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d tries to send to an unknown chat, want 1", n)
	}
}
