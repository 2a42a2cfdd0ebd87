package telegram

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/hitl-dev/hitl/surface"
)

// Section is the telegram: section of the routing file; each key has an environment twin,
// which wins. See docs/telegram.md.
type Section struct {
	BotToken    string `yaml:"bot_token" env:"HITL_TELEGRAM_BOT_TOKEN"`       // from BotFather
	SecretToken string `yaml:"secret_token" env:"HITL_TELEGRAM_SECRET_TOKEN"` // the webhook's secret_token
	APIURL      string `yaml:"api_url" env:"HITL_TELEGRAM_API_URL"`           // to aim at a fake; default Telegram's
}

// Build is the Telegram surface: the channel and its webhook (/telegram/webhook). Neither
// token set: no Telegram.
func Build(env surface.Env) (*surface.Parts, error) {
	var tc Section
	if err := env.Section(&tc); err != nil {
		return nil, err
	}
	if tc.BotToken == "" && tc.SecretToken == "" {
		return nil, nil
	}
	if tc.BotToken == "" || tc.SecretToken == "" {
		return nil, errors.New("telegram: set both HITL_TELEGRAM_BOT_TOKEN and HITL_TELEGRAM_SECRET_TOKEN (see docs/telegram.md)")
	}
	cfg := Config{BotToken: tc.BotToken, SecretToken: tc.SecretToken, APIURL: tc.APIURL, Store: env.Store,
		Routes: env.Routes, Logger: env.Logger, Metrics: env.Metrics}
	ch, err := NewChannel(cfg)
	if err != nil {
		return nil, err
	}
	h, err := NewHandler(cfg)
	if err != nil {
		return nil, err
	}
	if env.Logger != nil {
		env.Logger.Info("telegram surface configured", slog.String("webhook", env.PublicURL+Path))
	}
	return &surface.Parts{Channel: ch, CheckTarget: CheckTarget, Handlers: map[string]http.Handler{"POST " + Path: env.Limits.Interactions.Wrap(h)}}, nil
}
