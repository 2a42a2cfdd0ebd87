package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/hitl-dev/hitl/internal/ratelimit"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/surface"
	"github.com/hitl-dev/hitl/surface/console"
	"github.com/hitl-dev/hitl/surface/email"
	"github.com/hitl-dev/hitl/surface/slack"
	"github.com/hitl-dev/hitl/surface/telegram"
	"github.com/hitl-dev/hitl/surface/web"
	"github.com/hitl-dev/hitl/surface/webhook"
)

// Surfaces are the surfaces a process can build, by the name of their section in the
// routing file. Adding a surface is its folder under surface/ and one line here.
var Surfaces = []struct {
	Name  string
	Build surface.Build
}{
	{"slack", slack.Build},
	{"email", email.Build},
	{"web", web.Build},
	{"telegram", telegram.Build},
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
	// defaultAllow is the allow-list when neither the environment nor the file sets one.
	defaultAllow []string
	tokens       []string         // every API token: HITL_API_TOKENS, then the file's api_tokens
	limits       ratelimit.Limits // the responder's rate limits
}

// env is what every surface is built from.
func (d deps) env(section string) surface.Env {
	var secret []byte
	if len(d.cfg.LinkSecret) >= 16 {
		secret = []byte(d.cfg.LinkSecret)
	}
	return surface.Env{Store: d.store, Routes: func() *routing.Routes { return *d.routes }, LinkSecret: secret,
		APITokens: d.tokens, Limits: d.limits, PublicURL: d.cfg.PublicURL, Logger: d.log, Metrics: d.metrics, Raw: d.file.Section(section)}
}

// allowPrivate is the allow-list of webhook targets and callbacks: the flag or the
// environment, else the routing file, else the role's default (loopback in Dev, none
// otherwise).
func (d deps) allowPrivate() []string {
	if len(d.cfg.AllowPrivateTargets) > 0 {
		return d.cfg.AllowPrivateTargets
	}
	if len(d.file.AllowPrivateTargets) > 0 {
		return d.file.AllowPrivateTargets
	}
	return d.defaultAllow
}

// webhookSurface is built in: its targets come from --webhooks as well as the file, and
// its allow-list is also the callbacks'.
func webhookSurface(d deps) (*surface.Parts, error) {
	c := d.cfg
	targets := map[string]string{}
	for name, u := range d.file.Webhooks {
		targets[name] = u
	}
	for name, u := range c.Webhooks { // the environment wins
		targets[name] = u
	}
	wh, err := webhook.New(webhook.Config{Targets: targets, Secret: c.WebhookSecret, AllowPrivate: d.allowPrivate()})
	if err != nil {
		return nil, err
	}
	if c.WebhookSecret == "" && len(targets) > 0 {
		d.log.Warn("HITL_WEBHOOK_SECRET is not set: webhook deliveries are unsigned")
	}
	return &surface.Parts{Channel: wh, CheckTarget: func(target string) error {
		if !wh.HasTarget(target) {
			return fmt.Errorf("no webhook named %q is configured (HITL_WEBHOOKS)", target)
		}
		return nil
	}}, nil
}

// system is every configured surface, the routes over them, and the callback channel.
type system struct {
	surfaces  []*surface.Parts
	routes    *routing.Routes
	callbacks notify.Channel
}

func buildSurfaces(d deps) (*system, error) {
	sys := &system{}
	var errs []error
	known := map[string]bool{}
	for _, s := range Surfaces {
		known[s.Name] = true
	}
	for name := range d.file.Sections {
		if !known[name] {
			errs = append(errs, fmt.Errorf("config: section %q names no surface (known: webhooks, groups, public_url, api_tokens, %s)",
				name, strings.Join(surfaceNames(), ", ")))
		}
	}
	wh, err := webhookSurface(d)
	if err != nil {
		errs = append(errs, err)
	} else {
		sys.surfaces = append(sys.surfaces, wh)
	}
	if cb, err := webhook.NewCallbacks(webhook.CallbacksConfig{Secret: d.cfg.CallbackSecret, AllowPrivate: d.allowPrivate()}); err != nil {
		errs = append(errs, err)
	} else {
		sys.callbacks = cb
	}
	for _, s := range Surfaces {
		parts, err := s.Build(d.env(s.Name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if parts != nil {
			sys.surfaces = append(sys.surfaces, parts)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	kinds := []string{}
	checks := map[string]func(string) error{}
	for _, p := range sys.surfaces {
		kind := p.Kind
		if kind == "" && p.Channel != nil {
			kind = p.Channel.Kind()
		}
		if kind != "" {
			kinds = append(kinds, kind)
			checks[kind] = p.CheckTarget
		}
	}
	routes, err := routing.New(kinds, d.file.Groups, checks)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	sys.routes = routes
	*d.routes = routes
	return sys, nil
}

func surfaceNames() []string {
	names := make([]string, len(Surfaces))
	for i, s := range Surfaces {
		names[i] = s.Name
	}
	return names
}

func (sys *system) notifier(d deps) (*notify.Notifier, error) {
	c := d.cfg
	if c.CallbackSecret == "" {
		d.log.Warn("HITL_CALLBACK_SECRET is not set: callbacks to callback_url are unsigned")
	}
	if allow := d.allowPrivate(); len(allow) > 0 {
		d.log.Info("webhooks and callbacks may reach these non-public addresses", slog.String("allow_private_targets", strings.Join(allow, ",")))
	}
	cfg := notify.Config{Store: d.store, Routes: sys.routes, Callbacks: sys.callbacks,
		LinkSecret: []byte(c.LinkSecret), PublicURL: c.PublicURL, Workers: c.Workers, Logger: d.log, Metrics: d.metrics}
	for _, s := range sys.surfaces {
		if s.Channel != nil {
			cfg.Channels = append(cfg.Channels, s.Channel)
		}
	}
	if d.console != nil {
		cfg.Observers = []notify.Channel{&console.Channel{W: d.console, BaseURL: c.PublicURL}}
	}
	return notify.New(cfg)
}

func (sys *system) mount(mux *http.ServeMux) {
	for _, s := range sys.surfaces {
		for pattern, h := range s.Handlers {
			mux.Handle(pattern, h)
		}
	}
}
