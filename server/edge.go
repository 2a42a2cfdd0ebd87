package server

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hitl-dev/hitl/internal/apitoken"
	"github.com/hitl-dev/hitl/internal/ratelimit"
	"github.com/hitl-dev/hitl/respond"
	"github.com/hitl-dev/hitl/routing"
)

// RateLimits are the per-client limits of a responder's edges. A client is the remote
// address (an IPv6 client its /64), or the address in X-Forwarded-For when the request
// came through a TrustedProxies address. Each rate is "N/duration": a bucket of N that
// refills at N per duration ("10/1m": 10 at once, then one every 6 s), or "off". Past a
// limit the client gets 429 Too Many Requests with Retry-After.
type RateLimits struct {
	// Login counts failed sign-ins at /inbox/login (--rate-limit-login,
	// HITL_RATE_LIMIT_LOGIN). Default "10/1m".
	Login string
	// AuthFailures counts refused credentials on the REST and job APIs: a wrong bearer
	// token, an invalid link token (--rate-limit-auth-failures, HITL_RATE_LIMIT_AUTH_FAILURES).
	// Once used up, every credential of that client is refused until it refills. Default "20/1m".
	AuthFailures string
	// Answers counts every answer through a link or a page: POST /v1/requests/{id}/respond
	// with ?token=, the email links, the inbox's forms (--rate-limit-answers,
	// HITL_RATE_LIMIT_ANSWERS). Answers with an API token are not counted. Default "300/1m".
	Answers string
	// Interactions counts every request to the Slack and Telegram interaction endpoints
	// (--rate-limit-interactions, HITL_RATE_LIMIT_INTERACTIONS). Those come from the
	// platforms' own addresses, shared by all their users: keep it generous. Default "600/1m".
	Interactions string
	// MaxClients is how many clients each limit tracks; past it the least recently seen
	// is forgotten, so memory stays bounded (--rate-limit-clients, HITL_RATE_LIMIT_CLIENTS).
	// Default 10000.
	MaxClients int
	// TrustedProxies are the addresses and CIDR prefixes of proxies whose X-Forwarded-For
	// is believed, comma separated (--trusted-proxies, HITL_TRUSTED_PROXIES). Default none:
	// the header is ignored, since any client can send it.
	TrustedProxies string
}

// Rate limit defaults.
const (
	DefaultRateLimitLogin        = "10/1m"
	DefaultRateLimitAuthFailures = "20/1m"
	DefaultRateLimitAnswers      = "300/1m"
	DefaultRateLimitInteractions = "600/1m"
)

// WithDefaults returns l with every zero field at its default.
func (l RateLimits) WithDefaults() RateLimits {
	l.Login = cmp.Or(l.Login, DefaultRateLimitLogin)
	l.AuthFailures = cmp.Or(l.AuthFailures, DefaultRateLimitAuthFailures)
	l.Answers = cmp.Or(l.Answers, DefaultRateLimitAnswers)
	l.Interactions = cmp.Or(l.Interactions, DefaultRateLimitInteractions)
	l.MaxClients = cmp.Or(l.MaxClients, ratelimit.DefaultMaxClients)
	return l
}

func (l RateLimits) validate() error {
	_, err := l.build()
	return err
}

