package server

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/egress"
	"github.com/hitl-dev/hitl/jobapi"
	"github.com/hitl-dev/hitl/respond"
	"github.com/hitl-dev/hitl/streams"
	"github.com/hitl-dev/hitl/surface/webhook"
)

// Config is what every role shares. Each field has a flag and an environment twin, read by
// Config.Flags; a zero field takes the default its comment states (see WithDefaults).
type Config struct {
	// NATS is the NATS URL to connect to: host:port, nats://host:port, or a comma-separated
	// list of them (--nats, HITL_NATS, else NATS_URL). In Dev it is also where the embedded
	// server listens. Default "127.0.0.1:4222".
	NATS string
	// NATSAuth is how to authenticate to NATS and check its TLS certificate: creds, nkey,
	// user and password, or token, and a CA and client certificate (HITL_NATS_CREDS,
	// HITL_NATS_NKEY, HITL_NATS_USER, HITL_NATS_PASSWORD, HITL_NATS_TOKEN, HITL_NATS_TLS_CA,
	// HITL_NATS_TLS_CERT, HITL_NATS_TLS_KEY; see NATSAuth). Default none. In Dev, the
	// credentials of the embedded server.
	NATSAuth NATSAuth
	// HTTP is the listen address of /metrics, /healthz, /readyz and, on a responder, the API and the
	// pages people answer on (--http, HITL_HTTP). Default "127.0.0.1:8080", loopback only:
	// serving other machines is explicit, e.g. ":8080".
	HTTP string
	// PublicURL is the base of links sent to people and bots (--public-url, HITL_PUBLIC_URL,
	// else the routing file's public_url). Default http://localhost:<port of HTTP>.
	PublicURL string
	// LinkSecret signs the links in notifications (HITL_LINK_SECRET, at least 16 characters).
	// Required by notifiers and responders; Dev keeps one in its data directory.
	LinkSecret string
	// APITokens guard the REST API, the job API and the inbox's sign-in (--api-tokens,
	// HITL_API_TOKENS, comma separated), each "name:scope:token" with scope read, answer or
	// admin, or a bare token, which is an admin named token-N; the routing file's api_tokens
	// add more. Each at least 16 characters, except in Dev. Required by a responder unless
	// Insecure; optional in Dev, which then accepts every caller.
	APITokens []string
	// RateLimits are the per-client limits of the responder's edges; see RateLimits.
	RateLimits RateLimits
	// HTTPTimeouts bound every connection of the HTTP server; see HTTPTimeouts.
	HTTPTimeouts HTTPTimeouts
	// Webhooks are the named webhook targets (--webhooks, HITL_WEBHOOKS="name=url,...").
	// Default none; the routing file may name more.
	Webhooks map[string]string
	// WebhookSecret signs webhook deliveries, "whsec_..." (HITL_WEBHOOK_SECRET). Default
	// none: deliveries are unsigned, and a warning says so.
	WebhookSecret string
	// CallbackSecret signs the resolved events sent to standalone requests' callback_url,
	// "whsec_..." (HITL_CALLBACK_SECRET). It must differ from WebhookSecret: callers pick
	// callback URLs, bots trust the webhook secret. Default none: callbacks are unsigned,
	// and a notifier's warning says so.
	CallbackSecret string
	// AllowPrivateTargets are the non-public addresses webhook targets and callback_url may
	// reach (--allow-private-targets, HITL_ALLOW_PRIVATE_TARGETS, else the routing file's
	// allow_private_targets): comma-separated CIDR prefixes ("10.0.0.0/8"), addresses
	// ("127.0.0.1"), host names ("bot.internal"), or "*" for every address. Default none:
	// only public unicast addresses; Dev defaults to loopback (DevAllowPrivateTargets).
	AllowPrivateTargets []string
	// Replicas of streams and buckets (--replicas, HITL_REPLICAS): 1 for one server, 3 or 5
	// for a cluster. Default 1.
	Replicas int
	// Workers is how many messages each consumer handles at once (--workers, HITL_WORKERS).
	// Default 128: handlers mostly wait on JetStream.
	Workers int
	// Insecure lets a responder serve the API without tokens (--insecure, HITL_INSECURE=true).
	// Default false.
	Insecure bool
	// LogLevel is debug, info, warn or error (--log-level, HITL_LOG_LEVEL). Default info.
	LogLevel string
	// ConfigFile is the routing file (--config, HITL_CONFIG): channels, webhooks and groups;
	// see hitl.example.yaml. Default none: everything in it can come from the environment.
	ConfigFile string
	// JobWorkflow is the workflow every job of the Masumi job API runs (--job-workflow,
	// HITL_JOB_WORKFLOW). Default "approval-gate".
	JobWorkflow string
	// MaxWaits caps the long-polls (/wait) a responder holds at once (--max-waits,
	// HITL_MAX_WAITS); past it a wait is answered 429. Default 5000.
	MaxWaits int
	// MaxWaitsPerCaller caps the long-polls of one API token, one link subject or, without
	// tokens, one client IP (--max-waits-per-caller, HITL_MAX_WAITS_PER_CALLER). Default 1000.
	MaxWaitsPerCaller int
	// Retention is how long finished requests and runs, their events and their delivery
	// records are kept before JetStream removes them (--retention, HITL_RETENTION, e.g.
	// "720h"; whole seconds, 1s to 87600h). A request or run may set its own. Default 720h
	// (30 days, streams.DefaultRetention).
	Retention time.Duration

	// Logger receives the service's logs. Default: a text logger on stderr at LogLevel.
	Logger  *slog.Logger
	natsEnv []string // in Dev: the variables that connect to the embedded server

	// Ready, when set, is called once the process is ready (streams ensured, services running;
	// /readyz answers 200 from then), with where it listens: tests and
	// tools that start a service on port 0 learn its address.
	Ready func(Listening)
}

