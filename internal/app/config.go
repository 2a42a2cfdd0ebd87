// Package app wires hitl's services from configuration: the thin mains of cmd/ and the
// tests build the system through it.
package app

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/jobapi"
	"github.com/hitl-dev/hitl/surface/webhook"
)

// Config of a hitl process. Every field has a flag and an environment twin.
type Config struct {
	// NATS is the NATS URL services connect to (HITL_NATS, else NATS_URL). In `hitl dev` it is
	// also where the embedded server listens. Default "127.0.0.1:4222".
	NATS string
	// HTTP is the listen address of the API and /metrics (HITL_HTTP). Default ":8080".
	HTTP string
	// Data is the directory of the embedded server's file storage (HITL_DATA, `hitl dev` only).
	// Default "./data".
	Data string
	// PublicURL is the base of links sent to people and bots (HITL_PUBLIC_URL). Default
	// http://localhost:<port of HTTP>.
	PublicURL string
	// LinkSecret signs respond_url tokens (HITL_LINK_SECRET). Required outside dev; dev keeps
	// one in the data directory.
	LinkSecret string
	// APITokens guard the REST API (HITL_API_TOKENS, comma separated). Required by
	// cmd/responder unless Insecure; optional in dev.
	APITokens []string
	// Webhooks are the named webhook targets (HITL_WEBHOOKS="name=url,...").
	Webhooks map[string]string
	// WebhookSecret signs webhook deliveries, "whsec_..." (HITL_WEBHOOK_SECRET).
	WebhookSecret string
	// Replicas of streams and buckets (HITL_REPLICAS): 1 for one server, 3 for a cluster.
	Replicas int
	// Workers per consumer (HITL_WORKERS). Default 128: handlers mostly wait on JetStream.
	Workers int
	// Insecure lets the responder serve without API tokens (HITL_INSECURE).
	Insecure bool
	// LogLevel: debug, info, warn, error (HITL_LOG_LEVEL). Default info.
	LogLevel string
	// ConfigFile is the routing file (HITL_CONFIG): channels, webhooks and groups; see
	// hitl.example.yaml. Optional: everything in it can come from the environment.
	ConfigFile string
	// JobWorkflow is the workflow every job of the Masumi job API runs (HITL_JOB_WORKFLOW).
	// Default "approval-gate".
	JobWorkflow string

	// Set by code, not flags.
	Registry *hitl.Registry // workflows the orchestrator hosts
	Console  io.Writer      // when set, every request is printed here (the console channel)
	Logger   *slog.Logger
}

// Flags registers the flags on fs with defaults from the environment, and returns a function
// that completes the config after fs.Parse.
func Flags(fs *flag.FlagSet, dev bool) (*Config, func() error) {
	c := &Config{}
	env := func(name, def string) string {
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return def
	}
	natsDef := env("HITL_NATS", env("NATS_URL", "127.0.0.1:4222"))
	fs.StringVar(&c.NATS, "nats", natsDef, "NATS address (env HITL_NATS)")
	fs.StringVar(&c.HTTP, "http", env("HITL_HTTP", ":8080"), "HTTP listen address for the API and /metrics (env HITL_HTTP)")
	if dev {
		fs.StringVar(&c.Data, "data", env("HITL_DATA", "./data"), "data directory of the embedded JetStream (env HITL_DATA)")
	}
	fs.StringVar(&c.PublicURL, "public-url", env("HITL_PUBLIC_URL", ""), "base URL of links sent out (env HITL_PUBLIC_URL)")
	fs.StringVar(&c.LogLevel, "log-level", env("HITL_LOG_LEVEL", "info"), "debug, info, warn or error (env HITL_LOG_LEVEL)")
	fs.StringVar(&c.ConfigFile, "config", env("HITL_CONFIG", ""), "routing file: channels, webhooks, groups (env HITL_CONFIG)")
	fs.StringVar(&c.JobWorkflow, "job-workflow", env("HITL_JOB_WORKFLOW", jobapi.DefaultWorkflow),
		"workflow the Masumi job API (/start_job) runs (env HITL_JOB_WORKFLOW)")
	webhooks := fs.String("webhooks", env("HITL_WEBHOOKS", ""), "webhook targets name=url,name2=url2 (env HITL_WEBHOOKS)")
	tokens := fs.String("api-tokens", env("HITL_API_TOKENS", ""), "comma separated API tokens (env HITL_API_TOKENS)")
	replicas := fs.String("replicas", env("HITL_REPLICAS", "1"), "replicas of streams and buckets (env HITL_REPLICAS)")
	workers := fs.String("workers", env("HITL_WORKERS", "128"), "concurrent handlers per consumer (env HITL_WORKERS)")
	insecure := fs.Bool("insecure", env("HITL_INSECURE", "") == "true", "serve the API without tokens (env HITL_INSECURE=true)")
	return c, func() error {
		c.LinkSecret = os.Getenv("HITL_LINK_SECRET")
		c.WebhookSecret = os.Getenv("HITL_WEBHOOK_SECRET")
		c.Insecure = *insecure
		var errs []error
		var err error
		if c.Webhooks, err = webhook.ParseTargets(*webhooks); err != nil {
			errs = append(errs, err)
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
		switch c.LogLevel {
		case "debug", "info", "warn", "error":
		default:
			errs = append(errs, fmt.Errorf("log level must be debug, info, warn or error, not %q", c.LogLevel))
		}
		return errors.Join(errs...)
	}
}

// NewLogger returns a text logger on stderr at the configured level.
func (c *Config) NewLogger() *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

// DevLinkSecret returns HITL_LINK_SECRET, or the secret kept in the data directory, created
// on first use, so that links stay valid across restarts of `hitl dev`.
func DevLinkSecret(dataDir string) (string, error) {
	if s := os.Getenv("HITL_LINK_SECRET"); s != "" {
		return s, nil
	}
	path := filepath.Join(dataDir, "link-secret")
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
		return "", fmt.Errorf("keep link secret: %w", err)
	}
	return s, nil
}
