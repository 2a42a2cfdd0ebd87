package server

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSAuth is how a process proves who it is to NATS, and how it checks the server: at most
// one of Creds, NKey, User+Password or Token, optionally with TLS. File paths come from
// flags or the environment; Password and Token from the environment only, so they stay out
// of process listings. Zero means no authentication and plain TCP (a server without auth,
// such as the test servers).
type NATSAuth struct {
	// Creds is a credentials file: a user JWT and its nkey seed (--nats-creds,
	// HITL_NATS_CREDS). Default none.
	Creds string
	// NKey is a file holding a user nkey seed, "SU..." (--nats-nkey, HITL_NATS_NKEY).
	// Default none.
	NKey string
	// User is the user name; Password goes with it (--nats-user, HITL_NATS_USER). Default none.
	User string
	// Password of User (HITL_NATS_PASSWORD, environment only). Default none.
	Password string
	// Token is an authentication token (HITL_NATS_TOKEN, environment only). Default none.
	Token string
	// TLSCA is a PEM file of the CAs that sign the server's certificate (--nats-tls-ca,
	// HITL_NATS_TLS_CA); setting it requires TLS. Default: the system roots when the server
	// asks for TLS (or the URL is tls://).
	TLSCA string
	// TLSCert and TLSKey are the client certificate and its key, for servers that verify
	// clients (mTLS) (--nats-tls-cert, HITL_NATS_TLS_CERT; --nats-tls-key, HITL_NATS_TLS_KEY).
	// Both or neither. Default none.
	TLSCert, TLSKey string
}

// flags registers the file paths and the user name on fs, each defaulting to its
// environment twin, and returns the function that reads the secrets from the environment.
func (a *NATSAuth) flags(fs *flag.FlagSet) (complete func()) {
	fs.StringVar(&a.Creds, "nats-creds", env("HITL_NATS_CREDS", a.Creds), "NATS credentials file, JWT and nkey seed (env HITL_NATS_CREDS)")
	fs.StringVar(&a.NKey, "nats-nkey", env("HITL_NATS_NKEY", a.NKey), "NATS nkey seed file (env HITL_NATS_NKEY)")
	fs.StringVar(&a.User, "nats-user", env("HITL_NATS_USER", a.User), "NATS user; the password only from env HITL_NATS_PASSWORD (env HITL_NATS_USER)")
	fs.StringVar(&a.TLSCA, "nats-tls-ca", env("HITL_NATS_TLS_CA", a.TLSCA), "CA file that signs the NATS server's certificate (env HITL_NATS_TLS_CA)")
	fs.StringVar(&a.TLSCert, "nats-tls-cert", env("HITL_NATS_TLS_CERT", a.TLSCert), "client certificate for NATS mTLS (env HITL_NATS_TLS_CERT)")
	fs.StringVar(&a.TLSKey, "nats-tls-key", env("HITL_NATS_TLS_KEY", a.TLSKey), "key of the client certificate (env HITL_NATS_TLS_KEY)")
	return func() {
		a.Password = env("HITL_NATS_PASSWORD", a.Password)
		a.Token = env("HITL_NATS_TOKEN", a.Token)
	}
}

// NATSAuthFromEnv reads every HITL_NATS_* authentication variable: what tools that do not
// parse hitl's flags (the bench) use to connect like the services do.
func NATSAuthFromEnv() NATSAuth {
	return NATSAuth{
		Creds: os.Getenv("HITL_NATS_CREDS"), NKey: os.Getenv("HITL_NATS_NKEY"),
		User: os.Getenv("HITL_NATS_USER"), Password: os.Getenv("HITL_NATS_PASSWORD"), Token: os.Getenv("HITL_NATS_TOKEN"),
		TLSCA: os.Getenv("HITL_NATS_TLS_CA"), TLSCert: os.Getenv("HITL_NATS_TLS_CERT"), TLSKey: os.Getenv("HITL_NATS_TLS_KEY"),
	}
}

// validate refuses settings that cannot mean what they say: two ways to authenticate, a
// password without a user (or the reverse), half a client certificate, or a file that
// cannot be read. Errors name variables and paths, never secrets.
func (a NATSAuth) validate() error {
	var errs []error
	var ways []string
	if a.Creds != "" {
		ways = append(ways, "HITL_NATS_CREDS")
	}
	if a.NKey != "" {
		ways = append(ways, "HITL_NATS_NKEY")
	}
	if a.User != "" || a.Password != "" {
		ways = append(ways, "HITL_NATS_USER/HITL_NATS_PASSWORD")
		if a.User == "" || a.Password == "" {
			errs = append(errs, errors.New("HITL_NATS_USER and HITL_NATS_PASSWORD go together: set both or neither"))
		}
	}
	if a.Token != "" {
		ways = append(ways, "HITL_NATS_TOKEN")
	}
	if len(ways) > 1 {
		errs = append(errs, fmt.Errorf("NATS authentication: set one of %s, not several", strings.Join(ways, ", ")))
	}
	if (a.TLSCert == "") != (a.TLSKey == "") {
		errs = append(errs, errors.New("HITL_NATS_TLS_CERT and HITL_NATS_TLS_KEY go together: set both or neither"))
	}
	for _, f := range []struct{ name, path string }{{"HITL_NATS_CREDS", a.Creds}, {"HITL_NATS_NKEY", a.NKey},
		{"HITL_NATS_TLS_CA", a.TLSCA}, {"HITL_NATS_TLS_CERT", a.TLSCert}, {"HITL_NATS_TLS_KEY", a.TLSKey}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.name, err)) // the path, never the content
		}
	}
	return errors.Join(errs...)
}