// Listening is where a running process can be reached.
type Listening struct {
	HTTP      net.Addr // the bound HTTP address
	PublicURL string   // the base of links sent out
	NATS      string   // the NATS URL the process uses (in Dev, the embedded server's), password redacted
	// AllowPrivateTargets is the allow-list of webhook targets and callbacks in effect.
	AllowPrivateTargets []string
	// NATSEnv, in Dev, are the HITL_NATS* variables (KEY=value, the password included) that
	// connect services, the CLI and a team's own host to the embedded server.
	NATSEnv []string
}

// Defaults.
const (
	DefaultNATS     = "127.0.0.1:4222"
	DefaultHTTP     = "127.0.0.1:8080"
	DefaultWorkers  = 128
	DefaultLogLevel = "info"
	DefaultData     = "./data"
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.NATS = cmp.Or(c.NATS, DefaultNATS)
	c.HTTP = cmp.Or(c.HTTP, DefaultHTTP)
	c.Replicas = cmp.Or(c.Replicas, 1)
	c.Workers = cmp.Or(c.Workers, DefaultWorkers)
	c.LogLevel = cmp.Or(c.LogLevel, DefaultLogLevel)
	c.JobWorkflow = cmp.Or(c.JobWorkflow, jobapi.DefaultWorkflow)
	c.RateLimits = c.RateLimits.WithDefaults()
	c.HTTPTimeouts = c.HTTPTimeouts.WithDefaults()
	c.Retention = cmp.Or(c.Retention, streams.DefaultRetention)
	if c.Logger == nil {
		c.Logger = c.newLogger()
	}
	return c
}

// validate checks the fields every role reads; each role adds its own checks.
func (c Config) validate() error {
	var errs []error
	if c.Replicas != 1 && c.Replicas != 3 && c.Replicas != 5 {
		errs = append(errs, fmt.Errorf("replicas must be 1, 3 or 5, not %d", c.Replicas))
	}
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("workers must be a positive number, not %d", c.Workers))
	}
	if !validLevel(c.LogLevel) {
		errs = append(errs, fmt.Errorf("log level must be debug, info, warn or error, not %q", c.LogLevel))
	}
	if u, err := url.Parse(c.PublicURL); c.PublicURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		errs = append(errs, fmt.Errorf("public URL (--public-url, HITL_PUBLIC_URL) must be an absolute http or https URL, not %q", c.PublicURL))
	}
	if _, err := egress.New(c.AllowPrivateTargets); err != nil {
		errs = append(errs, fmt.Errorf("HITL_ALLOW_PRIVATE_TARGETS: %w", err))
	}
	if c.CallbackSecret != "" {
		if _, err := webhook.NewSigner(c.CallbackSecret); err != nil {
			errs = append(errs, fmt.Errorf("HITL_CALLBACK_SECRET: %w", err))
		} else if c.CallbackSecret == c.WebhookSecret {
			errs = append(errs, errors.New("HITL_CALLBACK_SECRET must differ from HITL_WEBHOOK_SECRET (callers choose callback URLs; bots trust the webhook secret)"))
		}
	}
	if c.WebhookSecret != "" {
		if _, err := webhook.NewSigner(c.WebhookSecret); err != nil {
			errs = append(errs, fmt.Errorf("HITL_WEBHOOK_SECRET: %w", err))
		}
	}
	if err := validRetention(c.Retention); err != nil {
		errs = append(errs, err)
	}
	if err := c.NATSAuth.validate(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.RateLimits.validate(), c.HTTPTimeouts.validate())
	return errors.Join(errs...)
}

