package slack

import (
	"errors"
	"net/http"

	"github.com/hitl-dev/hitl/surface"
)

// Section is the slack: section of the routing file; each key has an environment twin,
// which wins.
type Section struct {
	BotToken      string `yaml:"bot_token" env:"HITL_SLACK_BOT_TOKEN"`
	SigningSecret string `yaml:"signing_secret" env:"HITL_SLACK_SIGNING_SECRET"`
	APIURL        string `yaml:"api_url" env:"HITL_SLACK_API_URL"` // to aim at a fake; default Slack's
}

// Build is the Slack surface: the channel and its interactions endpoint. Neither token nor
// secret set: no Slack.
func Build(env surface.Env) (*surface.Parts, error) {
	var sc Section
	if err := env.Section(&sc); err != nil {
		return nil, err
	}
	if sc.BotToken == "" && sc.SigningSecret == "" {
		return nil, nil
	}
	if sc.BotToken == "" || sc.SigningSecret == "" {
		return nil, errors.New("slack: set both HITL_SLACK_BOT_TOKEN and HITL_SLACK_SIGNING_SECRET (see docs/slack.md)")
	}
	ch, err := New(Config{BotToken: sc.BotToken, APIURL: sc.APIURL})
	if err != nil {
		return nil, err
	}
	h, err := NewHandler(HandlerConfig{Store: env.Store, SigningSecret: sc.SigningSecret, API: ch.API(),
		Routes: env.Routes, Logger: env.Logger, Metrics: env.Metrics})
	if err != nil {
		return nil, err
	}
	return &surface.Parts{Channel: ch, CheckTarget: CheckTarget, Handlers: map[string]http.Handler{"POST " + Path: env.Limits.Interactions.Wrap(h)}}, nil
}
