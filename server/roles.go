package server

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/internal/embedded"
)

// Role is one way to run hitl: Orchestrator, Notifier, Responder or Dev. Main runs any of
// them with hitl's flags and environment.
type Role interface {
	// Flags registers the role's flags on fs and returns the function that completes the
	// role's config once fs is parsed.
	Flags(fs *flag.FlagSet) (complete func() error)
	// Run serves until ctx ends, then drains its consumers and returns. It fails at start
	// on a config that does not validate, or when NATS or the HTTP address is unusable.
	Run(ctx context.Context) error
}

// Orchestrator hosts workflows: it starts runs, applies answers and timeouts, and resumes
// runs from their checkpoints. Run as many as needed; instances share the work.
type Orchestrator struct {
	Config
	// Workflows are the workflows this instance hosts. Required.
	Workflows *hitl.Registry
}

// WithDefaults returns o with every zero field at its default.
func (o Orchestrator) WithDefaults() Orchestrator { o.Config = o.Config.WithDefaults(); return o }

func (o Orchestrator) validate() error {
	var errs []error
	if o.Workflows == nil {
		errs = append(errs, errors.New("orchestrator: Workflows is required (a *hitl.Registry with the workflows to host)"))
	}
	return errors.Join(append(errs, o.Config.validate())...)
}

// Run serves until ctx ends.
func (o *Orchestrator) Run(ctx context.Context) error {
	r := o.WithDefaults()
	if err := r.validate(); err != nil {
		return err
	}
	return run(ctx, &process{cfg: r.Config, orchestrator: true, workflows: r.Workflows})
}

// Notifier delivers questions to people and bots (Slack, email, webhooks, ...) and updates
// them when they resolve. Run as many as needed; instances share the work.
type Notifier struct {
	Config
}

// WithDefaults returns n with every zero field at its default.
func (n Notifier) WithDefaults() Notifier { n.Config = n.Config.WithDefaults(); return n }

func (n Notifier) validate() error {
	return errors.Join(n.Config.needLinkSecret(), n.Config.validate())
}

// Run serves until ctx ends.
func (n *Notifier) Run(ctx context.Context) error {
	r := n.WithDefaults()
	if err := r.validate(); err != nil {
		return err
	}
	return run(ctx, &process{cfg: r.Config, notifier: true})
}

// Responder is the HTTP edge where answers come in: the REST API, the job API, Slack
// interactions, email links and the web inbox. Run as many as needed.
type Responder struct {
	Config
}

// WithDefaults returns r with every zero field at its default.
func (r Responder) WithDefaults() Responder { r.Config = r.Config.WithDefaults(); return r }

func (r Responder) validate() error {
	var errs []error
	// Tokens may also come from the routing file: run checks again once it is read.
	if len(r.APITokens) == 0 && !r.Insecure && r.ConfigFile == "" {
		errs = append(errs, errors.New("HITL_API_TOKENS must be set for the responder (or HITL_INSECURE=true for a trusted network)"))
	}
	return errors.Join(append(errs, r.Config.needLinkSecret(), r.Config.validate())...)
}

// Run serves until ctx ends.
func (r *Responder) Run(ctx context.Context) error {
	d := r.WithDefaults()
	if err := d.validate(); err != nil {
		return err
	}
	return run(ctx, &process{cfg: d.Config, responder: true})
}

// Dev is everything in one process on an embedded JetStream server with file storage under
// Data: `hitl dev`. The embedded server listens on Config.NATS (loopback unless a host is
// given) so that NATS tools and separately started services (your own Orchestrator, say)
// can attach, with the credentials of DevNATSAuth: Listening.NATSEnv gives them as the
// HITL_NATS_* variables those read. Restarting on the same data directory keeps every run,
// request and the credentials.
type Dev struct {
	Config
	// Data is the directory of the embedded server's file storage and of the link secret
	// kept for links to survive restarts (--data, HITL_DATA). Default "./data".
	Data string
	// Workflows are the workflows this process hosts. Default none: runs of other
	// workflows wait, queued, for an orchestrator that hosts them.
	Workflows *hitl.Registry
	// Console, when set, receives every question as it is asked, with the command that
	// answers it. Default none.
	Console io.Writer
}

// Flags adds --data to the flags every role has.
func (d *Dev) Flags(fs *flag.FlagSet) func() error {
	fs.StringVar(&d.Data, "data", env("HITL_DATA", cmp.Or(d.Data, DefaultData)), "data directory of the embedded JetStream (env HITL_DATA)")
	return d.Config.Flags(fs)
}

// WithDefaults returns d with every zero field at its default.
func (d Dev) WithDefaults() Dev {
	d.Config = d.Config.WithDefaults()
	d.Data = cmp.Or(d.Data, DefaultData)
	if d.Workflows == nil {
		d.Workflows = hitl.NewRegistry()
	}
	return d
}

// devNATSAddr is where Dev's embedded server listens: host:port from --nats, with a missing
// host meaning loopback, never every interface; binding elsewhere takes an explicit host.
func devNATSAddr(nats string) (string, error) {
	addr := strings.TrimPrefix(nats, "nats://")
	if strings.Contains(addr, ",") || strings.Contains(addr, "@") || strings.Contains(addr, "://") {
		return "", fmt.Errorf("hitl dev: --nats is where the embedded server listens, one host:port, not %q", RedactURL(nats))
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("hitl dev: --nats %q: %w", addr, err)
	}
	return net.JoinHostPort(cmp.Or(host, "127.0.0.1"), port), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Run starts the embedded server and every service, and serves until ctx ends.
func (d *Dev) Run(ctx context.Context) error {
	dd := d.WithDefaults()
	if err := dd.Config.validate(); err != nil {
		return err
	}
	c, data := dd.Config, dd.Data
	log := c.Logger
	addr, err := devNATSAddr(c.NATS)
	if err != nil {
		return err
	}
	if c.NATSAuth, err = DevNATSAuth(data, c.NATSAuth); err != nil {
		return err
	}
	srv, err := embedded.Start(embedded.Options{StoreDir: filepath.Join(data, "jetstream"), Addr: addr, ServerName: "hitl-dev",
		User: c.NATSAuth.User, Password: c.NATSAuth.Password, Token: c.NATSAuth.Token})
	if err != nil {
		return fmt.Errorf("start embedded JetStream on %s (data in %s): %w", addr, data, err)
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	if host, _, _ := net.SplitHostPort(addr); !isLoopback(host) {
		log.Warn("the embedded NATS listens beyond this machine: anyone who reaches it and has the credentials can decide requests",
			slog.String("nats", addr))
	}
	log.Info("embedded JetStream started", "nats", srv.ClientURL(), "data", data)
	c.NATS = srv.ClientURL()
	c.natsEnv = c.NATSAuth.env(c.NATS)
	if c.LinkSecret == "" {
		if c.LinkSecret, err = DevLinkSecret(data); err != nil {
			return err
		}
	}
	return run(ctx, &process{cfg: c, dev: true, orchestrator: true, notifier: true, responder: true, workflows: dd.Workflows, console: dd.Console,
		defaultAllow: DevAllowPrivateTargets}) // a local tool: bots and receivers on this machine work
}
