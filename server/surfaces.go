package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/surface/console"
	"github.com/hitl-dev/hitl/surface/webhook"
)

// surface is one way of reaching people: the notifier's channel for it and, when people
// answer on it, the responder's HTTP handlers (Slack interactions, email links, web pages).
type surface struct {
	channel notify.Channel
	// check validates an assignee target of this channel's kind (nil: any target).
	check func(target string) error
	// routes are mounted on the responder's mux, pattern → handler.
	routes map[string]http.Handler
}

// deps is what surface builders may use. Routes is set only after every surface is built,
// so handlers must read it when serving, through the pointer.
type deps struct {
	cfg     *Config
	console io.Writer
	file    *routing.File
	store   *store.Store
	log     *slog.Logger
	metrics *metrics.Metrics
	routes  **routing.Routes
}

// surfaceBuilders build the configured surfaces; a builder returns nil when its channel is
// not configured. Each lives in a file of its own.
var surfaceBuilders = []func(d deps) (*surface, error){
	webhookSurface,
	slackSurface,
	telegramSurface,
	webSurface,
	emailSurface,
}

func webhookSurface(d deps) (*surface, error) {
	c := d.cfg
	targets := map[string]string{}
	for name, u := range d.file.Webhooks {
		targets[name] = u
	}
	for name, u := range c.Webhooks { // the environment wins
		targets[name] = u
	}
	wh, err := webhook.New(webhook.Config{Targets: targets, Secret: c.WebhookSecret})
	if err != nil {
		return nil, err
	}
	if c.WebhookSecret == "" && len(targets) > 0 {
		d.log.Warn("HITL_WEBHOOK_SECRET is not set: webhook deliveries are unsigned")
	}
	return &surface{channel: wh, check: func(target string) error {
		if !wh.HasTarget(target) {
			return fmt.Errorf("no webhook named %q is configured (HITL_WEBHOOKS)", target)
		}
		return nil
	}}, nil
}

// system is every configured surface, the routes over them, and the callback channel.
type system struct {
	surfaces  []*surface
	routes    *routing.Routes
	callbacks notify.Channel
}

func buildSurfaces(d deps) (*system, error) {
	sys := &system{}
	var errs []error
	kinds := []string{}
	checks := map[string]func(string) error{}
	for _, build := range surfaceBuilders {
		s, err := build(d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if s == nil {
			continue
		}
		sys.surfaces = append(sys.surfaces, s)
		if s.channel != nil {
			kinds = append(kinds, s.channel.Kind())
			checks[s.channel.Kind()] = s.check
			if wh, ok := s.channel.(*webhook.Channel); ok {
				sys.callbacks = wh.Callbacks()
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	routes, err := routing.New(kinds, d.file.Groups, checks)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	sys.routes = routes
	*d.routes = routes
	return sys, nil
}

func (sys *system) notifier(d deps) (*notify.Notifier, error) {
	c := d.cfg
	cfg := notify.Config{Store: d.store, Routes: sys.routes, Callbacks: sys.callbacks,
		LinkSecret: []byte(c.LinkSecret), PublicURL: c.PublicURL, Workers: c.Workers, Logger: d.log, Metrics: d.metrics}
	for _, s := range sys.surfaces {
		if s.channel != nil {
			cfg.Channels = append(cfg.Channels, s.channel)
		}
	}
	if d.console != nil {
		cfg.Observers = []notify.Channel{&console.Channel{W: d.console, BaseURL: c.PublicURL}}
	}
	return notify.New(cfg)
}

func (sys *system) mount(mux *http.ServeMux) {
	for _, s := range sys.surfaces {
		for pattern, h := range s.routes {
			mux.Handle(pattern, h)
		}
	}
}
