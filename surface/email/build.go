package email

import (
	"log/slog"

	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/surface"
)

// Section is the email: section of the routing file; each key has an environment twin,
// which wins.
type Section struct {
	SMTPURL string `yaml:"smtp_url" env:"HITL_SMTP_URL"` // smtp://user:pass@host:587 (smtps:// for implicit TLS)
	From    string `yaml:"from" env:"HITL_EMAIL_FROM"`
}

// Build is the email surface: the channel (assignees "email:a@b.c") and the pages behind
// its action links (/email/act). Without an SMTP URL there is no email; without the link
// secret (an orchestrator alone) only the check of email assignees, as links could not be
// signed.
func Build(env surface.Env) (*surface.Parts, error) {
	var ec Section
	if err := env.Section(&ec); err != nil {
		return nil, err
	}
	if ec.SMTPURL == "" {
		return nil, nil
	}
	if len(env.LinkSecret) < linktoken.MinSecretLen {
		// A process that signs no links (an orchestrator alone) delivers no email, but it
		// checks the email assignees of its workflows' questions.
		return &surface.Parts{Kind: Kind, CheckTarget: CheckAddress}, nil
	}
	ch, err := New(Config{SMTPURL: ec.SMTPURL, From: ec.From, PublicURL: env.PublicURL, LinkSecret: env.LinkSecret})
	if err != nil {
		return nil, err
	}
	links, err := NewLinks(LinksConfig{Store: env.Store, LinkSecret: env.LinkSecret, Routes: env.Routes,
		Logger: env.Logger, Metrics: env.Metrics})
	if err != nil {
		return nil, err
	}
	if env.Logger != nil {
		env.Logger.Info("email channel configured", slog.String("smtp", ch.Server()), slog.String("from", ec.From))
	}
	handlers := links.Routes()
	// Every POST decides: count each against the client's answers.
	handlers["POST "+ActionPath] = env.Limits.Answers.Wrap(handlers["POST "+ActionPath])
	return &surface.Parts{Channel: ch, CheckTarget: CheckAddress, Handlers: handlers}, nil
}
