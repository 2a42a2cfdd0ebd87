package server

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/surface/telegram"
)

// telegramSurface is the Telegram channel and its webhook (/telegram/webhook), configured
// by HITL_TELEGRAM_BOT_TOKEN and HITL_TELEGRAM_SECRET_TOKEN (or the routing file's
// telegram: section), with HITL_TELEGRAM_API_URL to aim at a fake. Neither set: no
// Telegram. See docs/telegram.md.
func telegramSurface(d deps) (*surface, error) {
	tc := d.file.Telegram
	if tc.BotToken == "" && tc.SecretToken == "" {
		return nil, nil
	}
	if tc.BotToken == "" || tc.SecretToken == "" {
		return nil, errors.New("telegram: set both HITL_TELEGRAM_BOT_TOKEN and HITL_TELEGRAM_SECRET_TOKEN (see docs/telegram.md)")
	}
	cfg := telegram.Config{BotToken: tc.BotToken, SecretToken: tc.SecretToken, APIURL: tc.APIURL, Store: d.store,
		Routes: func() *routing.Routes { return *d.routes }, Logger: d.log, Metrics: d.metrics}
	ch, err := telegram.NewChannel(cfg)
	if err != nil {
		return nil, err
	}
	h, err := telegram.NewHandler(cfg)
	if err != nil {
		return nil, err
	}
	d.log.Info("telegram surface configured", slog.String("webhook", d.cfg.PublicURL+telegram.Path))
	return &surface{channel: ch, check: telegram.CheckTarget,
		routes: map[string]http.Handler{"POST " + telegram.Path: h}}, nil
}
