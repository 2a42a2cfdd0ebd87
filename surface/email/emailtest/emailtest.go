// Package emailtest runs a real SMTP server in-process (github.com/emersion/go-smtp) for
// tests of the email channel: it speaks the wire protocol, with STARTTLS, implicit TLS and
// AUTH PLAIN when asked, keeps every message it accepted, parses them (headers, the text and
// HTML alternatives, the links), and can be told to refuse mail with a reply code.
package emailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"html"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options of a test server. The zero value is a plain server without TLS or AUTH, reached
// with smtp://127.0.0.1:PORT?tls=none.
type Options struct {
	// StartTLS offers STARTTLS with a self-signed certificate for 127.0.0.1.
	StartTLS bool
	// Implicit serves TLS from the first byte (smtps://).
	Implicit bool
	// User and Pass, when set, are required through AUTH PLAIN before MAIL.
	User, Pass string
}

// Server is a running SMTP server. Safe for concurrent use.
type Server struct {
	opts   Options
	addr   string
	roots  *x509.CertPool
	mu     sync.Mutex
	msgs   []*Message
	reply  int // when non-zero, RCPT is refused with this code
	tlsUse []bool
}

// Message is one accepted message for one recipient.
type Message struct {
	From   string
	To     string
	Raw    []byte
	Header mail.Header
	// Text and HTML are the decoded alternatives, with line ends as "\n".
	Text, HTML string
	// TLS reports whether the message came over an encrypted connection.
	TLS bool
}

// RequestID is the message's X-Hitl-Request-Id.
func (m *Message) RequestID() string { return m.Header.Get("X-Hitl-Request-Id") }

// Phase is the message's X-Hitl-Phase: "request" or "resolved".
func (m *Message) Phase() string { return m.Header.Get("X-Hitl-Phase") }

var hrefRE = regexp.MustCompile(`href="([^"]+)"`)

// Links are the HTML part's links, in order, unescaped.
func (m *Message) Links() []string {
	var out []string
	for _, sm := range hrefRE.FindAllStringSubmatch(m.HTML, -1) {
		out = append(out, html.UnescapeString(sm[1]))
	}
	return out
}

// Link returns the HTML link whose text is label (e.g. "Approve"), or "".
func (m *Message) Link(label string) string {
	re := regexp.MustCompile(`href="([^"]+)"[^>]*>` + regexp.QuoteMeta(html.EscapeString(label)) + `</a>`)
	if sm := re.FindStringSubmatch(m.HTML); sm != nil {
		return html.UnescapeString(sm[1])
	}
	return ""
}

// Start runs a server on a free loopback port until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.MaxMessageBytes = 4 << 20
	srv.ErrorLog = log.New(io.Discard, "", 0)
	var tlsCfg *tls.Config
	if opts.StartTLS || opts.Implicit {
		cert, roots, err := selfSigned()
		if err != nil {
			t.Fatal(err)
		}
		s.roots = roots
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if opts.StartTLS {
			srv.TLSConfig = tlsCfg
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Implicit {
		ln = tls.NewListener(ln, tlsCfg)
	}
	s.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	// Close the listener too: srv.Close misses it if Serve has not registered it yet.
	t.Cleanup(func() { _ = srv.Close(); _ = ln.Close(); <-done })
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return s.addr }

// URL is the SMTP URL that reaches the server as configured: smtp://…?tls=none for a plain
// server, ?tls=required with StartTLS, smtps:// when Implicit; with the credentials.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.addr}
	q := url.Values{}
	switch {
	case s.opts.Implicit:
		u.Scheme = "smtps"
	case s.opts.StartTLS:
		q.Set("tls", "required")
	default:
		q.Set("tls", "none")
	}
	if s.opts.User != "" {
		u.User = url.UserPassword(s.opts.User, s.opts.Pass)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// ClientTLS trusts the server's certificate (nil for a plain server).
func (s *Server) ClientTLS() *tls.Config {
	if s.roots == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.roots, MinVersion: tls.VersionTLS12}
}

// Refuse makes the server refuse every recipient with code (451 is temporary, 550 is
// "no such mailbox"); 0 accepts mail again.
func (s *Server) Refuse(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reply = code
}

// Messages returns what was accepted so far, oldest first.
func (s *Server) Messages() []*Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Message(nil), s.msgs...)
}

// Find returns the messages about requestID in phase ("" for any).
func (s *Server) Find(requestID, phase string) []*Message {
	var out []*Message
	for _, m := range s.Messages() {
		if m.RequestID() == requestID && (phase == "" || m.Phase() == phase) {
			out = append(out, m)
		}
	}
	return out
}

// Count is len(Find(requestID, phase)).
func (s *Server) Count(requestID, phase string) int { return len(s.Find(requestID, phase)) }

// Wait polls until cond holds, failing the test after 20 seconds.
func (s *Server) Wait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; the SMTP server holds %d messages", what, len(s.Messages()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.opts.User || pass != ss.s.opts.Pass {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.User != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	code := ss.s.reply
	ss.s.mu.Unlock()
	switch {
	case code >= 500:
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox: " + to}
	case code >= 400:
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := ss.conn.TLSConnectionState()
	var parsed []*Message
	for _, to := range ss.to {
		m, err := parse(raw)
		if err != nil {
			return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "unparsable message: " + err.Error()}
		}
		m.From, m.To, m.TLS = ss.from, to, isTLS
		parsed = append(parsed, m)
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, parsed...)
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// parse reads a message with net/mail and its parts with mime/multipart.
func parse(raw []byte) (*Message, error) {
	mm, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	m := &Message{Raw: raw, Header: mm.Header}
	if err := m.walk(mm.Header.Get("Content-Type"), mm.Header.Get("Content-Transfer-Encoding"), mm.Body); err != nil {
		return nil, err
	}
	if m.Text == "" && m.HTML == "" {
		return nil, errors.New("no text or HTML part")
	}
	return m, nil
}

func (m *Message) walk(contentType, cte string, body io.Reader) error {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			// multipart decodes quoted-printable itself and drops the header.
			if err := m.walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	b, err := decode(cte, body)
	if err != nil {
		return err
	}
	switch text := strings.ReplaceAll(string(b), "\r\n", "\n"); mt {
	case "text/plain":
		m.Text = text
	case "text/html":
		m.HTML = text
	}
	return nil
}

func decode(cte string, r io.Reader) ([]byte, error) {
	switch strings.ToLower(cte) {
	case "", "7bit", "8bit", "binary":
		return io.ReadAll(r)
	case "quoted-printable":
		return io.ReadAll(newQP(r))
	case "base64":
		return io.ReadAll(newB64(r))
	}
	return nil, fmt.Errorf("unknown transfer encoding %q", cte)
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hitl emailtest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool, nil
}
