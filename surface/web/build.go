package web

import (
	"errors"

	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/surface"
)

// Build is the web inbox (/inbox): pages people answer requests on, reached from the links
// other channels send and by operators who sign in. It has no channel of its own, and no
// section in the routing file. Without the link secret (an orchestrator alone) it builds
// nothing.
func Build(env surface.Env) (*surface.Parts, error) {
	if env.Raw != nil {
		return nil, errors.New("web: the inbox has no settings in the routing file; remove its web: section")
	}
	if len(env.LinkSecret) < linktoken.MinSecretLen {
		return nil, nil
	}
	srv, err := New(Config{Store: env.Store, LinkSecret: env.LinkSecret, Tokens: env.APITokens, Routes: env.Routes,
		PublicURL: env.PublicURL, Logger: env.Logger, Metrics: env.Metrics, Login: env.Limits.Login, Answers: env.Limits.Answers})
	if err != nil {
		return nil, err
	}
	return &surface.Parts{Handlers: srv.Routes()}, nil
}