// validRetention checks HITL_RETENTION: JetStream counts message TTLs in whole seconds.
func validRetention(d time.Duration) error {
	if d < time.Second || d > events.MaxRetention || d%time.Second != 0 {
		return fmt.Errorf("retention (--retention, HITL_RETENTION) must be whole seconds between 1s and 87600h, not %s", d)
	}
	return nil
}

// DevAllowPrivateTargets is what Dev allows when AllowPrivateTargets is empty: loopback, so
// that bots and callback receivers on the same machine work out of the box. Nothing else
// private is reachable, and the production roles allow none by default.
var DevAllowPrivateTargets = []string{"127.0.0.0/8", "::1", "localhost"}

func validLevel(l string) bool {
	switch l {
	case "debug", "info", "warn", "error":
		return true
	}
	return false
}

// needLinkSecret is the check of the roles that sign or verify links.
func (c Config) needLinkSecret() error {
	if len(c.LinkSecret) < 16 {
		return errors.New("HITL_LINK_SECRET must be set, at least 16 characters (it signs the links in notifications)")
	}
	return nil
}

// env returns the environment variable name, or def when it is not set.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// Flags registers hitl's flags on fs, each defaulting to its environment twin, and returns
// the function that completes c after fs.Parse: it reads the secrets (environment only,
// never flags, so they stay out of process listings) and checks what was given. Every hitl
// command and every user's main built on Main parse the same flags and variables.
func (c *Config) Flags(fs *flag.FlagSet) (complete func() error) {
	fs.StringVar(&c.NATS, "nats", env("HITL_NATS", env("NATS_URL", cmp.Or(c.NATS, DefaultNATS))), "NATS address (env HITL_NATS)")
	fs.StringVar(&c.HTTP, "http", env("HITL_HTTP", cmp.Or(c.HTTP, DefaultHTTP)), "HTTP listen address for the API and /metrics (env HITL_HTTP)")
	fs.StringVar(&c.PublicURL, "public-url", env("HITL_PUBLIC_URL", c.PublicURL), "base URL of links sent out (env HITL_PUBLIC_URL)")
	fs.StringVar(&c.LogLevel, "log-level", env("HITL_LOG_LEVEL", cmp.Or(c.LogLevel, DefaultLogLevel)), "debug, info, warn or error (env HITL_LOG_LEVEL)")
	fs.StringVar(&c.ConfigFile, "config", env("HITL_CONFIG", c.ConfigFile), "routing file: channels, webhooks, groups (env HITL_CONFIG)")
	fs.StringVar(&c.JobWorkflow, "job-workflow", env("HITL_JOB_WORKFLOW", cmp.Or(c.JobWorkflow, jobapi.DefaultWorkflow)),
		"workflow the Masumi job API (/start_job) runs (env HITL_JOB_WORKFLOW)")
	webhooks := fs.String("webhooks", env("HITL_WEBHOOKS", ""), "webhook targets name=url,name2=url2 (env HITL_WEBHOOKS)")
	allow := fs.String("allow-private-targets", env("HITL_ALLOW_PRIVATE_TARGETS", strings.Join(c.AllowPrivateTargets, ",")),
		"non-public addresses webhooks and callbacks may reach: CIDRs, addresses, host names or * (env HITL_ALLOW_PRIVATE_TARGETS)")
	tokens := fs.String("api-tokens", env("HITL_API_TOKENS", ""), "comma separated API tokens, name:scope:token or bare (env HITL_API_TOKENS)")
	replicas := fs.String("replicas", env("HITL_REPLICAS", strconv.Itoa(cmp.Or(c.Replicas, 1))), "replicas of streams and buckets (env HITL_REPLICAS)")
	workers := fs.String("workers", env("HITL_WORKERS", strconv.Itoa(cmp.Or(c.Workers, DefaultWorkers))), "concurrent handlers per consumer (env HITL_WORKERS)")
	natsSecrets := c.NATSAuth.flags(fs)
	maxWaits := fs.String("max-waits", env("HITL_MAX_WAITS", strconv.Itoa(cmp.Or(c.MaxWaits, respond.DefaultMaxWaits))),
		"long-polls a responder holds at once (env HITL_MAX_WAITS)")
	maxWaitsPerCaller := fs.String("max-waits-per-caller", env("HITL_MAX_WAITS_PER_CALLER", strconv.Itoa(cmp.Or(c.MaxWaitsPerCaller, respond.DefaultMaxWaitsPerCaller))),
		"long-polls of one API token, link subject or client IP (env HITL_MAX_WAITS_PER_CALLER)")
	retention := fs.String("retention", env("HITL_RETENTION", cmp.Or(c.Retention, streams.DefaultRetention).String()),
		"how long finished requests and runs are kept, e.g. 720h (env HITL_RETENTION)")
	completeLimits := c.RateLimits.flags(fs)
	completeTimeouts := c.HTTPTimeouts.flags(fs)
	insecure := fs.Bool("insecure", env("HITL_INSECURE", "") == "true" || c.Insecure, "serve the API without tokens (env HITL_INSECURE=true)")
	return func() error {
		c.LinkSecret = env("HITL_LINK_SECRET", c.LinkSecret)
		c.WebhookSecret = env("HITL_WEBHOOK_SECRET", c.WebhookSecret)
		c.CallbackSecret = env("HITL_CALLBACK_SECRET", c.CallbackSecret)
		c.AllowPrivateTargets = egress.Split(*allow)
		c.Insecure = *insecure
		natsSecrets()
		errs := []error{completeLimits(), completeTimeouts()}
		var err error
		if *webhooks != "" {
			if c.Webhooks, err = webhook.ParseTargets(*webhooks); err != nil {
				errs = append(errs, err)
			}
		}
		for t := range strings.SplitSeq(*tokens, ",") {
			if t = strings.TrimSpace(t); t != "" {
				c.APITokens = append(c.APITokens, t)
			}
		}
		if c.Replicas, err = strconv.Atoi(*replicas); err != nil || (c.Replicas != 1 && c.Replicas != 3 && c.Replicas != 5) {
			errs = append(errs, fmt.Errorf("replicas must be 1, 3 or 5, not %q", *replicas))
		}
		if c.Workers, err = strconv.Atoi(*workers); err != nil || c.Workers < 1 {
			errs = append(errs, fmt.Errorf("workers must be a positive number, not %q", *workers))
		}
		if c.MaxWaits, err = strconv.Atoi(*maxWaits); err != nil || c.MaxWaits < 1 {
			errs = append(errs, fmt.Errorf("max waits must be a positive number, not %q", *maxWaits))
		}
		if c.MaxWaitsPerCaller, err = strconv.Atoi(*maxWaitsPerCaller); err != nil || c.MaxWaitsPerCaller < 1 {
			errs = append(errs, fmt.Errorf("max waits per caller must be a positive number, not %q", *maxWaitsPerCaller))
		}
		if !validLevel(c.LogLevel) {
			errs = append(errs, fmt.Errorf("log level must be debug, info, warn or error, not %q", c.LogLevel))
		}
		if c.Retention, err = time.ParseDuration(*retention); err != nil {
			errs = append(errs, fmt.Errorf("retention (--retention, HITL_RETENTION) must be a duration like 720h, not %q", *retention))
		} else if err := validRetention(c.Retention); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
}

// newLogger returns a text logger on stderr at the configured level.
func (c Config) newLogger() *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cmp.Or(c.LogLevel, DefaultLogLevel)))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

// DevLinkSecret returns HITL_LINK_SECRET, or the secret kept in the data directory, created
// on first use, so that links stay valid across restarts of `hitl dev`.
func DevLinkSecret(dataDir string) (string, error) {
	if s := os.Getenv("HITL_LINK_SECRET"); s != "" {
		return s, nil
	}
	return keepSecret(dataDir, "link-secret", "link secret")
}

// keepSecret returns the secret in dataDir/name, created (32 random bytes, hex, mode 0600)
// when missing or shorter than 16 characters.
func keepSecret(dataDir, name, what string) (string, error) {
	path := filepath.Join(dataDir, name)
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 16 {
		return strings.TrimSpace(string(b)), nil
	}
	buf := make([]byte, 32)
	_, _ = rand.Read(buf)
	s := hex.EncodeToString(buf)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keep %s: %w", what, err)
	}
	return s, nil
}
