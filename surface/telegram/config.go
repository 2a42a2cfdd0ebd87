package telegram

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
)

// DefaultAPIURL is Telegram's Bot API.
const DefaultAPIURL = "https://api.telegram.org"

// Kind is the assignee kind of this surface: "telegram:123456789", "telegram:@channel".
const Kind = "telegram"

// Path is where the bot's webhook points: {HITL_PUBLIC_URL}/telegram/webhook.
const Path = "/telegram/webhook"

// SecretHeader carries the webhook's secret token on every update Telegram sends.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// MinSecretLen is the shortest secret token accepted. Telegram takes 1 to 256 characters;
// hitl asks for enough that it cannot be guessed.
const MinSecretLen = 16

// Config of the Telegram surface: the channel (NewChannel) uses the Bot API fields, the
// webhook handler (NewHandler) all of them.
type Config struct {
	// BotToken is the bot's token from BotFather, "123456789:AAH…"
	// (HITL_TELEGRAM_BOT_TOKEN). Required. It is part of every Bot API URL and is never
	// logged or put in an error.
	BotToken string
	// SecretToken is the secret_token given to setWebhook, which Telegram sends in the
	// X-Telegram-Bot-Api-Secret-Token header of every update (HITL_TELEGRAM_SECRET_TOKEN):
	// MinSecretLen to 256 characters of A-Z, a-z, 0-9, _ and -. Required by NewHandler;
	// NewChannel does not use it.
	SecretToken string
	// APIURL is the base of the Bot API (HITL_TELEGRAM_API_URL), to aim at a fake or a
	// local Bot API server. Default DefaultAPIURL.
	APIURL string
	// HTTPClient calls the Bot API. Default: a client with a 10 s timeout.
	HTTPClient *http.Client

	// Store is where answers go. Required by NewHandler.
	Store *store.Store
	// Routes decides who may answer; it is called on every update, so it may be set after
	// NewHandler. Nil (or returning nil): the request's own assignees and approvers may,
	// without groups.
	Routes func() *routing.Routes
	// MaxBody caps the size of an update. Default 1 MiB.
	MaxBody int64
	// Budget is the time one update's work may take before the webhook is answered.
	// Default 5 s (Telegram retries an update whose webhook call fails or times out).
	Budget time.Duration
	// Logger receives the surface's logs. Default: discarded.
	Logger *slog.Logger
	// Metrics counts the requests answered here. Default nil: not counted.
	Metrics *metrics.Metrics
}

// WithDefaults fills the unset fields.
func (c Config) WithDefaults() Config {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	c.APIURL = strings.TrimRight(c.APIURL, "/")
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 1 << 20
	}
	if c.Budget <= 0 {
		c.Budget = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

var (
	botToken    = regexp.MustCompile(`^[0-9]{1,20}:[A-Za-z0-9_-]{1,200}$`)
	secretToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
)

// validateBot checks what the channel needs. The messages never quote the token.
func (c Config) validateBot() error {
	var errs []error
	switch {
	case c.BotToken == "":
		errs = append(errs, errors.New("telegram: the bot token is required (HITL_TELEGRAM_BOT_TOKEN, from BotFather)"))
	case !botToken.MatchString(c.BotToken):
		errs = append(errs, errors.New("telegram: the bot token is not of BotFather's form <bot id>:<secret>, e.g. 123456789:AAH… (HITL_TELEGRAM_BOT_TOKEN)"))
	}
	if u, err := url.Parse(c.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("telegram: the API URL %q is not an absolute http(s) URL (HITL_TELEGRAM_API_URL)", c.APIURL))
	}
	return errors.Join(errs...)
}

// validate checks what the handler needs.
func (c Config) validate() error {
	errs := []error{c.validateBot()}
	switch {
	case c.SecretToken == "":
		errs = append(errs, errors.New("telegram: the webhook's secret token is required (HITL_TELEGRAM_SECRET_TOKEN, the secret_token given to setWebhook)"))
	case !secretToken.MatchString(c.SecretToken):
		errs = append(errs, errors.New("telegram: the secret token may hold only A-Z, a-z, 0-9, _ and -, at most 256 of them (HITL_TELEGRAM_SECRET_TOKEN)"))
	case len(c.SecretToken) < MinSecretLen:
		errs = append(errs, fmt.Errorf("telegram: the secret token must be at least %d characters (HITL_TELEGRAM_SECRET_TOKEN); e.g. openssl rand -hex 32", MinSecretLen))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("telegram: Store is required"))
	}
	return errors.Join(errs...)
}
