// Package ratelimit limits what one client may do per unit of time: a token bucket per
// client, keyed by its address, with a bounded number of buckets. It guards the edges
// an attacker can hammer without credentials: sign-in, bearer failures, link answers and
// the Slack and Telegram interaction endpoints.
//
// Memory is bounded by MaxClients buckets per limiter: past it, the bucket used least
// recently is dropped (that client starts again with a full bucket). A spray of addresses
// therefore costs at most MaxClients × about 200 bytes per limiter, never more.
package ratelimit

import (
	"container/list"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate is a bucket of Burst tokens refilled at Burst per Per: "10/1m" lets a client do 10
// things at once, then one every 6 seconds. The zero Rate is no limit.
type Rate struct {
	Burst int
	Per   time.Duration
}

// Off reports whether r limits nothing.
func (r Rate) Off() bool { return r.Burst <= 0 || r.Per <= 0 }

// String is the form ParseRate reads: "10/1m0s", or "off".
func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	return strconv.Itoa(r.Burst) + "/" + r.Per.String()
}

// ParseRate reads "N/duration" (e.g. "10/1m", "300/1m", "5/10s") or "off".
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return Rate{}, nil
	}
	n, d, ok := strings.Cut(s, "/")
	burst, err := strconv.Atoi(n)
	if !ok || err != nil || burst < 1 {
		return Rate{}, fmt.Errorf("rate %q is not N/duration (like 10/1m) or off", s)
	}
	per, err := time.ParseDuration(d)
	if err != nil || per <= 0 {
		return Rate{}, fmt.Errorf("rate %q: %q is not a positive duration (like 1m)", s, d)
	}
	return Rate{Burst: burst, Per: per}, nil
}

// DefaultMaxClients is how many clients a limiter tracks unless told otherwise.
const DefaultMaxClients = 10_000

// Config of a Limiter.
type Config struct {
	// Rate is each client's bucket. Off (the zero Rate): New returns nil, which limits nothing.
	Rate Rate
	// MaxClients caps the buckets kept; past it the least recently used is dropped.
	// Default DefaultMaxClients.
	MaxClients int
	// Client names the client of a request. Default: its remote address (ClientIP with no
	// trusted proxies).
	Client func(*http.Request) string
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Limiter is a token bucket per client. A nil *Limiter allows everything; its methods are
// safe for concurrent use.
type Limiter struct {
	perSec, burst float64
	max           int
	client        func(*http.Request) string
	now           func() time.Time

	mu   sync.Mutex
	lru  *list.List // of *bucket, most recently used in front
	keys map[string]*list.Element
}

type bucket struct {
	key    string
	tokens float64
	at     time.Time
}

// New builds a limiter; nil when c.Rate is off.
func New(c Config) *Limiter {
	if c.Rate.Off() {
		return nil
	}
	if c.MaxClients <= 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.Client == nil {
		c.Client = Clients{}.Key
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Limiter{perSec: float64(c.Rate.Burst) / c.Rate.Per.Seconds(), burst: float64(c.Rate.Burst),
		max: c.MaxClients, client: c.Client, now: c.Now, lru: list.New(), keys: map[string]*list.Element{}}
}

// Len is how many clients are tracked now (at most MaxClients).
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// take refills key's bucket, then takes n tokens if the bucket holds at least one
// (n = 0 only looks). It returns whether the client was within its limit, and if not
// how long until it is.
func (l *Limiter) take(key string, n float64) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *bucket
	if e, ok := l.keys[key]; ok {
		b = e.Value.(*bucket)
		l.lru.MoveToFront(e)
		if el := now.Sub(b.at).Seconds(); el > 0 {
			b.tokens = math.Min(l.burst, b.tokens+el*l.perSec)
		}
		b.at = now
	} else {
		if l.lru.Len() >= l.max {
			old := l.lru.Back()
			l.lru.Remove(old)
			delete(l.keys, old.Value.(*bucket).key)
		}
		b = &bucket{key: key, tokens: l.burst, at: now}
		l.keys[key] = l.lru.PushFront(b)
	}
	if b.tokens < 1 {
		wait := time.Duration((1 - b.tokens) / l.perSec * float64(time.Second))
		return false, max(wait, time.Millisecond)
	}
	b.tokens -= n
	return true, 0
}

// Allow takes one token from r's client and reports whether it had one; when not, the
// duration says when it will.
func (l *Limiter) Allow(r *http.Request) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	return l.take(l.client(r), 1)
}

// Blocked reports whether r's client has used up its bucket, without taking a token: for
// limits that count only failures (checked first, charged with Fail).
func (l *Limiter) Blocked(r *http.Request) (bool, time.Duration) {
	if l == nil {
		return false, 0
	}
	ok, wait := l.take(l.client(r), 0)
	return !ok, wait
}

// Fail takes one token from r's client: one more failure counted.
func (l *Limiter) Fail(r *http.Request) {
	if l != nil {
		l.take(l.client(r), 1)
	}
}

// Client is the key r is counted under.
func (l *Limiter) Client(r *http.Request) string {
	if l == nil {
		return Clients{}.Key(r)
	}
	return l.client(r)
}

// RetryAfter is the value of a Retry-After header for wait: whole seconds, at least 1.
func RetryAfter(wait time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))
}

// Wrap charges every request to h against its client's bucket; past the limit the
// client gets 429 Too Many Requests with Retry-After and a short text body.
func (l *Limiter) Wrap(h http.Handler) http.Handler {
	if l == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := l.Allow(r); !ok {
			TooMany(w, wait)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// TooMany writes a plain 429 with Retry-After.
func TooMany(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", RetryAfter(wait))
	http.Error(w, "too many requests: retry after "+RetryAfter(wait)+"s", http.StatusTooManyRequests)
}

// Limits are the limiters of a responder's edges. A nil field limits nothing.
type Limits struct {
	// Login counts failed sign-ins at the inbox, per client.
	Login *Limiter
	// AuthFailures counts refused credentials (a wrong bearer token, an invalid link
	// token) on the REST and job APIs, per client. Once used up, every bearer attempt of
	// that client is refused with 429 until it refills, right ones too: a guesser learns
	// nothing.
	AuthFailures *Limiter
	// Answers counts answers through links and pages: POST .../respond with ?token=, the
	// email links and the inbox's forms.
	Answers *Limiter
	// Interactions counts every request to the Slack and Telegram interaction endpoints.
	Interactions *Limiter
}