func (l *RateLimits) flags(fs *flag.FlagSet) func() error {
	for _, f := range []struct {
		p          *string
		name, def  string
		usage, env string
	}{
		{&l.Login, "rate-limit-login", DefaultRateLimitLogin, "failed inbox sign-ins per client", "HITL_RATE_LIMIT_LOGIN"},
		{&l.AuthFailures, "rate-limit-auth-failures", DefaultRateLimitAuthFailures, "refused API credentials per client", "HITL_RATE_LIMIT_AUTH_FAILURES"},
		{&l.Answers, "rate-limit-answers", DefaultRateLimitAnswers, "answers through links and pages per client", "HITL_RATE_LIMIT_ANSWERS"},
		{&l.Interactions, "rate-limit-interactions", DefaultRateLimitInteractions, "Slack and Telegram interactions per client", "HITL_RATE_LIMIT_INTERACTIONS"},
	} {
		fs.StringVar(f.p, f.name, env(f.env, cmp.Or(*f.p, f.def)), f.usage+`, "N/duration" or off (env `+f.env+")")
	}
	fs.StringVar(&l.TrustedProxies, "trusted-proxies", env("HITL_TRUSTED_PROXIES", l.TrustedProxies),
		"proxies whose X-Forwarded-For is believed, comma separated addresses or CIDRs (env HITL_TRUSTED_PROXIES)")
	clients := fs.String("rate-limit-clients", env("HITL_RATE_LIMIT_CLIENTS", strconv.Itoa(cmp.Or(l.MaxClients, ratelimit.DefaultMaxClients))),
		"clients each rate limit tracks (env HITL_RATE_LIMIT_CLIENTS)")
	return func() error {
		n, err := strconv.Atoi(*clients)
		if err != nil || n < 1 {
			return fmt.Errorf("rate limit clients (HITL_RATE_LIMIT_CLIENTS) must be a positive number, not %q", *clients)
		}
		l.MaxClients = n
		return l.validate()
	}
}

// build makes the limiters.
func (l RateLimits) build() (ratelimit.Limits, error) {
	var errs []error
	trusted, err := ratelimit.ParseTrusted(l.TrustedProxies)
	if err != nil {
		errs = append(errs, fmt.Errorf("HITL_TRUSTED_PROXIES: %w", err))
	}
	if l.MaxClients < 0 {
		errs = append(errs, fmt.Errorf("HITL_RATE_LIMIT_CLIENTS must be positive, not %d", l.MaxClients))
	}
	clients := ratelimit.Clients{Trusted: trusted}
	limiter := func(s, name string) *ratelimit.Limiter {
		r, err := ratelimit.ParseRate(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return nil
		}
		return ratelimit.New(ratelimit.Config{Rate: r, MaxClients: l.MaxClients, Client: clients.Key})
	}
	limits := ratelimit.Limits{
		Login:        limiter(l.Login, "HITL_RATE_LIMIT_LOGIN"),
		AuthFailures: limiter(l.AuthFailures, "HITL_RATE_LIMIT_AUTH_FAILURES"),
		Answers:      limiter(l.Answers, "HITL_RATE_LIMIT_ANSWERS"),
		Interactions: limiter(l.Interactions, "HITL_RATE_LIMIT_INTERACTIONS"),
	}
	return limits, errors.Join(errs...)
}

// HTTPTimeouts bound the HTTP server's connections, so that a client that sends slowly,
// reads slowly or idles cannot hold one for long. The long-polls (GET .../wait) may run up
// to 5 minutes: each gets its own write deadline, its longest wait plus WriteTimeout,
// instead of every response getting that much.
type HTTPTimeouts struct {
	// ReadHeader bounds reading a request's headers (HITL_HTTP_READ_HEADER_TIMEOUT).
	// Default 10s.
	ReadHeader time.Duration
	// Read bounds reading a whole request, headers and body (HITL_HTTP_READ_TIMEOUT).
	// Default 30s: a body is at most a few MiB.
	Read time.Duration
	// Write bounds writing a response, from the end of its headers' read; long-polls get
	// their wait on top (HITL_HTTP_WRITE_TIMEOUT). Default 60s, above the 30 s a request's
	// creation may take to land in JetStream.
	Write time.Duration
	// Idle bounds a keep-alive connection between requests (HITL_HTTP_IDLE_TIMEOUT).
	// Default 2m.
	Idle time.Duration
}

// WithDefaults returns t with every zero field at its default.
func (t HTTPTimeouts) WithDefaults() HTTPTimeouts {
	t.ReadHeader = cmp.Or(t.ReadHeader, 10*time.Second)
	t.Read = cmp.Or(t.Read, 30*time.Second)
	t.Write = cmp.Or(t.Write, 60*time.Second)
	t.Idle = cmp.Or(t.Idle, 2*time.Minute)
	return t
}

