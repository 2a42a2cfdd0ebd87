// Package notify is the notifier: stateless workers on one shared durable consumer that fan
// each request_info out to the channels its assignees name, and show each resolution on
// every surface that showed the request. Deliveries are idempotent per (request, channel,
// recipient) across redeliveries and restarts, retried with backoff, and recorded as dead
// letters with a reason after the last attempt.
package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/consume"
	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
)

// Channel delivers requests to the recipients of one kind of assignee ("webhook" serves
// "webhook:NAME"). Notify must be safe for concurrent use. Its error decides what happens
// to the delivery:
//   - nil: delivered, recorded, never sent again;
//   - an error wrapping ErrPermanent (Permanent(err)): no retry can help, so it is
//     dead-lettered at once with the error as the reason;
//   - an error made by RetryAfter(d, err): tried again after d, as a rate limit's
//     Retry-After asks;
//   - any other error: tried again with a backoff that grows with each attempt.
//
// Retries stop at Config.MaxDeliver attempts, and the last failure is dead-lettered. These
// are the whole contract: a channel built outside this module needs nothing else.
type Channel interface {
	Kind() string
	Notify(ctx context.Context, d Delivery) error
}

// Updater is implemented by channels that can show a request's resolution on the surface
// that showed the request (edit a message, post a follow-up). Same error rules as Notify.
type Updater interface {
	Update(ctx context.Context, d Delivery) error
}

// Poster is implemented by channels whose deliveries leave something to update later (a
// Slack message's channel and timestamp): Post delivers like Notify and returns a reference
// that is stored with the delivery record and handed back to Update as Delivery.Ref.
type Poster interface {
	Post(ctx context.Context, d Delivery) (ref json.RawMessage, err error)
}

// Checker is implemented by channels that can tell at start whether a target exists, so
// that unknown assignees are reported clearly.
type Checker interface {
	HasTarget(name string) bool
}

// ErrPermanent marks a delivery error retries cannot fix (a 4xx answer, an unknown target).
var ErrPermanent = errors.New("permanent delivery failure")

// Permanent wraps err so that errors.Is(err, ErrPermanent): the delivery is dead-lettered
// at once rather than retried. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrPermanent, err)
}

// RetryError asks for a delivery to be tried again after Delay instead of the notifier's
// backoff. Make one with RetryAfter; find one with errors.As.
type RetryError struct {
	Delay time.Duration
	Err   error
}

func (e *RetryError) Error() string { return fmt.Sprintf("retry in %s: %v", e.Delay, e.Err) }
func (e *RetryError) Unwrap() error { return e.Err }

// RetryAfter wraps err so that the delivery is tried again after d (a rate limit's
// Retry-After). A d of zero or less leaves the usual backoff; RetryAfter(d, nil) is nil.
func RetryAfter(d time.Duration, err error) error {
	if err == nil {
		return nil
	}
	return &RetryError{Delay: d, Err: err}
}

// Delivery is one request for one recipient.
type Delivery struct {
	Request *events.Request
	Target  string // the recipient within the channel: "ops-bot" of "webhook:ops-bot"
	// RespondURL answers this request as this recipient, with a signed token inside.
	RespondURL string
	// ID is stable across retries of this delivery, so receivers can drop duplicates.
	ID string
	// Ref is what Post returned when the request was delivered (Update only).
	Ref json.RawMessage
}

// Config of the notifier.
type Config struct {
	Store    *store.Store // required
	Channels []Channel    // by Kind; at most one per kind
	// Observers see every request, whatever its assignees (the console channel of `hitl dev`).
	Observers []Channel
	// Routes expands groups into their members. Nil: assignees are used as they are.
	Routes *routing.Routes
	// Callbacks posts the resolved event to standalone requests' callback_url. Optional.
	Callbacks Channel
	// LinkSecret signs respond_url tokens. Required.
	LinkSecret []byte
	// PublicURL is the base of respond_url links, e.g. "http://localhost:8080". Required.
	PublicURL string
	// LinkTTL is how long a link stays valid for a request without a deadline. Default 7 days.
	LinkTTL time.Duration
	// MaxDeliver must match the consumer's MaxDeliver: the attempt that dead-letters. Default 10.
	MaxDeliver int
	Workers    int // default 128
	Logger     *slog.Logger
	Metrics    *metrics.Metrics
}

