package email_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/surface/email"
	"github.com/hitl-dev/hitl/surface/email/emailtest"
)

const linksSecret = "emaillinks-test-link-secret"

// fixture is a real JetStream, the notifier with the email channel sending to a real SMTP
// server in-process, and the link handler behind the public URL.
type fixture struct {
	st   *store.Store
	smtp *emailtest.Server
	web  *httptest.Server
	logs *syncBuffer
}

func setupLinks(t *testing.T) *fixture {
	t.Helper()
	env := natstest.Single(t)
	_, js := env.Connect(t)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, smtp: emailtest.Start(t, emailtest.Options{}), logs: &syncBuffer{t: t}}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	routes, err := routing.New([]string{"email"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	links, err := email.NewLinks(email.LinksConfig{Store: st, LinkSecret: []byte(linksSecret),
		Routes: func() *routing.Routes { return routes }, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for pattern, h := range links.Routes() {
		mux.Handle(pattern, h)
	}
	f.web = httptest.NewServer(mux)
	t.Cleanup(f.web.Close)
	ch, err := email.New(email.Config{SMTPURL: f.smtp.URL(), From: "hitl <hitl@example.com>", PublicURL: f.web.URL, LinkSecret: []byte(linksSecret)})
	if err != nil {
		t.Fatal(err)
	}
	n, err := notify.New(notify.Config{Store: st, Channels: []notify.Channel{ch}, Routes: routes,
		LinkSecret: []byte(linksSecret), PublicURL: f.web.URL, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// ask creates a request and returns the email each assignee received.
func (f *fixture) ask(t *testing.T, r *events.Request) map[string]*emailtest.Message {
	t.Helper()
	r.ID = uuid.NewString()
	if err := f.st.CreateRequest(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	f.smtp.Wait(t, "the request's emails", func() bool { return f.smtp.Count(r.ID, "request") == len(r.Assignees) })
	out := map[string]*emailtest.Message{}
	for _, m := range f.smtp.Find(r.ID, "request") {
		out[m.To] = m
	}
	return out
}

func (f *fixture) request(t *testing.T, id string) *events.Request {
	t.Helper()
	r, _, err := f.st.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type page struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, link string) page {
	t.Helper()
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}

// submit posts the confirmation form the way a browser does: to the page's own URL, with
// the form's hidden token and the comment.
func submit(t *testing.T, link, token, comment string) page {
	t.Helper()
	resp, err := http.PostForm(link, url.Values{"token": {token}, "comment": {comment}})
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}

func read(t *testing.T, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

var (
	hiddenToken  = regexp.MustCompile(`name="token" value="([^"]*)"`)
	eventHandler = regexp.MustCompile(`(?i)\son[a-z]+=`)
)

// formToken is the hidden token of a confirmation page.
func (p page) formToken(t *testing.T) string {
	t.Helper()
	m := hiddenToken.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no form on the page:\n%s", p.body)
	}
	return html.UnescapeString(m[1])
}

func (p page) want(t *testing.T, status int, texts ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d:\n%s", p.status, status, p.body)
	}
	for _, s := range texts {
		if !strings.Contains(p.body, s) {
			t.Errorf("the page lacks %q:\n%s", s, p.body)
		}
	}
	if strings.Contains(strings.ToLower(p.body), "<script") || eventHandler.MatchString(p.body) {
		t.Error("the page has script")
	}
	if !strings.Contains(p.body, `<html lang="en">`) || p.header.Get("Referrer-Policy") != "no-referrer" ||
		!strings.Contains(p.header.Get("Content-Security-Policy"), "default-src 'none'") || p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("page misses lang, Referrer-Policy, CSP or Cache-Control: %v", p.header)
	}
}

func tamper(link string) string {
	u, _ := url.Parse(link)
	payload, sig, _ := strings.Cut(u.Query().Get("token"), ".")
	// Flip one character of the payload: the signature no longer matches.
	b := []byte(payload)
	b[len(b)/2] ^= 1
	q := u.Query()
	q.Set("token", string(b)+"."+sig)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestEmailApprovalLinkFlow(t *testing.T) {
	t.Parallel()
	f := setupLinks(t)
	ctx := context.Background()
	r := &events.Request{Title: "Refund order A-1001?", Message: "Arrived damaged.",
		Context: map[string]any{"amount": "120.00 EUR"}, Input: input.Spec{Type: input.Approval, RequireCommentOnReject: true},
		Assignees: []string{"email:alice@example.com", "email:bob@example.com"}, Approvers: []string{"email:alice@example.com"}}
	mails := f.ask(t, r)
	alice, bob := mails["alice@example.com"], mails["bob@example.com"]

	// The message as a mail client reads it: multipart/alternative, text then HTML.
	msg, err := mail.ReadMessage(bytes.NewReader(alice.Raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	var types []string
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for p, err := mr.NextPart(); err == nil; p, err = mr.NextPart() {
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, ct)
	}
	if strings.Join(types, ",") != "text/plain,text/html" {
		t.Fatalf("parts %v", types)
	}
	approve, reject := alice.Link("Approve"), alice.Link("Reject")
	if approve == "" || reject == "" || approve == reject {
		t.Fatalf("links: %v", alice.Links())
	}

	// GET only shows the confirmation: nothing is decided (mail scanners open links).
	for range 2 {
		get(t, approve).want(t, http.StatusOK, "Confirm your answer", "Refund order A-1001?", "120.00 EUR",
			"<strong>Approve</strong>", "as alice@example.com", `<label for="comment">Comment (optional)</label>`, "Nothing has been decided yet")
	}
	if got := f.request(t, r.ID); got.Status != events.StatusPending {
		t.Fatalf("a GET decided: %s", got.Status)
	}

	// A link sent to someone who is not an approver: a polite refusal, logged, nothing decided.
	bobApprove := bob.Link("Approve")
	p := get(t, bobApprove)
	p.want(t, http.StatusForbidden, "This request is for others to answer", "Your attempt was logged")
	submit(t, bobApprove, p.formTokenOr(bobApprove), "").want(t, http.StatusForbidden, "Your attempt was logged")
	if !strings.Contains(f.logs.String(), "email answer refused: not an approver") || !strings.Contains(f.logs.String(), "identity=email:bob@example.com") {
		t.Errorf("the refusal was not logged:\n%s", f.logs.String())
	}
	if strings.Contains(f.logs.String(), "token=") {
		t.Error("a token reached the logs")
	}

	// Tampered and expired tokens: clear 4xx pages, nothing decided.
	get(t, tamper(approve)).want(t, http.StatusBadRequest, "This link is not valid")
	submit(t, tamper(approve), tokenOf(tamper(approve)), "").want(t, http.StatusBadRequest, "This link is not valid")
	expired, err := linktoken.Sign([]byte(linksSecret), linktoken.Claims{RequestID: r.ID, Subject: "email:alice@example.com",
		Expires: time.Now().Add(-time.Minute).Unix(), Option: "approve"})
	if err != nil {
		t.Fatal(err)
	}
	get(t, f.web.URL+email.ActionPath+"?token="+expired).want(t, http.StatusGone, "This link has expired")
	submit(t, f.web.URL+email.ActionPath, expired, "").want(t, http.StatusGone, "This link has expired")
	generic, _ := linktoken.Sign([]byte(linksSecret), linktoken.Claims{RequestID: r.ID, Subject: "email:alice@example.com", Expires: time.Now().Add(time.Hour).Unix()})
	get(t, f.web.URL+email.ActionPath+"?token="+generic).want(t, http.StatusBadRequest, "does not answer anything by itself")

	// Reject needs a reason here: the page says so, and a blank one is refused.
	p = get(t, reject)
	p.want(t, http.StatusOK, "<strong>Reject</strong>", "Comment (required)", " required>")
	submit(t, reject, p.formToken(t), "  ").want(t, http.StatusUnprocessableEntity, `role="alert"`, "Your answer was not recorded")
	if got := f.request(t, r.ID); got.Status != events.StatusPending {
		t.Fatalf("a refused answer decided: %s", got.Status)
	}

	// POST decides, through the gate, as the recipient.
	p = get(t, approve)
	submit(t, approve, p.formToken(t), "lgtm").want(t, http.StatusOK, "Thank you: your answer is recorded",
		"This request was approved by email:alice@example.com", "lgtm")
	got := f.request(t, r.ID)
	if got.Status != events.StatusAnswered || got.Response.Responder != "email:alice@example.com" {
		t.Fatalf("after POST: %s by %q", got.Status, got.Response.Responder)
	}
	var ans input.ApprovalAnswer
	if err := json.Unmarshal(got.Response.Data, &ans); err != nil || !ans.Approved || ans.Comment != "lgtm" || got.Response.InputHash == "" {
		t.Fatalf("answer %s (hash %q): %v", got.Response.Data, got.Response.InputHash, err)
	}

	// Reused links show the outcome and change nothing.
	submit(t, reject, p.formToken(t), "no!").want(t, http.StatusConflict, "Already decided", "This request was approved by email:alice@example.com")
	get(t, reject).want(t, http.StatusOK, "Already decided", "approved by email:alice@example.com")
	get(t, bobApprove).want(t, http.StatusOK, "Already decided")
	if again := f.request(t, r.ID); again.Response.At != got.Response.At || string(again.Response.Data) != string(got.Response.Data) {
		t.Fatal("a reused link changed the answer")
	}

	// The resolution reaches both recipients once, as a short follow-up.
	if err := f.st.FinishRequest(ctx, got); err != nil { // the orchestrator's part, which this test does not run
		t.Fatal(err)
	}
	f.smtp.Wait(t, "the follow-ups", func() bool { return f.smtp.Count(r.ID, "resolved") == 2 })
	for _, m := range f.smtp.Find(r.ID, "resolved") {
		if !strings.Contains(m.Text, "Decided: Approved by email:alice@example.com") {
			t.Errorf("follow-up to %s:\n%s", m.To, m.Text)
		}
	}
}

// formTokenOr is the form's token, or the link's when the page has no form.
func (p page) formTokenOr(link string) string {
	if m := hiddenToken.FindStringSubmatch(p.body); m != nil {
		return html.UnescapeString(m[1])
	}
	return tokenOf(link)
}

func tokenOf(link string) string {
	u, _ := url.Parse(link)
	return u.Query().Get("token")
}

func TestEmailSelectAndBooleanLinks(t *testing.T) {
	t.Parallel()
	f := setupLinks(t)
	sel := f.ask(t, &events.Request{Title: "Refund method?", Assignees: []string{"email:carol@example.com"},
		Input: input.Spec{Type: input.Select, Options: []input.Option{{ID: "card", Label: "Card"}, {ID: "store_credit", Label: "Store credit", Description: "valid 1 year"}}}})
	m := sel["carol@example.com"]
	link := m.Link("Store credit")
	p := get(t, link)
	p.want(t, http.StatusOK, "<strong>Store credit</strong> (valid 1 year)")
	submit(t, link, p.formToken(t), "as agreed").want(t, http.StatusOK, "answered “Store credit” by email:carol@example.com")
	got := f.request(t, m.RequestID())
	if string(got.Response.Data) != `"store_credit"` || got.Response.Comment != "as agreed" {
		t.Fatalf("answer %s, comment %q", got.Response.Data, got.Response.Comment)
	}

	yn := f.ask(t, &events.Request{Title: "Notify the customer?", Assignees: []string{"email:carol@example.com"}, Input: input.Spec{Type: input.Boolean}})
	m = yn["carol@example.com"]
	link = m.Link("No")
	p = get(t, link)
	submit(t, link, p.formToken(t), "").want(t, http.StatusOK, "answered “No”")
	if got := f.request(t, m.RequestID()); string(got.Response.Data) != "false" {
		t.Fatalf("answer %s", got.Response.Data)
	}
}

func TestEmailNoFormTypesLinkToTheInbox(t *testing.T) {
	t.Parallel()
	f := setupLinks(t)
	m := f.ask(t, &events.Request{Title: "New amount?", Assignees: []string{"email:dan@example.com"}, Input: input.Spec{Type: input.Text}})["dan@example.com"]
	links := m.Links()
	if len(links) != 1 || !strings.HasPrefix(links[0], f.web.URL+"/inbox/requests/"+m.RequestID()+"?token=") || m.Link("Answer in your browser") == "" {
		t.Fatalf("links %v", links)
	}
	// Its token names no option: the action page refuses it.
	get(t, f.web.URL+email.ActionPath+"?token="+url.QueryEscape(tokenOf(links[0]))).want(t, http.StatusBadRequest, "does not answer anything by itself")
}

// syncBuffer collects logs for assertions and shows them in the test's output.
type syncBuffer struct {
	t  *testing.T
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Log(strings.TrimSpace(string(p)))
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestEmailScreenshotConfirmPage writes docs/img/email-confirm.png, the page behind an email's
// "Reject" link, with HITL_SCREENSHOTS=1.
func TestEmailScreenshotConfirmPage(t *testing.T) {
	if !emailtest.ScreenshotsWanted() {
		t.Skip("HITL_SCREENSHOTS=1 writes docs/img/email-confirm.png")
	}
	f := setupLinks(t)
	m := f.ask(t, &events.Request{Title: "Refund 120.00 EUR for order A-1001?",
		Message: "The customer reports the parcel arrived damaged and sent photos.",
		Context: map[string]any{"order": "A-1001", "amount": "120.00 EUR"}, Assignees: []string{"email:agent@example.com"},
		Input: input.Spec{Type: input.Approval, RequireCommentOnReject: true}})["agent@example.com"]
	emailtest.Screenshot(t, m.Link("Reject"), "../../docs/img/email-confirm.png", 800)
	if got := f.request(t, m.RequestID()); got.Status != events.StatusPending {
		t.Fatalf("opening the page decided the request: %s", got.Status)
	}
}
