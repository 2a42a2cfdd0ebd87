package web_test

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
	"github.com/hitl-dev/hitl/surface/surfacetest"
	"github.com/hitl-dev/hitl/surface/web"
)

// TestConformance runs the inbox's answer half: people open the signed link other surfaces
// send them (an email's "Answer in your browser"), and answer with the page's form and its
// CSRF token, over real HTTP.
func TestConformance(t *testing.T) {
	const noChannel = "the web inbox has no channel of its own: requests reach people through the links other surfaces send (surface/email, surface/telegram), whose suites cover delivery"
	skip := map[surfacetest.Behaviour]string{}
	for _, b := range surfacetest.NotifyBehaviours {
		skip[b] = noChannel
	}
	surfacetest.Run(t, func(t *testing.T, env surfacetest.Env) surfacetest.Subject {
		cfg := web.Config{Store: env.Store, LinkSecret: env.LinkSecret, PublicURL: env.PublicURL,
			// API tokens are configured, so that a visitor without a link is nobody: only
			// the link's subject answers.
			Tokens: []string{"conformance-api-token"},
			Routes: func() *routing.Routes { return env.Routes }, Logger: env.Logger}
		srv, err := web.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		for pattern, h := range srv.Routes() {
			mux.Handle(pattern, h)
		}
		bad := func(change func(c *web.Config)) func() error {
			return func() error {
				c := cfg
				change(&c)
				_, err := web.New(c)
				return err
			}
		}
		return surfacetest.Subject{
			Skip: skip,
			BadConfigs: map[string]func() error{
				"no store":          bad(func(c *web.Config) { c.Store = nil }),
				"no link secret":    bad(func(c *web.Config) { c.LinkSecret = nil }),
				"short link secret": bad(func(c *web.Config) { c.LinkSecret = []byte("short") }),
			},
			Answer: &surfacetest.Answer{
				Handler:   mux,
				Assignees: []string{"email:alice@example.com", "email:bob@example.com", "email:mallory@example.com"},
				Allowed:   [2]string{"email:alice@example.com", "email:bob@example.com"},
				Refused:   "email:mallory@example.com", // sent a link, but no approver
				Prepare: func(t *testing.T, req *events.Request, identity string, approve bool) surfacetest.Attempt {
					return prepareForm(t, env, req, identity, approve)
				},
			},
		}
	})
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]*)" novalidate>`)
	csrfValue  = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
)

// prepareForm opens the request's page with identity's link and reads its form: where it
// posts, its CSRF token and the button that approves or rejects. Sending it posts the form as
// a browser does (same-origin): 303 to the answered page when it counted.
func prepareForm(t *testing.T, env surfacetest.Env, req *events.Request, identity string, approve bool) surfacetest.Attempt {
	t.Helper()
	tok, err := linktoken.Sign(env.LinkSecret, linktoken.Claims{RequestID: req.ID, Subject: identity,
		Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	page := env.PublicURL + "/inbox/requests/" + req.ID + "?token=" + url.QueryEscape(tok)
	res, err := http.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	body := string(b)
	action := "reject"
	if approve {
		action = "approve"
	}
	target, form := page, url.Values{"_action": {action}, "comment": {""}}
	if res.StatusCode == http.StatusOK {
		fm, cm := formAction.FindStringSubmatch(body), csrfValue.FindAllStringSubmatch(body, -1)
		if fm == nil || cm == nil || !strings.Contains(body, `name="_action" value="`+action+`"`) {
			t.Fatalf("the page of %s has no form with a CSRF token and an %q button:\n%s", identity, action, body)
		}
		u, err := url.Parse(env.PublicURL)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := url.Parse(html.UnescapeString(fm[1]))
		if err != nil {
			t.Fatal(err)
		}
		target = u.ResolveReference(ref).String()
		form.Set("_csrf", html.UnescapeString(cm[len(cm)-1][1])) // the request's form comes last
	} else {
		// No form is offered (the person is refused): the form is posted all the same, as a
		// crafted request would be, without a CSRF token it could not get.
		t.Logf("GET of %s's page: %s", identity, res.Status)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return func(ctx context.Context) (surfacetest.Outcome, error) {
		hr, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
		if err != nil {
			return surfacetest.Outcome{}, err
		}
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		hr.Header.Set("Sec-Fetch-Site", "same-origin")
		res, err := client.Do(hr)
		if err != nil {
			return surfacetest.Outcome{}, err
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch res.StatusCode {
		case http.StatusSeeOther: // Post/Redirect/Get after a recorded answer
			return surfacetest.Outcome{Accepted: true, Said: res.Status}, nil
		case http.StatusConflict, http.StatusForbidden, http.StatusGone:
			return surfacetest.Outcome{Said: res.Status}, nil
		}
		return surfacetest.Outcome{}, fmt.Errorf("the form was answered %s:\n%s", res.Status, b)
	}
}
