package email_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/surface/email"
	"github.com/hitl-dev/hitl/surface/email/emailtest"
	"github.com/hitl-dev/hitl/surface/surfacetest"
)

const secret = "email-test-link-secret"

// TestConformance runs both halves: the channel mailing a real SMTP server in process, and
// the pages behind the emails' option links, answered as people do: the link's GET shows a
// confirmation page, the POST of its form decides.
func TestConformance(t *testing.T) {
	surfacetest.Run(t, func(t *testing.T, env surfacetest.Env) surfacetest.Subject {
		srv := emailtest.Start(t, emailtest.Options{})
		ch, err := email.New(email.Config{SMTPURL: srv.URL(), From: "hitl <hitl@example.com>",
			PublicURL: env.PublicURL, LinkSecret: env.LinkSecret})
		if err != nil {
			t.Fatal(err)
		}
		good := email.Config{SMTPURL: srv.URL(), From: "hitl@example.com", PublicURL: "http://hitl.test", LinkSecret: []byte(secret)}
		bad := func(change func(c *email.Config)) func() error {
			return func() error {
				c := good
				change(&c)
				_, err := email.New(c)
				return err
			}
		}
		links, err := email.NewLinks(email.LinksConfig{Store: env.Store, LinkSecret: env.LinkSecret,
			Routes: func() *routing.Routes { return env.Routes }, Logger: env.Logger})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		for pattern, h := range links.Routes() {
			mux.Handle(pattern, h)
		}
		return surfacetest.Subject{
			Notify: &surfacetest.Notify{
				Channel:   ch,
				Assignee:  "email:alice@example.com",
				Delivered: func(id string) int { return srv.Count(id, "request") },
				Resolved:  func(id string) int { return srv.Count(id, "resolved") },
				// 451: a temporary refusal, retried until the last attempt dead-letters it.
				Break: func() { srv.Refuse(451) },
			},
			BadConfigs: map[string]func() error{
				"http:// SMTP URL":     bad(func(c *email.Config) { c.SMTPURL = "http://mail.example.com" }),
				"no SMTP URL":          bad(func(c *email.Config) { c.SMTPURL = "" }),
				"unknown tls mode":     bad(func(c *email.Config) { c.SMTPURL = "smtp://mail.example.com?tls=maybe" }),
				"missing from":         bad(func(c *email.Config) { c.From = "" }),
				"from is no address":   bad(func(c *email.Config) { c.From = "hitl at example dot com" }),
				"relative public URL":  bad(func(c *email.Config) { c.PublicURL = "/hitl" }),
				"short link secret":    bad(func(c *email.Config) { c.LinkSecret = []byte("short") }),
				"port is not a number": bad(func(c *email.Config) { c.SMTPURL = "smtp://mail.example.com:smtp" }),
				"links without secret": func() error { _, err := email.NewLinks(email.LinksConfig{Store: env.Store}); return err },
			},
			Answer: &surfacetest.Answer{
				Handler:   mux,
				Assignees: []string{"email:alice@example.com", "email:bob@example.com", "email:mallory@example.com"},
				Allowed:   [2]string{"email:alice@example.com", "email:bob@example.com"},
				Refused:   "email:mallory@example.com", // mailed, but no approver
				Prepare: func(t *testing.T, req *events.Request, identity string, approve bool) surfacetest.Attempt {
					return prepareLink(t, srv, env.LinkSecret, req, identity, approve)
				},
			},
		}
	})
}

var formTag = regexp.MustCompile(`<form method="post"( action="([^"]*)")?>`)

// prepareLink waits for the email to identity, opens its Approve or Reject link (the GET
// that shows the confirmation page) and reads the page's form. Sending it posts the form,
// as the page's button does: 200 when it counted.
func prepareLink(t *testing.T, srv *emailtest.Server, secret []byte, req *events.Request, identity string, approve bool) surfacetest.Attempt {
	t.Helper()
	addr := strings.TrimPrefix(identity, "email:")
	var msg *emailtest.Message
	surfacetest.WaitFor(t, "the email to "+addr, func() bool {
		for _, m := range srv.Find(req.ID, "request") {
			if m.To == addr {
				msg = m
				return true
			}
		}
		return false
	})
	option := "reject"
	if approve {
		option = "approve"
	}
	link := optionLink(t, msg, secret, option)
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	page := string(body)
	target, form := link, url.Values{"token": {tokenOf(link)}, "comment": {""}}
	if res.StatusCode == http.StatusOK {
		// The confirmation page: its form posts back to the link, with the token hidden in it.
		fm, tm := formTag.FindStringSubmatch(page), hiddenToken.FindStringSubmatch(page)
		if fm == nil || tm == nil {
			t.Fatalf("the confirmation page of %s has no form with the token:\n%s", addr, page)
		}
		if fm[2] != "" {
			target = resolve(t, link, html.UnescapeString(fm[2]))
		}
		form.Set("token", html.UnescapeString(tm[1]))
	} else {
		// No form is offered (the recipient is refused): the POST is sent all the same, as a
		// page kept open from before or a crafted request would be.
		t.Logf("GET of %s's link: %s", addr, res.Status)
	}
	return func(ctx context.Context) (surfacetest.Outcome, error) {
		hr, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
		if err != nil {
			return surfacetest.Outcome{}, err
		}
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := http.DefaultClient.Do(hr)
		if err != nil {
			return surfacetest.Outcome{}, err
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch res.StatusCode {
		case http.StatusOK: // only the page of a recorded answer is a 200
			return surfacetest.Outcome{Accepted: true, Said: res.Status}, nil
		case http.StatusConflict, http.StatusForbidden, http.StatusGone:
			return surfacetest.Outcome{Said: res.Status}, nil
		}
		return surfacetest.Outcome{}, fmt.Errorf("the answer was answered %s:\n%s", res.Status, b)
	}
}

// optionLink finds the email's action link bound to option.
func optionLink(t *testing.T, m *emailtest.Message, secret []byte, option string) string {
	t.Helper()
	for _, l := range m.Links() {
		u, err := url.Parse(l)
		if err != nil || u.Path != email.ActionPath {
			continue
		}
		if c, err := linktoken.Verify(secret, u.Query().Get("token"), time.Now()); err == nil && c.Option == option {
			return l
		}
	}
	t.Fatalf("the email to %s has no %q link (links %q)", m.To, option, m.Links())
	return ""
}

func resolve(t *testing.T, base, ref string) string {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r, err := url.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	return b.ResolveReference(r).String()
}
