package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/respond"
	"github.com/hitl-dev/hitl/surface/surfacetest"
	"github.com/hitl-dev/hitl/surface/webhook"
)

// The bots of the conformance subject: each is a target of its own on one receiver.
var bots = []string{"ops-bot", "audit-bot", "other-bot"}

// TestConformance runs both halves: signed CloudEvents posted to bots, and the bots'
// answers through the respond_url each delivery carries, the REST API's link.
func TestConformance(t *testing.T) {
	surfacetest.Run(t, func(t *testing.T, env surfacetest.Env) surfacetest.Subject {
		var broken atomic.Bool
		rcv := newReceiver(t, func(int) int {
			if broken.Load() {
				return http.StatusBadGateway
			}
			return http.StatusOK
		})
		targets := map[string]string{}
		for _, b := range bots {
			targets[b] = rcv.srv.URL + "/" + b
		}
		ch, err := webhook.New(webhook.Config{Targets: targets, Secret: secret, AllowPrivate: loopback})
		if err != nil {
			t.Fatal(err)
		}
		// count counts the verified deliveries of typ about the request to the ops bot.
		count := func(typ string) func(string) int {
			return func(requestID string) int {
				n := 0
				for _, d := range rcv.deliveries() {
					if d.typ == typ && d.verified && d.subject == requestID && d.path == "/ops-bot" {
						n++
					}
				}
				return n
			}
		}
		// The responder as hitl serves it: the REST API, with an API token configured so that
		// only the link in respond_url lets a bot answer.
		api, err := respond.New(respond.Config{Store: env.Store, Tokens: []string{"conformance-api-token"},
			LinkSecret: env.LinkSecret, Routes: env.Routes, Logger: env.Logger})
		if err != nil {
			t.Fatal(err)
		}
		return surfacetest.Subject{
			Notify: &surfacetest.Notify{
				Channel:   ch,
				Assignee:  "webhook:ops-bot",
				Delivered: count(events.TypeRequestInfo),
				Resolved:  count(events.TypeResolved),
				Break:     func() { broken.Store(true) },
			},
			BadConfigs: map[string]func() error{
				"relative URL":            func() error { _, err := webhook.New(webhook.Config{Targets: map[string]string{"a": "/x"}}); return err },
				"secret without whsec":    func() error { _, err := webhook.New(webhook.Config{Secret: "abc"}); return err },
				"HITL_WEBHOOKS without =": func() error { _, err := webhook.ParseTargets("bot"); return err },
				"responder without link secret": func() error {
					_, err := respond.New(respond.Config{Store: env.Store})
					return err
				},
			},
			Answer: &surfacetest.Answer{
				Handler:   api,
				Assignees: []string{"webhook:ops-bot", "webhook:audit-bot", "webhook:other-bot"},
				Allowed:   [2]string{"webhook:ops-bot", "webhook:audit-bot"},
				Refused:   "webhook:other-bot", // sent the request, but no approver
				Prepare: func(t *testing.T, req *events.Request, identity string, approve bool) surfacetest.Attempt {
					return prepareRespond(t, rcv, req, identity, approve)
				},
			},
		}
	})
}

// prepareRespond waits for the bot's request_info and takes its respond_url. Sending posts
// the answer there, as a bot does: 200 when it counted.
func prepareRespond(t *testing.T, rcv *receiver, req *events.Request, identity string, approve bool) surfacetest.Attempt {
	t.Helper()
	path := "/" + identity[len("webhook:"):]
	var link string
	surfacetest.WaitFor(t, "the request at "+identity, func() bool {
		for _, d := range rcv.deliveries() {
			if d.typ == events.TypeRequestInfo && d.verified && d.subject == req.ID && d.path == path {
				link = d.respondURL
				return true
			}
		}
		return false
	})
	body, _ := json.Marshal(map[string]any{"data": map[string]bool{"approved": approve}})
	return func(ctx context.Context) (surfacetest.Outcome, error) {
		hr, err := http.NewRequestWithContext(ctx, http.MethodPost, link, bytes.NewReader(body))
		if err != nil {
			return surfacetest.Outcome{}, err
		}
		hr.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(hr)
		if err != nil {
			return surfacetest.Outcome{}, err
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			return surfacetest.Outcome{Accepted: true, Said: res.Status}, nil
		}
		said := res.Status + " " + string(bytes.TrimSpace(b))
		switch res.StatusCode {
		case http.StatusConflict, http.StatusForbidden, http.StatusGone:
			return surfacetest.Outcome{Said: said}, nil
		}
		return surfacetest.Outcome{}, fmt.Errorf("respond_url answered %s", said)
	}
}