// Notifier runs the fan-out. Create with New, start with Run.
type Notifier struct {
	cfg      Config
	channels map[string]Channel
	log      *slog.Logger
}

// New checks the config.
func New(cfg Config) (*Notifier, error) {
	if cfg.Store == nil {
		return nil, errors.New("notify: Store is required")
	}
	if len(cfg.LinkSecret) < linktoken.MinSecretLen {
		return nil, fmt.Errorf("notify: LinkSecret must be at least %d bytes", linktoken.MinSecretLen)
	}
	if cfg.PublicURL == "" {
		return nil, errors.New("notify: PublicURL is required (the base of respond_url links)")
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = 7 * 24 * time.Hour
	}
	if cfg.MaxDeliver <= 0 {
		cfg.MaxDeliver = 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{cfg: cfg, channels: map[string]Channel{}, log: cfg.Logger}
	for _, ch := range cfg.Channels {
		if _, dup := n.channels[ch.Kind()]; dup {
			return nil, fmt.Errorf("notify: two channels for kind %q", ch.Kind())
		}
		n.channels[ch.Kind()] = ch
	}
	return n, nil
}

// Run consumes until ctx ends.
func (n *Notifier) Run(ctx context.Context) error {
	cons, err := n.cfg.Store.JetStream().Consumer(ctx, streams.Stream, streams.ConsumerNotifier)
	if err != nil {
		return fmt.Errorf("notifier consumer: %w", err)
	}
	n.log.Info("notifier running", slog.Any("channels", n.kinds()))
	return consume.Run(ctx, cons, n.handle, consume.Options{Workers: n.cfg.Workers, Logger: n.log, Name: "notifier"})
}

func (n *Notifier) kinds() []string {
	var ks []string
	for k := range n.channels {
		ks = append(ks, k)
	}
	return ks
}

// CheckAssignee reports an assignee no channel can reach, for a clear error at request time.
func (n *Notifier) CheckAssignee(a string) error {
	kind, target, _ := strings.Cut(a, ":")
	ch, ok := n.channels[kind]
	if !ok {
		return fmt.Errorf("assignee %q: no %q channel is configured", a, kind)
	}
	if c, ok := ch.(Checker); ok && !c.HasTarget(target) {
		return fmt.Errorf("assignee %q: %s has no target named %q", a, kind, target)
	}
	return nil
}

func (n *Notifier) handle(ctx context.Context, msg jetstream.Msg) error {
	attempt := 1
	if md, err := msg.Metadata(); err == nil {
		attempt = int(md.NumDelivered)
	}
	subj := msg.Subject()
	_, req, err := events.DecodeAs[events.Request](msg.Data(), events.TypeRequestInfo, events.TypeResolved)
	if err != nil {
		return consume.Terminal(err)
	}
	phase := "notify"
	if strings.HasPrefix(subj, streams.SubjectResolved) {
		phase = "resolved"
	} else if current, _, err := n.cfg.Store.Request(ctx, req.ID); err == nil && current.Resolved() {
		// Resolved before it was shown (a retried delivery, a busy notifier): asking now would
		// put a question on a surface that nothing will ever update.
		n.cfg.Metrics.Delivery("*", "skipped")
		return nil
	}
	var errs []error
	for _, ch := range n.cfg.Observers {
		errs = append(errs, n.deliver(ctx, ch, "*", &req, phase, attempt))
	}
	assignees := req.Assignees
	if n.cfg.Routes != nil {
		assignees = n.cfg.Routes.Expand(assignees)
	}
	for _, a := range assignees {
		kind, target, _ := strings.Cut(a, ":")
		ch, ok := n.channels[kind]
		if !ok {
			if phase == "notify" {
				n.deadLetter(ctx, key(req.ID, kind, target, phase), kind, fmt.Sprintf("no %q channel is configured for assignee %q", kind, a), 0)
			} else {
				n.expire(ctx, &req, key(req.ID, kind, target, "notify"))
			}
			continue
		}
		errs = append(errs, n.deliver(ctx, ch, target, &req, phase, attempt))
	}
	if phase == "resolved" && req.CallbackURL != "" && n.cfg.Callbacks != nil {
		errs = append(errs, n.deliver(ctx, n.cfg.Callbacks, req.CallbackURL, &req, phase, attempt))
	}
	return errors.Join(errs...)
}

// deliveryRecord is what the deliveries bucket keeps per (request, channel, recipient, phase).
type deliveryRecord struct {
	Status   string          `json:"status"` // delivered | dead_letter
	Channel  string          `json:"channel"`
	Target   string          `json:"target"`
	Attempts int             `json:"attempts"`
	Reason   string          `json:"reason,omitempty"`
	Ref      json.RawMessage `json:"ref,omitempty"` // from Poster, for Update
	At       time.Time       `json:"at"`
}

// DeliveryKey is the deliveries-bucket key of one delivery.
func key(requestID, kind, target, phase string) string {
	h := sha256.Sum256([]byte(target))
	return requestID + "." + kind + "." + hex.EncodeToString(h[:8]) + "." + phase
}

func (n *Notifier) deliver(ctx context.Context, ch Channel, target string, req *events.Request, phase string, attempt int) error {
	kind := ch.Kind()
	k := key(req.ID, kind, target, phase)
	kv := n.cfg.Store.Buckets().Deliveries
	var ttl time.Duration // records of a resolved request go after its retention
	if phase == "resolved" {
		ttl = n.cfg.Store.RetentionOf(req)
		n.expire(ctx, req, key(req.ID, kind, target, "notify"))
	}
	if e, err := kv.Get(ctx, k); err == nil {
		var rec deliveryRecord
		if json.Unmarshal(e.Value(), &rec) == nil && rec.Status != "" {
			n.cfg.Metrics.Delivery(kind, "skipped")
			return nil // delivered (or dead-lettered) before: never twice
		}
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		if attempt >= n.cfg.MaxDeliver { // the last attempt: never drop a delivery silently
			n.deadLetter(ctx, k, kind, fmt.Sprintf("after %d attempts, JetStream: %v", attempt, err), ttl)
			return nil
		}
		return err
	}
	var update Updater
	if phase == "resolved" {
		u, ok := ch.(Updater)
		if !ok {
			return nil
		}
		update = u
	}
	d := Delivery{Request: req, Target: target, ID: k}
	if phase == "resolved" {
		e, err := kv.Get(ctx, key(req.ID, kind, target, "notify"))
		switch {
		case err == nil:
			var rec deliveryRecord
			if json.Unmarshal(e.Value(), &rec) == nil {
				if rec.Status != "delivered" {
					return nil // never shown there: nothing to update
				}
				d.Ref = rec.Ref
			}
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if _, posts := ch.(Poster); posts {
				return nil // nothing was posted there, so there is nothing to edit
			}
		default:
			return err
		}
	}
	if phase == "notify" {
		url, err := n.respondURL(req, kind+":"+target)
		if err != nil {
			return err
		}
		d.RespondURL = url
	}
	var err error
	var ref json.RawMessage
	switch p, isPoster := ch.(Poster); {
	case update != nil:
		err = update.Update(ctx, d)
	case isPoster:
		ref, err = p.Post(ctx, d)
	default:
		err = ch.Notify(ctx, d)
	}
	log := n.log.With(slog.String("request_id", req.ID), slog.String("channel", kind), slog.String("phase", phase))
	if err == nil {
		n.cfg.Metrics.Delivery(kind, "delivered")
		log.Debug("delivered")
		return n.record(ctx, k, deliveryRecord{Status: "delivered", Channel: kind, Target: target, Attempts: attempt, Ref: ref, At: time.Now().UTC()}, ttl)
	}
	n.cfg.Metrics.Delivery(kind, "failed")
	if errors.Is(err, ErrPermanent) || attempt >= n.cfg.MaxDeliver {
		n.deadLetter(ctx, k, kind, fmt.Sprintf("after %d attempts: %v", attempt, err), ttl)
		return nil
	}
	log.Warn("delivery failed, will retry", slog.Int("attempt", attempt), slog.Any("err", err))
	var re *RetryError
	if errors.As(err, &re) && re.Delay > 0 {
		return consume.RetryAfter(re.Delay, err) // redelivered after the channel's delay
	}
	return err // redelivered with the consumer's backoff
}

func (n *Notifier) deadLetter(ctx context.Context, k, kind, reason string, ttl time.Duration) {
	n.cfg.Metrics.Delivery(kind, "dead_letter")
	n.log.Error("delivery dead-lettered", slog.String("key", k), slog.String("reason", reason))
	if err := n.record(ctx, k, deliveryRecord{Status: "dead_letter", Channel: kind, Reason: reason, At: time.Now().UTC()}, ttl); err != nil {
		n.log.Error("record dead letter", slog.String("key", k), slog.Any("err", err))
	}
}

// record writes a delivery's record. The delivery has happened (or is given up), so a
// failed write is retried as a write, with backoff, rather than left to the redelivery of
// the event, which would deliver again: a Put of the same record is idempotent, so a write
// that landed with its ack lost does no harm. It outlives the handler's context by up to
// recordTimeout, so that a notifier stopping right after a delivery still records it. Only
// a write that fails for all of recordAttempts (JetStream unreachable for seconds), or a
// closed connection, returns the error: the event is then redelivered and the delivery
// repeated, with the same Delivery.ID. A ttl above zero (the records of a resolved request)
// has JetStream remove the record after it.
func (n *Notifier) record(ctx context.Context, k string, rec deliveryRecord, ttl time.Duration) error {
	b, _ := json.Marshal(rec)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	kv := n.cfg.Store.Buckets().Deliveries
	put := func() error { _, err := kv.Put(wctx, k, b); return err }
	if ttl > 0 { // a KV Put takes no TTL: the same publish, by hand
		put = func() error {
			_, err := n.cfg.Store.JetStream().Publish(wctx, "$KV."+kv.Bucket()+"."+k, b, jetstream.WithMsgTTL(ttl))
			return err
		}
	}
	var err error
	for attempt := range recordAttempts {
		if err = put(); err == nil {
			return nil
		}
		if errors.Is(err, nats.ErrConnectionClosed) || n.cfg.Store.JetStream().Conn().IsClosed() {
			break // this process is going away
		}
		n.log.Warn("delivery record not written yet; retrying", slog.String("key", k), slog.Int("attempt", attempt+1),
			slog.Any("err", err))
		select {
		case <-wctx.Done():
			return fmt.Errorf("record delivery %s: %w", k, err)
		case <-time.After(min(25*time.Millisecond<<attempt, time.Second)):
		}
	}
	return fmt.Errorf("record delivery %s: %w", k, err)
}

// expire gives the notify-phase record k of a resolved request its retention as TTL: it was
// written while the request was pending, without one (the resolution is not known then).
// The same record is written again, with the TTL, unless it changed meanwhile. A failure is
// logged: the record then stays, and changes nothing but disk.
func (n *Notifier) expire(ctx context.Context, req *events.Request, k string) {
	kv := n.cfg.Store.Buckets().Deliveries
	e, err := kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return
	}
	if err == nil {
		_, err = n.cfg.Store.JetStream().Publish(ctx, "$KV."+kv.Bucket()+"."+k, e.Value(),
			jetstream.WithExpectLastSequencePerSubject(e.Revision()), jetstream.WithMsgTTL(n.cfg.Store.RetentionOf(req)))
	}
	if err != nil {
		n.log.Warn("delivery record not given its retention", slog.String("key", k), slog.Any("err", err))
	}
}

// recordAttempts and recordTimeout bound record's retries (about 4 s of backoff).
const (
	recordAttempts = 8
	recordTimeout  = 15 * time.Second
)

// DeliveryStatus reads what the notifier recorded for one delivery: "delivered",
// "dead_letter" (with the reason), or "" when nothing is recorded.
func DeliveryStatus(ctx context.Context, st *store.Store, requestID, assignee, phase string) (status, reason string, err error) {
	kind, target, _ := strings.Cut(assignee, ":")
	e, err := st.Buckets().Deliveries.Get(ctx, key(requestID, kind, target, phase))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	var rec deliveryRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return "", "", err
	}
	return rec.Status, rec.Reason, nil
}

func (n *Notifier) respondURL(req *events.Request, subject string) (string, error) {
	exp := time.Now().Add(n.cfg.LinkTTL)
	if req.Deadline != nil {
		exp = req.Deadline.Add(time.Minute)
	}
	tok, err := linktoken.Sign(n.cfg.LinkSecret, linktoken.Claims{RequestID: req.ID, Subject: subject, Expires: exp.Unix()})
	if err != nil {
		return "", err
	}
	return n.cfg.PublicURL + "/v1/requests/" + req.ID + "/respond?token=" + tok, nil
}
