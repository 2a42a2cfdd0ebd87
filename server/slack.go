package server

import (
	"errors"
	"net/http"

	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/surface/slack"
)

// slackSurface is the Slack channel and its interactions endpoint, configured by
// HITL_SLACK_BOT_TOKEN and HITL_SLACK_SIGNING_SECRET (or the routing file's slack:
// section). Neither set: no Slack.
func slackSurface(d deps) (*surface, error) {
	sc := d.file.Slack
	if sc.BotToken == "" && sc.SigningSecret == "" {
		return nil, nil
	}
	if sc.BotToken == "" || sc.SigningSecret == "" {
		return nil, errors.New("slack: set both HITL_SLACK_BOT_TOKEN and HITL_SLACK_SIGNING_SECRET (see docs/slack.md)")
	}
	cfg := slack.Config{BotToken: sc.BotToken, APIURL: sc.APIURL}
	ch, err := slack.New(cfg)
	if err != nil {
		return nil, err
	}
	h, err := slack.NewHandler(slack.HandlerConfig{Store: d.store, SigningSecret: sc.SigningSecret, API: ch.API(),
		Routes: func() *routing.Routes { return *d.routes }, Logger: d.log, Metrics: d.metrics})
	if err != nil {
		return nil, err
	}
	return &surface{channel: ch, check: slack.CheckTarget,
		routes: map[string]http.Handler{"POST " + slack.Path: h}}, nil
}
