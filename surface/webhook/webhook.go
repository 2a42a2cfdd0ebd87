package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/egress"
	"github.com/hitl-dev/hitl/notify"
)

// Config of the webhook channel.
type Config struct {
	// Targets maps names (assignee "webhook:NAME") to URLs. A URL whose host is a literal
	// non-public address (127.0.0.1, 10.0.0.1, [::1], 169.254.169.254) or a localhost name is
	// refused at New unless AllowPrivate covers it.
	Targets map[string]string
	// Secret is the Standard Webhooks signing secret, "whsec_" followed by base64. Empty sends
	// unsigned requests (allowed only for development).
	Secret string
	// AllowPrivate lists the non-public addresses and names deliveries may reach anyway:
	// CIDR prefixes ("10.0.0.0/8"), addresses ("127.0.0.1"), host names ("bot.internal") or
	// "*" for all (HITL_ALLOW_PRIVATE_TARGETS). Default none: only public unicast addresses,
	// checked on each address a name resolves to when it is dialled.
	AllowPrivate []string
	// Resolver resolves target names for the default client. Default: the system's.
	Resolver *net.Resolver
	// Client sends the requests. Default: a client with a 10s timeout that never follows
	// redirects, ignores proxy variables, and dials only what AllowPrivate allows. A Client
	// given here is used as it is: it decides itself where it connects.
	Client *http.Client
}

// sender posts signed CloudEvents: the part the webhook channel and callbacks share.
type sender struct {
	signer *Signer
	client *http.Client
	policy *egress.Policy
}

func newSender(secret string, allow []string, r *net.Resolver, client *http.Client) (*sender, error) {
	policy, err := egress.New(allow)
	if err != nil {
		return nil, fmt.Errorf("allowed private targets: %w", err)
	}
	s := &sender{client: client, policy: policy}
	if s.client == nil {
		// Many deliveries go to few hosts at once: keep enough idle connections per host
		// (the default keeps 2) so that concurrent deliveries reuse them.
		t := policy.Transport(r)
		t.MaxIdleConnsPerHost = 128
		s.client = &http.Client{Timeout: 10 * time.Second, Transport: t,
			// A redirect would re-send the signed body and its respond_url to another host.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if secret != "" {
		sg, err := NewSigner(secret)
		if err != nil {
			return nil, err
		}
		s.signer = sg
	}
	return s, nil
}

// Channel is the webhook channel.
type Channel struct {
	*sender
	targets map[string]string
}

// New checks every target URL and the secret.
func New(cfg Config) (*Channel, error) {
	s, err := newSender(cfg.Secret, cfg.AllowPrivate, cfg.Resolver, cfg.Client)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	c := &Channel{sender: s, targets: map[string]string{}}
	for name, u := range cfg.Targets {
		if err := checkURL(u); err != nil {
			return nil, fmt.Errorf("webhook target %q: %w", name, err)
		}
		if err := s.policy.CheckURL(u); err != nil {
			return nil, fmt.Errorf("webhook target %q: %w", name, err)
		}
		c.targets[name] = u
	}
	return c, nil
}

func checkURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", u)
	}
	return nil
}

// ParseTargets reads HITL_WEBHOOKS: "name=url,name2=url2".
func ParseTargets(s string) (map[string]string, error) {
	out := map[string]string{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, u, ok := strings.Cut(part, "=")
		name, u = strings.TrimSpace(name), strings.TrimSpace(u)
		if !ok || name == "" || u == "" {
			return nil, fmt.Errorf("HITL_WEBHOOKS: %q is not name=url", part)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("HITL_WEBHOOKS: %q is named twice", name)
		}
		if err := checkURL(u); err != nil {
			return nil, fmt.Errorf("HITL_WEBHOOKS: target %q: %w", name, err)
		}
		out[name] = u
	}
	return out, nil
}

// Kind is "webhook".
func (c *Channel) Kind() string { return "webhook" }

