package server

import (
	"log/slog"

	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/surface/email"
)

// emailSurface is the email channel (assignees "email:a@b.c") and the pages behind its
// action links (/email/act). It is configured by the SMTP URL (HITL_SMTP_URL or the file's
// email.smtp_url) and the sender (HITL_EMAIL_FROM or email.from); without an SMTP URL there
// is no email channel. Like the web inbox it needs the link secret, so a process without
// one (an orchestrator alone) does not build it; the notifier and responder roles require
// the secret.
func emailSurface(d deps) (*surface, error) {
	c, ec := d.cfg, d.file.Email
	if ec.SMTPURL == "" || len(c.LinkSecret) < 16 {
		return nil, nil
	}
	ch, err := email.New(email.Config{SMTPURL: ec.SMTPURL, From: ec.From, PublicURL: c.PublicURL, LinkSecret: []byte(c.LinkSecret)})
	if err != nil {
		return nil, err
	}
	links, err := email.NewLinks(email.LinksConfig{Store: d.store, LinkSecret: []byte(c.LinkSecret),
		Routes: func() *routing.Routes { return *d.routes }, Logger: d.log, Metrics: d.metrics})
	if err != nil {
		return nil, err
	}
	d.log.Info("email channel configured", slog.String("smtp", ch.Server()), slog.String("from", ec.From))
	return &surface{channel: ch, check: email.CheckAddress, routes: links.Routes()}, nil
}
