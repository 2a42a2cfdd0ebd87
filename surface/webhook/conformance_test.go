package webhook_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/notify/notifytest"
	"github.com/hitl-dev/hitl/surface/webhook"
)

func TestConformance(t *testing.T) {
	notifytest.Run(t, func(t *testing.T) notifytest.Subject {
		var broken atomic.Bool
		rcv := newReceiver(t, func(int) int {
			if broken.Load() {
				return http.StatusBadGateway
			}
			return http.StatusOK
		})
		ch, err := webhook.New(webhook.Config{Targets: map[string]string{"bot": rcv.srv.URL}, Secret: secret})
		if err != nil {
			t.Fatal(err)
		}
		count := func(typ string) func(string) int {
			return func(string) int {
				n := 0
				for _, d := range rcv.deliveries() {
					if d.typ == typ && d.verified {
						n++
					}
				}
				return n
			}
		}
		return notifytest.Subject{
			Channel:   ch,
			Assignee:  "webhook:bot",
			Delivered: count(events.TypeRequestInfo),
			Resolved:  count(events.TypeResolved),
			Break:     func() { broken.Store(true) },
			BadConfigs: map[string]func() error{
				"relative URL":            func() error { _, err := webhook.New(webhook.Config{Targets: map[string]string{"a": "/x"}}); return err },
				"secret without whsec":    func() error { _, err := webhook.New(webhook.Config{Secret: "abc"}); return err },
				"HITL_WEBHOOKS without =": func() error { _, err := webhook.ParseTargets("bot"); return err },
			},
		}
	})
}