// Targets lists the configured names, sorted.
func (c *Channel) Targets() []string {
	names := make([]string, 0, len(c.targets))
	for n := range c.targets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// HasTarget reports whether name is configured.
func (c *Channel) HasTarget(name string) bool { _, ok := c.targets[name]; return ok }

// requestInfoData is the request plus the link that answers it.
type requestInfoData struct {
	*events.Request
	RespondURL string `json:"respond_url"`
}

// Notify posts the request_info CloudEvent to the target.
func (c *Channel) Notify(ctx context.Context, d notify.Delivery) error {
	u, ok := c.targets[d.Target]
	if !ok {
		return fmt.Errorf("%w: no webhook target named %q", notify.ErrPermanent, d.Target)
	}
	return c.post(ctx, u, d.ID, events.TypeRequestInfo, "request_info/"+d.Request.ID, d.Request,
		requestInfoData{Request: d.Request, RespondURL: d.RespondURL})
}

// Update posts the resolved CloudEvent to the target that was notified.
func (c *Channel) Update(ctx context.Context, d notify.Delivery) error {
	u, ok := c.targets[d.Target]
	if !ok {
		return fmt.Errorf("%w: no webhook target named %q", notify.ErrPermanent, d.Target)
	}
	return c.post(ctx, u, d.ID, events.TypeResolved, "resolved/"+d.Request.ID, d.Request, d.Request)
}

func (c *sender) post(ctx context.Context, target, deliveryID, typ, eventID string, req *events.Request, data any) error {
	e, err := events.New(typ, eventID, req.ID, data)
	if err != nil {
		return fmt.Errorf("%w: %v", notify.ErrPermanent, err)
	}
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("%w: %v", notify.ErrPermanent, err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", notify.ErrPermanent, err)
	}
	hr.Header.Set("Content-Type", events.ContentType)
	hr.Header.Set("User-Agent", "hitl-notifier")
	if c.signer != nil {
		c.signer.Sign(hr.Header, deliveryID, time.Now(), body)
	} else {
		hr.Header.Set(HeaderID, deliveryID)
		hr.Header.Set(HeaderTimestamp, strconv.FormatInt(time.Now().Unix(), 10))
	}
	resp, err := c.client.Do(hr)
	if errors.Is(err, egress.ErrRefused) { // where it resolves to now: a retry cannot help
		return fmt.Errorf("%w: post to webhook: %w", notify.ErrPermanent, err)
	}
	if err != nil {
		return fmt.Errorf("post to webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return fmt.Errorf("webhook answered %s", resp.Status)
	default:
		return fmt.Errorf("%w: webhook answered %s", notify.ErrPermanent, resp.Status)
	}
}

// CallbacksConfig configures the delivery of standalone requests' callback_url.
type CallbacksConfig struct {
	// Secret signs callbacks, "whsec_" followed by base64 (HITL_CALLBACK_SECRET). It is not
	// the bots' webhook secret: whoever creates a request picks its callback_url, and must
	// not receive bodies signed with the key that bots trust. Empty sends unsigned callbacks.
	Secret string
	// AllowPrivate, Resolver and Client are as in Config: by default a callback_url reaches
	// public addresses only.
	AllowPrivate []string
	Resolver     *net.Resolver
	Client       *http.Client
}

// Callbacks delivers the resolved event of standalone requests to their callback_url, signed
// per Standard Webhooks with the callback secret. Its targets are the URLs themselves.
type Callbacks struct{ *sender }

// NewCallbacks checks the secret and the allow-list.
func NewCallbacks(cfg CallbacksConfig) (*Callbacks, error) {
	s, err := newSender(cfg.Secret, cfg.AllowPrivate, cfg.Resolver, cfg.Client)
	if err != nil {
		return nil, fmt.Errorf("callbacks: %w", err)
	}
	return &Callbacks{s}, nil
}

// Kind is "callback".
func (*Callbacks) Kind() string { return "callback" }

// Notify is not used: callbacks only ever receive resolutions.
func (*Callbacks) Notify(context.Context, notify.Delivery) error { return nil }

// Update posts the resolved CloudEvent to the request's callback_url. A URL the allow-list
// does not cover (checked again here: the list may have changed since the request was
// created) is a permanent failure.
func (cb *Callbacks) Update(ctx context.Context, d notify.Delivery) error {
	if err := cb.policy.CheckURL(d.Target); err != nil {
		return fmt.Errorf("%w: callback_url: %w", notify.ErrPermanent, err)
	}
	return cb.post(ctx, d.Target, d.ID, events.TypeResolved, "resolved/"+d.Request.ID, d.Request, d.Request)
}

// Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Signer signs and verifies per the Standard Webhooks spec.
type Signer struct{ key []byte }

// NewSigner reads a "whsec_<base64>" secret.
func NewSigner(secret string) (*Signer, error) {
	raw, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, errors.New(`signing secret must start with "whsec_" followed by base64`)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) < 16 {
		return nil, errors.New("signing secret: the part after whsec_ must be base64 of at least 16 bytes")
	}
	return &Signer{key: key}, nil
}

func (s *Signer) signature(id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, s.key)
	fmt.Fprintf(m, "%s.%d.", id, ts)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Sign sets the three headers on h.
func (s *Signer) Sign(h http.Header, id string, at time.Time, body []byte) {
	ts := at.Unix()
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, s.signature(id, ts, body))
}

// ErrBadSignature: the headers do not prove the body came from the holder of the secret.
var ErrBadSignature = errors.New("webhook signature does not verify")

// Verify checks the headers against body, allowing tolerance of clock skew either way.
// Receivers in Go can use it as is.
func (s *Signer) Verify(h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return fmt.Errorf("%w: missing headers", ErrBadSignature)
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: bad timestamp", ErrBadSignature)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp outside the tolerance", ErrBadSignature)
	}
	want := s.signature(id, ts, body)
	for sig := range strings.SplitSeq(sigs, " ") {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
}
