package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/mail"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/notify"
)

// Headers set on every email, so that filters and tests can tell them apart.
const (
	// HeaderRequestID carries the request's id.
	HeaderRequestID = "X-Hitl-Request-Id"
	// HeaderPhase is "request" on the email that asks, "resolved" on the follow-up.
	HeaderPhase = "X-Hitl-Phase"
)

// Config of the email channel.
type Config struct {
	// SMTPURL says where and how to send (HITL_SMTP_URL). Required.
	//   smtp://user:pass@host:587           STARTTLS when the server offers it (default port 587)
	//   smtp://user:pass@host:587?tls=required   STARTTLS or fail
	//   smtps://user:pass@host:465          implicit TLS (default port 465)
	//   smtp://127.0.0.1:2525?tls=none      no TLS: local test servers only
	// With a user, AUTH PLAIN is used (auth=login, cram-md5 or auto to change it); PLAIN
	// and LOGIN refuse to send a password unencrypted except to localhost.
	SMTPURL string
	// From is the sender, "hitl <hitl@example.com>" or a bare address (HITL_EMAIL_FROM).
	// Required. Its domain also names the Message-IDs.
	From string
	// PublicURL is the base of the links in emails (HITL_PUBLIC_URL), e.g.
	// "https://hitl.example.com". Required.
	PublicURL string
	// LinkSecret signs the links' tokens (HITL_LINK_SECRET); whoever serves /email/act and
	// the web inbox verifies them with the same secret. Required, at least
	// linktoken.MinSecretLen bytes.
	LinkSecret []byte
	// LinkTTL is how long links stay valid for a request without a deadline; with one they
	// last until a minute after it. Default 7 days.
	LinkTTL time.Duration
	// Timeout bounds one SMTP conversation, from dial to QUIT. Default 30s.
	Timeout time.Duration
	// TLSConfig is used for STARTTLS and smtps://, e.g. to trust a private CA. Default: the
	// system roots, TLS 1.2 or later.
	TLSConfig *tls.Config
	// Now is the clock links expire by. Default time.Now.
	Now func() time.Time
}

// Channel is the email channel: kind "email", targets are addresses ("email:a@b.c"). It
// sends one email per recipient, each with links of its own, and a short follow-up when
// the request is resolved. Safe for concurrent use.
type Channel struct {
	cfg    Config
	server *server
	from   *mail.Address
	domain string
}

var (
	_ notify.Channel = (*Channel)(nil)
	_ notify.Updater = (*Channel)(nil)
	_ notify.Checker = (*Channel)(nil)
)

// New checks the configuration: the SMTP URL, the sender, the public URL and the secret.
func New(cfg Config) (*Channel, error) {
	var errs []error
	srv, err := parseSMTPURL(cfg.SMTPURL)
	if cfg.SMTPURL == "" {
		err = errors.New("SMTP URL is required (HITL_SMTP_URL, e.g. smtp://user:pass@smtp.example.com:587)")
	}
	if err != nil {
		errs = append(errs, err)
	}
	var from *mail.Address
	if strings.TrimSpace(cfg.From) == "" {
		errs = append(errs, errors.New("sender is required (HITL_EMAIL_FROM, e.g. \"hitl <hitl@example.com>\")"))
	} else if from, err = mail.ParseAddress(cfg.From); err != nil {
		errs = append(errs, fmt.Errorf("sender %q is not an email address: %w", cfg.From, err))
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if u, err := url.Parse(cfg.PublicURL); cfg.PublicURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("public URL %q is not an absolute http(s) URL (HITL_PUBLIC_URL, the base of links in emails)", cfg.PublicURL))
	}
	if len(cfg.LinkSecret) < linktoken.MinSecretLen {
		errs = append(errs, fmt.Errorf("link secret must be at least %d bytes (HITL_LINK_SECRET)", linktoken.MinSecretLen))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("email: %w", err)
	}
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = 7 * 24 * time.Hour
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	_, domain, _ := strings.Cut(from.Address, "@")
	return &Channel{cfg: cfg, server: srv, from: from, domain: domain}, nil
}

// Kind is the assignee kind of email: "email:a@b.c".
const Kind = "email"

// Kind is "email".
func (c *Channel) Kind() string { return Kind }

