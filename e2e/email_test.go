package e2e_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/examples"
	"github.com/hitl-dev/hitl/server"
	"github.com/hitl-dev/hitl/surface/email/emailtest"
)

// TestEmailLinkDecidesRequest runs `hitl dev` configured for email from the environment
// (HITL_SMTP_URL, HITL_EMAIL_FROM, HITL_PUBLIC_URL) against a real SMTP server in-process:
// a request assigned to email:a@b.c arrives as an email, its "Approve" link shows a
// confirmation page that decides nothing, the page's button decides it, and the recipient
// gets the follow-up. Not parallel: it sets environment variables.
func TestEmailLinkDecidesRequest(t *testing.T) {
	smtp := emailtest.Start(t, emailtest.Options{})
	port := freePort(t)
	public := "http://127.0.0.1:" + port
	t.Setenv("HITL_SMTP_URL", smtp.URL())
	t.Setenv("HITL_EMAIL_FROM", "hitl <hitl@example.com>")
	t.Setenv("HITL_PUBLIC_URL", public)
	startEmailDev(t, "127.0.0.1:"+port)

	// An assignee that is not an address is refused when the request is made.
	r := doCall(t, "POST", public+"/v1/requests", "", map[string]any{"title": "x", "assignees": []string{"email:not-an-address"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "not an email address") {
		t.Fatalf("bad address: %d %s", r.Status, r.Body)
	}

	r = doCall(t, "POST", public+"/v1/requests", "", map[string]any{
		"title": "Deploy release 1.4 to production?", "message": "All checks passed.",
		"context": map[string]any{"service": "billing"}, "input": map[string]any{"type": "approval"},
		"assignees": []string{"email:a@b.c"}, "timeout": "30m"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var req events.Request
	r.decode(t, &req)

	smtp.Wait(t, "the request's email", func() bool { return smtp.Count(req.ID, "request") == 1 })
	m := smtp.Find(req.ID, "request")[0]
	if m.To != "a@b.c" {
		t.Fatalf("sent to %s", m.To)
	}
	approve := m.Link("Approve")
	if !strings.HasPrefix(approve, public+"/email/act?token=") {
		t.Fatalf("Approve link %q does not start with the public URL", approve)
	}

	// GET: a confirmation page; still pending.
	status, body := emailFetch(t, http.MethodGet, approve, nil)
	if status != http.StatusOK || !strings.Contains(body, "Confirm your answer") {
		t.Fatalf("GET: %d\n%s", status, body)
	}
	if got := getRequest(t, public, req.ID); got.Status != events.StatusPending {
		t.Fatalf("a GET decided the request: %s", got.Status)
	}

	// POST the page's form: decided, as the recipient.
	tok := regexp.MustCompile(`name="token" value="([^"]*)"`).FindStringSubmatch(body)
	if tok == nil {
		t.Fatalf("no form:\n%s", body)
	}
	status, body = emailFetch(t, http.MethodPost, approve, url.Values{"token": {html.UnescapeString(tok[1])}, "comment": {"ship it"}})
	if status != http.StatusOK || !strings.Contains(body, "approved by email:a@b.c") {
		t.Fatalf("POST: %d\n%s", status, body)
	}
	r = doCall(t, "GET", public+"/v1/requests/"+req.ID+"/wait?timeout=10s", "", nil)
	var done events.Request
	r.decode(t, &done)
	if done.Status != events.StatusAnswered || done.Response.Responder != "email:a@b.c" || !strings.Contains(string(done.Response.Data), `"approved":true`) {
		t.Fatalf("after the link: %s by %q: %s", done.Status, done.Response.Responder, done.Response.Data)
	}

	// The recipient hears how it ended, once; the link now shows the outcome.
	smtp.Wait(t, "the follow-up", func() bool { return smtp.Count(req.ID, "resolved") == 1 })
	if f := smtp.Find(req.ID, "resolved")[0]; !strings.Contains(f.Text, "Decided: Approved by email:a@b.c") {
		t.Errorf("follow-up:\n%s", f.Text)
	}
	if status, body = emailFetch(t, http.MethodGet, m.Link("Reject"), nil); status != http.StatusOK || !strings.Contains(body, "Already decided") {
		t.Errorf("reused link: %d\n%s", status, body)
	}
}

// startEmailDev runs `hitl dev` listening on httpAddr, configured by flags' environment
// twins, until the test ends.
func startEmailDev(t *testing.T, httpAddr string) {
	t.Helper()
	d := &server.Dev{Workflows: hitl.NewRegistry()}
	if err := server.Parse("hitl dev", d, []string{"--http", httpAddr, "--data", t.TempDir(), "--nats", "127.0.0.1:" + freePort(t)}); err != nil {
		t.Fatal(err)
	}
	examples.RegisterAll(d.Workflows)
	d.Logger = testLogger(t)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	d.Ready = func(server.Listening) { close(ready) }
	go func() { done <- d.Run(ctx) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("hitl dev: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("hitl dev did not start in 30s")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hitl dev stopped with: %v", err)
		}
	})
}

// emailFetch GETs a link, or POSTs a form to it, as a browser would.
func emailFetch(t *testing.T, method, link string, form url.Values) (int, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = http.PostForm(link, form)
	} else {
		resp, err = http.Get(link)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
