package email_test

import (
	"testing"

	"github.com/hitl-dev/hitl/notify/notifytest"
	"github.com/hitl-dev/hitl/surface/email"
	"github.com/hitl-dev/hitl/surface/email/emailtest"
)

const secret = "email-test-link-secret"

func TestConformance(t *testing.T) {
	notifytest.Run(t, func(t *testing.T) notifytest.Subject {
		srv := emailtest.Start(t, emailtest.Options{})
		ch, err := email.New(email.Config{SMTPURL: srv.URL(), From: "hitl <hitl@example.com>",
			PublicURL: "http://hitl.test", LinkSecret: []byte(secret)})
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
		return notifytest.Subject{
			Channel:   ch,
			Assignee:  "email:alice@example.com",
			Delivered: func(id string) int { return srv.Count(id, "request") },
			Resolved:  func(id string) int { return srv.Count(id, "resolved") },
			// 451: a temporary refusal, retried until the last attempt dead-letters it.
			Break: func() { srv.Refuse(451) },
			BadConfigs: map[string]func() error{
				"http:// SMTP URL":     bad(func(c *email.Config) { c.SMTPURL = "http://mail.example.com" }),
				"no SMTP URL":          bad(func(c *email.Config) { c.SMTPURL = "" }),
				"unknown tls mode":     bad(func(c *email.Config) { c.SMTPURL = "smtp://mail.example.com?tls=maybe" }),
				"missing from":         bad(func(c *email.Config) { c.From = "" }),
				"from is no address":   bad(func(c *email.Config) { c.From = "hitl at example dot com" }),
				"relative public URL":  bad(func(c *email.Config) { c.PublicURL = "/hitl" }),
				"short link secret":    bad(func(c *email.Config) { c.LinkSecret = []byte("short") }),
				"port is not a number": bad(func(c *email.Config) { c.SMTPURL = "smtp://mail.example.com:smtp" }),
			},
		}
	})
}