// HasTarget reports whether target is a plain email address ("a@b.c", no display name).
func (c *Channel) HasTarget(target string) bool { return CheckAddress(target) == nil }

// CheckAddress reports a target that is not a plain email address.
func CheckAddress(target string) error {
	a, err := mail.ParseAddress(target)
	if err != nil || a.Address != target {
		return fmt.Errorf("%q is not an email address (want e.g. email:alice@example.com)", target)
	}
	return nil
}

// Server names the SMTP server, without credentials, for logs.
func (c *Channel) Server() string { return c.server.String() }

// Notify sends the request's email to d.Target. An address the server refuses for good
// (a 5xx reply) is ErrPermanent; 4xx replies and network errors are retried. The email
// carries links of its own (signed here, bound to an option each) rather than
// d.RespondURL, which is the REST API's and asks for JSON.
func (c *Channel) Notify(ctx context.Context, d notify.Delivery) error {
	if err := CheckAddress(d.Target); err != nil {
		return fmt.Errorf("%w: %v", notify.ErrPermanent, err)
	}
	r := d.Request
	body, err := c.requestContent(r, d.Target, c.linkExpiry(r))
	if err != nil {
		return fmt.Errorf("%w: render email: %v", notify.ErrPermanent, err)
	}
	return c.send(ctx, d.Target, r.ID, "request", body, "")
}

// Update sends the short follow-up that says how the request ended. The notifier calls it
// once per recipient that was sent the request.
func (c *Channel) Update(ctx context.Context, d notify.Delivery) error {
	if err := CheckAddress(d.Target); err != nil {
		return fmt.Errorf("%w: %v", notify.ErrPermanent, err)
	}
	r := d.Request
	if !r.Resolved() {
		return nil
	}
	body, err := c.resolvedContent(r, d.Target)
	if err != nil {
		return fmt.Errorf("%w: render email: %v", notify.ErrPermanent, err)
	}
	return c.send(ctx, d.Target, r.ID, "resolved", body, messageID(r.ID, d.Target, "request", c.domain))
}

// linkExpiry is when r's links stop working: a minute after its deadline, else LinkTTL from now.
func (c *Channel) linkExpiry(r *events.Request) int64 {
	if r.Deadline != nil {
		return r.Deadline.Add(time.Minute).Unix()
	}
	return c.cfg.Now().Add(c.cfg.LinkTTL).Unix()
}

func (c *Channel) send(ctx context.Context, to, requestID, phase string, body content, inReplyTo string) error {
	m := gomail.NewMsg()
	m.FromMailAddress(c.from)
	if err := m.To(to); err != nil {
		return fmt.Errorf("%w: recipient %q: %v", notify.ErrPermanent, to, err)
	}
	m.Subject(body.subject)
	m.SetMessageIDWithValue(messageID(requestID, to, phase, c.domain))
	m.SetDate()
	m.SetUserAgent("hitl")
	m.SetGenHeader(HeaderRequestID, requestID)
	m.SetGenHeader(HeaderPhase, phase)
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	if inReplyTo != "" {
		m.SetGenHeaderPreformatted(gomail.HeaderInReplyTo, "<"+inReplyTo+">")
		m.SetGenHeaderPreformatted(gomail.HeaderReferences, "<"+inReplyTo+">")
	}
	m.SetBodyString(gomail.TypeTextPlain, body.text)
	m.AddAlternativeString(gomail.TypeTextHTML, body.html)

	client, err := c.server.client(c.cfg.Timeout, c.cfg.TLSConfig)
	if err != nil {
		return fmt.Errorf("%w: smtp client for %s: %v", notify.ErrPermanent, c.server, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	if err := client.DialAndSendWithContext(ctx, m); err != nil {
		return classify(fmt.Errorf("send %s email to %s via %s: %w", phase, to, c.server, err))
	}
	return nil
}

// classify marks a reply the server gave for good (5xx) as permanent; 4xx replies and
// network errors stay retryable.
func classify(err error) error {
	if code := replyCode(err); code >= 500 && code < 600 {
		return fmt.Errorf("%w: %w", notify.ErrPermanent, err)
	}
	return err
}

// replyCode finds the SMTP reply code inside err, 0 if there is none.
func replyCode(err error) int {
	var se *gomail.SendError
	if errors.As(err, &se) && se.ErrorCode() != 0 {
		return se.ErrorCode()
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}
