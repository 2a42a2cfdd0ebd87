package web

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/ratelimit"
)

type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// signIn signs c in with token and returns the sign-in's response.
func (c *client) signIn(t *testing.T, token, name string) response {
	t.Helper()
	csrf := c.get("/inbox/login").csrf(t)
	return c.do("POST", "/inbox/login", vals("_csrf", csrf, "token", token, "name", name, "next", "/inbox"))
}

// Failed sign-ins are limited per client: past the limit 429 with Retry-After, even for
// the right token, until the bucket refills; right sign-ins cost nothing.
func TestInboxSignInIsLimited(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: time.Unix(1_000_000, 0)}
	b := setupWith(t, func(c *Config) {
		c.Login = ratelimit.New(ratelimit.Config{Rate: ratelimit.Rate{Burst: 2, Per: time.Minute}, Now: clock.now})
	}, "ops:admin:ops-token-0123456789")
	for range 3 {
		if r := b.client().signIn(t, "ops-token-0123456789", ""); r.status != http.StatusSeeOther {
			t.Fatalf("right token: %d", r.status)
		}
	}
	c := b.client()
	for i := range 2 {
		if r := c.signIn(t, "wrong-token-0123456789", ""); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d", i+1, r.status)
		}
	}
	r := c.signIn(t, "ops-token-0123456789", "")
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if r.status != http.StatusTooManyRequests || err != nil || ra < 1 || ra > 30 || !strings.Contains(r.body, "Too many failed sign-ins") {
		t.Fatalf("past the limit: %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	if !strings.Contains(b.logs.String(), "too many failures") || !strings.Contains(b.logs.String(), "client=127.0.0.1") {
		t.Errorf("the refusal was not logged with the client: %s", b.logs.String())
	}
	clock.add(30 * time.Second)
	if r := c.signIn(t, "ops-token-0123456789", ""); r.status != http.StatusSeeOther {
		t.Fatalf("after the refill: %d", r.status)
	}
}

// A read token shows the inbox but answers nothing; an answer token answers as its name
// (unless a name was given at sign-in).
func TestInboxScopes(t *testing.T) {
	t.Parallel()
	b := setup(t, "dash:read:read-token-0123456789", "bot:answer:answer-token-0123456789")
	req := b.create(events.Request{Title: "Ship it?", Input: input.Spec{Type: input.Boolean}})
	reader := b.client()
	if r := reader.signIn(t, "read-token-0123456789", ""); r.status != http.StatusSeeOther {
		t.Fatalf("read sign-in: %d", r.status)
	}
	reader.get("/inbox").mustContain(t, "Ship it?")
	page := reader.get("/inbox/requests/" + req.ID)
	page.mustContain(t, "Ship it?", "read-only API token")
	page.mustNotContain(t, `action="/inbox/requests/`+req.ID)
	// Even a form made elsewhere is refused.
	if r := reader.do("POST", "/inbox/requests/"+req.ID, vals("_csrf", "forged", "_action", "submit", "answer", "true")); r.status != http.StatusForbidden ||
		!strings.Contains(r.body, "Your token can only read") {
		t.Fatalf("read token answered: %d", r.status)
	}
	if got := b.request(req.ID); got.Resolved() {
		t.Fatal("a read token's answer was recorded")
	}
	answerer := b.client()
	if r := answerer.signIn(t, "answer-token-0123456789", ""); r.status != http.StatusSeeOther {
		t.Fatalf("answer sign-in: %d", r.status)
	}
	answerer.get("/inbox/requests/"+req.ID).mustContain(t, `action="/inbox/requests/`+req.ID)
	if r := answerer.answer("/inbox/requests/"+req.ID, vals("_action", "submit", "answer", "true")); r.status != http.StatusSeeOther {
		t.Fatalf("answer token: %d\n%s", r.status, r.body)
	}
	if got := b.request(req.ID); got.Response == nil || got.Response.Responder != "bot" {
		t.Fatalf("responder %+v, want the token's name", got.Response)
	}
}

// Answers from the pages are limited per client.
func TestInboxAnswersAreLimited(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: time.Unix(1_000_000, 0)}
	b := setupWith(t, func(c *Config) {
		c.Answers = ratelimit.New(ratelimit.Config{Rate: ratelimit.Rate{Burst: 1, Per: 10 * time.Second}, Now: clock.now})
	})
	c := b.client()
	first := b.create(events.Request{Title: "One", Input: input.Spec{Type: input.Boolean}})
	second := b.create(events.Request{Title: "Two", Input: input.Spec{Type: input.Boolean}})
	if r := c.answer("/inbox/requests/"+first.ID, vals("_action", "submit", "answer", "true")); r.status != http.StatusSeeOther {
		t.Fatalf("first answer: %d", r.status)
	}
	r := c.answer("/inbox/requests/"+second.ID, vals("_action", "submit", "answer", "true"))
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("second answer: %d %q", r.status, r.header.Get("Retry-After"))
	}
	if b.request(second.ID).Resolved() {
		t.Fatal("a limited answer was recorded")
	}
	clock.add(10 * time.Second)
	if r := c.answer("/inbox/requests/"+second.ID, vals("_action", "submit", "answer", "true")); r.status != http.StatusSeeOther {
		t.Fatalf("after the refill: %d", r.status)
	}
}