// Options returns the nats.go options that authenticate as a says and set up TLS. It
// validates a first.
func (a NATSAuth) Options() ([]nats.Option, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	var opts []nats.Option
	switch {
	case a.Creds != "":
		opts = append(opts, nats.UserCredentials(a.Creds))
	case a.NKey != "":
		o, err := nats.NkeyOptionFromSeed(a.NKey)
		if err != nil {
			return nil, fmt.Errorf("HITL_NATS_NKEY %s: %w", a.NKey, err)
		}
		opts = append(opts, o)
	case a.User != "":
		opts = append(opts, nats.UserInfo(a.User, a.Password))
	case a.Token != "":
		opts = append(opts, nats.Token(a.Token))
	}
	if a.TLSCA != "" {
		opts = append(opts, nats.RootCAs(a.TLSCA))
	}
	if a.TLSCert != "" {
		opts = append(opts, nats.ClientCert(a.TLSCert, a.TLSKey))
	}
	return opts, nil
}

// natsOptions is every option a service connects with: its name, endless reconnects, logs of
// disconnects and asynchronous errors (a permissions violation arrives as one), and auth.
func natsOptions(c *Config) ([]nats.Option, error) {
	log := c.Logger
	auth, err := c.NATSAuth.Options()
	if err != nil {
		return nil, err
	}
	return append([]nats.Option{nats.Name("hitl"), nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", slog.Any("err", err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", slog.String("url", RedactURL(nc.ConnectedUrl())))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			attrs := []any{slog.Any("err", err)}
			if sub != nil {
				attrs = append(attrs, slog.String("subject", sub.Subject))
			}
			log.Error("nats error", attrs...)
		}),
	}, auth...), nil
}

// RedactURL returns the NATS URL (or comma-separated list of them) with the password or token
// of every userinfo replaced by "***", for logs and errors: nats://ada:s3cret@host:4222
// becomes nats://ada:***@host:4222 and nats://t0ken@host becomes nats://***@host.
func RedactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = redactOne(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

func redactOne(p string) string {
	scheme, rest, ok := strings.Cut(p, "://")
	if !ok {
		scheme, rest = "", p
	}
	at := strings.LastIndex(rest, "@")
	if slash := strings.IndexAny(rest, "/?#"); slash >= 0 && slash < at {
		at = strings.LastIndex(rest[:slash], "@")
	}
	if at < 0 {
		return p
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	info := "***" // a lone userinfo is a token
	if hasPass {
		info = user + ":***"
	}
	if scheme != "" {
		scheme += "://"
	}
	return scheme + info + rest[at:]
}

// DevUser is the NATS user of `hitl dev`'s embedded server.
const DevUser = "hitl"

// DevNATSAuth returns the credentials `hitl dev`'s embedded server requires: given, when it
// names a user and password or a token (HITL_NATS_USER/HITL_NATS_PASSWORD or
// HITL_NATS_TOKEN), else user DevUser with the password kept in dataDir/nats-password
// (mode 0600), created on first use so that connected tools keep working across restarts.
func DevNATSAuth(dataDir string, given NATSAuth) (NATSAuth, error) {
	if given.Creds != "" || given.NKey != "" || given.TLSCA != "" || given.TLSCert != "" {
		return NATSAuth{}, errors.New("hitl dev: the embedded NATS takes a user and password or a token, not creds, nkeys or TLS")
	}
	if (given.User != "" && given.Password != "") || given.Token != "" {
		return given, given.validate()
	}
	if given.User != "" || given.Password != "" {
		return NATSAuth{}, errors.New("hitl dev: HITL_NATS_USER and HITL_NATS_PASSWORD go together: set both or neither")
	}
	pw, err := keepSecret(dataDir, "nats-password", "NATS password")
	if err != nil {
		return NATSAuth{}, err
	}
	return NATSAuth{User: DevUser, Password: pw}, nil
}

// env returns the HITL_NATS* variables (KEY=value) that connect to url as a.
func (a NATSAuth) env(url string) []string {
	e := []string{"HITL_NATS=" + url}
	if a.User != "" {
		e = append(e, "HITL_NATS_USER="+a.User, "HITL_NATS_PASSWORD="+a.Password)
	}
	if a.Token != "" {
		e = append(e, "HITL_NATS_TOKEN="+a.Token)
	}
	return e
}