func (t HTTPTimeouts) validate() error {
	if t.ReadHeader < 0 || t.Read < 0 || t.Write < 0 || t.Idle < 0 {
		return errors.New("HTTP timeouts must not be negative")
	}
	return nil
}

func (t *HTTPTimeouts) flags(fs *flag.FlagSet) func() error {
	type timeout struct {
		p   *time.Duration
		v   *string
		env string
	}
	var all []timeout
	for _, f := range []struct {
		p         *time.Duration
		name, env string
		def       time.Duration
	}{
		{&t.ReadHeader, "http-read-header-timeout", "HITL_HTTP_READ_HEADER_TIMEOUT", 10 * time.Second},
		{&t.Read, "http-read-timeout", "HITL_HTTP_READ_TIMEOUT", 30 * time.Second},
		{&t.Write, "http-write-timeout", "HITL_HTTP_WRITE_TIMEOUT", 60 * time.Second},
		{&t.Idle, "http-idle-timeout", "HITL_HTTP_IDLE_TIMEOUT", 2 * time.Minute},
	} {
		what := strings.ReplaceAll(strings.TrimPrefix(f.name, "http-"), "-", " ")
		v := fs.String(f.name, env(f.env, cmp.Or(*f.p, f.def).String()), "HTTP "+what+" (env "+f.env+")")
		all = append(all, timeout{f.p, v, f.env})
	}
	return func() error {
		var errs []error
		for _, t := range all {
			d, err := time.ParseDuration(*t.v)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("%s must be a positive duration like 30s, not %q", t.env, *t.v))
				continue
			}
			*t.p = d
		}
		return errors.Join(errs...)
	}
}

// httpServer is the HTTP server of a process, with t's timeouts.
func httpServer(h http.Handler, t HTTPTimeouts) *http.Server {
	return &http.Server{Handler: longPolls(h, t.Write), ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read,
		WriteTimeout: t.Write, IdleTimeout: t.Idle}
}

// longPolls gives each long-poll (GET .../wait, of at most respond.DefaultMaxWait) a write
// deadline of its longest wait plus write, where every other response has write alone.
func longPolls(h http.Handler, write time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/wait") {
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(respond.DefaultMaxWait + write))
		}
		h.ServeHTTP(w, r)
	})
}

// apiTokens collects every API token (HITL_API_TOKENS, then the file's api_tokens) and
// checks them: well formed, unique, and at least apitoken.MinLen characters unless dev.
// Errors name HITL_API_TOKENS or the file's entry, never a token.
func (c *Config) apiTokens(file *routing.File, dev bool) ([]string, error) {
	entries := append([]string(nil), c.APITokens...)
	var errs []error
	for i, t := range file.APITokens {
		switch {
		case t.Name == "" || t.Scope == "":
			errs = append(errs, fmt.Errorf("config: api_tokens[%d]: name and scope are required", i))
			continue
		case t.Token == "":
			errs = append(errs, fmt.Errorf("config: api_tokens[%d] (%s): the token is empty (is its environment variable set?)", i, t.Name))
			continue
		}
		entries = append(entries, apitoken.Token{Name: t.Name, Scope: apitoken.Scope(t.Scope), Secret: t.Token}.String())
	}
	toks, err := apitoken.Parse(entries)
	if err != nil {
		errs = append(errs, fmt.Errorf("HITL_API_TOKENS (then the config's api_tokens): %w", err))
	}
	if !dev {
		if err := apitoken.CheckLength(toks); err != nil {
			errs = append(errs, fmt.Errorf("HITL_API_TOKENS (then the config's api_tokens): %w (generate one with: openssl rand -hex 32)", err))
		}
	}
	return entries, errors.Join(errs...)
}
