package email

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
)

// server is a parsed SMTP URL: where and how to send.
type server struct {
	host     string
	port     int
	implicit bool           // smtps://: TLS from the first byte
	policy   mail.TLSPolicy // smtp://: STARTTLS opportunistic, mandatory or off
	user     string
	pass     string
	auth     mail.SMTPAuthType
}

// parseSMTPURL reads an SMTP URL:
//
//	smtp://[user[:pass]@]host[:port][?tls=opportunistic|required|none][&auth=plain|login|cram-md5|auto]
//	smtps://[user[:pass]@]host[:port][?auth=...]
//
// smtp:// defaults to port 587 and STARTTLS when the server offers it (tls=required refuses
// a server that does not; tls=none never encrypts, for local test servers); smtps:// to port
// 465 with implicit TLS. With a user, AUTH PLAIN is used unless auth says otherwise; PLAIN
// and LOGIN refuse to send a password unencrypted except to localhost.
func parseSMTPURL(raw string) (*server, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("SMTP URL: %w", redact(err))
	}
	// An "@" after the host means the user or password held a "/", "?" or "#" that was not
	// percent-encoded, and the parser took part of them for the path, query or fragment.
	// The errors below quote those parts, so they must not see it.
	if strings.Contains(u.Path, "@") || strings.Contains(u.RawQuery, "@") || strings.Contains(u.Fragment, "@") || strings.Contains(u.Opaque, "@") {
		return nil, fmt.Errorf("SMTP URL: %w", redact(&url.Error{}))
	}
	if u.Fragment != "" {
		return nil, errors.New("SMTP URL: unexpected #fragment")
	}
	s := &server{policy: mail.TLSOpportunistic, auth: mail.SMTPAuthPlain}
	switch u.Scheme {
	case "smtp":
		s.port = 587
	case "smtps":
		s.port, s.implicit = 465, true
	default:
		return nil, fmt.Errorf("SMTP URL: scheme %q is not smtp:// (STARTTLS) or smtps:// (implicit TLS)", u.Scheme)
	}
	s.host = u.Hostname()
	if s.host == "" {
		return nil, fmt.Errorf("SMTP URL: no host (want e.g. smtp://user:pass@smtp.example.com:587)")
	}
	if strings.Contains(s.host, ":") && net.ParseIP(s.host) == nil {
		return nil, fmt.Errorf("SMTP URL: host %q is neither a name nor an IP address", s.host)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("SMTP URL: port %q is not a number from 1 to 65535", p)
		}
		s.port = n
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("SMTP URL: unexpected path %q", u.Path)
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	q := u.Query()
	for k := range q {
		if k != "tls" && k != "auth" {
			return nil, fmt.Errorf("SMTP URL: unknown parameter %q (known: tls, auth)", k)
		}
	}
	switch v := q.Get("tls"); v {
	case "", "opportunistic":
	case "required":
		s.policy = mail.TLSMandatory
	case "none":
		if s.implicit {
			return nil, fmt.Errorf("SMTP URL: smtps:// is always TLS; tls=none contradicts it")
		}
		s.policy = mail.NoTLS
	default:
		return nil, fmt.Errorf("SMTP URL: tls=%q is not opportunistic, required or none", v)
	}
	switch v := strings.ToLower(q.Get("auth")); v {
	case "", "plain":
	case "login":
		s.auth = mail.SMTPAuthLogin
	case "cram-md5":
		s.auth = mail.SMTPAuthCramMD5
	case "auto":
		s.auth = mail.SMTPAuthAutoDiscover
	default:
		return nil, fmt.Errorf("SMTP URL: auth=%q is not plain, login, cram-md5 or auto", v)
	}
	if q.Has("auth") && s.user == "" {
		return nil, fmt.Errorf("SMTP URL: auth is set but there is no user (smtp://user:pass@host)")
	}
	return s, nil
}

// redact replaces url.Parse's errors, which quote parts of the URL and so may hold a password.
func redact(err error) error {
	if _, ok := err.(*url.Error); ok {
		return errors.New("malformed (percent-encode special characters in the user and password)")
	}
	return err
}

// String is the server without credentials, for logs and errors.
func (s *server) String() string {
	scheme := "smtp"
	if s.implicit {
		scheme = "smtps"
	}
	return scheme + "://" + net.JoinHostPort(s.host, strconv.Itoa(s.port))
}

// client builds a go-mail client for one send. Clients are cheap and hold no connection
// until dialled, so each delivery uses its own and sends never share state.
func (s *server) client(timeout time.Duration, base *tls.Config) (*mail.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		tc = base.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = s.host
	}
	opts := []mail.Option{mail.WithPort(s.port), mail.WithTimeout(timeout), mail.WithTLSConfig(tc)}
	if s.implicit {
		opts = append(opts, mail.WithSSL())
	} else {
		opts = append(opts, mail.WithTLSPolicy(s.policy))
	}
	if s.user != "" {
		opts = append(opts, mail.WithSMTPAuth(s.auth), mail.WithUsername(s.user), mail.WithPassword(s.pass))
	}
	return mail.NewClient(s.host, opts...)
}
