package ratelimit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"
)

// clock is a manual clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func req(addr string) *http.Request {
	r := httptest.NewRequest("POST", "/x", nil)
	r.RemoteAddr = addr
	return r
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]Rate{"10/1m": {10, time.Minute}, " 5/10s ": {5, 10 * time.Second}, "off": {}} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "10", "0/1m", "-1/1m", "x/1m", "10/soon", "10/0s", "10/-1s"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if New(Config{}) != nil {
		t.Error("an off rate built a limiter")
	}
}

func TestBucketEmptiesAndRefills(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := New(Config{Rate: Rate{Burst: 3, Per: 3 * time.Second}, Now: c.now}) // 3 at once, then one a second
	a, b := req("192.0.2.1:1000"), req("192.0.2.2:1000")
	for i := range 3 {
		if ok, _ := l.Allow(a); !ok {
			t.Fatalf("call %d refused within the burst", i+1)
		}
	}
	ok, wait := l.Allow(a)
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("past the burst: ok=%v wait=%v, want refused with a wait up to 1s", ok, wait)
	}
	if RetryAfter(wait) != "1" {
		t.Errorf("Retry-After %q, want 1", RetryAfter(wait))
	}
	if ok, _ := l.Allow(b); !ok {
		t.Error("another client was refused")
	}
	// The same client from another port is the same client.
	if ok, _ := l.Allow(req("192.0.2.1:2000")); ok {
		t.Error("another port of the same address was allowed")
	}
	c.add(time.Second)
	if ok, _ := l.Allow(a); !ok {
		t.Error("not allowed again after the refill")
	}
	if ok, _ := l.Allow(a); ok {
		t.Error("one refill allowed two calls")
	}
	c.add(time.Hour) // a long pause refills to the burst, not beyond
	for i := range 3 {
		if ok, _ := l.Allow(a); !ok {
			t.Fatalf("after a pause, call %d refused", i+1)
		}
	}
	if ok, _ := l.Allow(a); ok {
		t.Error("the bucket grew past its burst")
	}
}

func TestFailuresOnly(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := New(Config{Rate: Rate{Burst: 2, Per: time.Minute}, Now: c.now})
	r := req("192.0.2.1:1")
	for range 10 { // looking costs nothing
		if blocked, _ := l.Blocked(r); blocked {
			t.Fatal("blocked without failures")
		}
	}
	l.Fail(r)
	l.Fail(r)
	blocked, wait := l.Blocked(r)
	if !blocked || wait <= 0 || wait > 30*time.Second {
		t.Fatalf("after two failures: blocked=%v wait=%v", blocked, wait)
	}
	c.add(30 * time.Second)
	if blocked, _ := l.Blocked(r); blocked {
		t.Error("still blocked after the refill")
	}
}

// A spray of addresses never grows the limiter past MaxClients; the clients seen last
// keep their buckets.
func TestMemoryIsBounded(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := New(Config{Rate: Rate{Burst: 1, Per: time.Hour}, MaxClients: 100, Now: c.now})
	for i := range 10_000 {
		l.Allow(req(fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255)))
		if n := l.Len(); n > 100 {
			t.Fatalf("%d clients tracked after %d addresses, want at most 100", n, i+1)
		}
	}
	last := req("10.0.39.15:1") // the 10,000th address, i = 9999
	if ok, _ := l.Allow(last); ok {
		t.Error("the most recent client lost its bucket")
	}
}

func TestNilLimiterAllows(t *testing.T) {
	var l *Limiter
	r := req("192.0.2.1:1")
	l.Fail(r)
	if ok, _ := l.Allow(r); !ok {
		t.Error("nil limiter refused")
	}
	if blocked, _ := l.Blocked(r); blocked {
		t.Error("nil limiter blocked")
	}
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if l.Wrap(h) == nil {
		t.Error("nil Wrap")
	}
}

func TestWrapAnswers429WithRetryAfter(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := New(Config{Rate: Rate{Burst: 2, Per: 20 * time.Second}, Now: c.now})
	srv := httptest.NewServer(l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	defer srv.Close()
	status := func() (int, string) {
		resp, err := http.Post(srv.URL, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	for range 2 {
		if s, _ := status(); s != http.StatusNoContent {
			t.Fatalf("within the limit: %d", s)
		}
	}
	s, ra := status()
	if s != http.StatusTooManyRequests {
		t.Fatalf("past the limit: %d", s)
	}
	if n, err := strconv.Atoi(ra); err != nil || n < 1 || n > 10 {
		t.Fatalf("Retry-After %q, want 1..10 seconds", ra)
	}
	c.add(10 * time.Second)
	if s, _ := status(); s != http.StatusNoContent {
		t.Fatalf("after Retry-After: %d, want recovered", s)
	}
}

func TestClientKey(t *testing.T) {
	trusted, err := ParseTrusted("10.0.0.0/8, 192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, remote, xff string
		trusted           []netip.Prefix
		want              string
	}{
		{"plain", "198.51.100.4:5000", "", nil, "198.51.100.4"},
		{"forwarded header ignored by default", "198.51.100.4:5000", "203.0.113.9", nil, "198.51.100.4"},
		{"untrusted sender's header ignored", "198.51.100.4:5000", "203.0.113.9", trusted, "198.51.100.4"},
		{"trusted proxy", "10.1.2.3:5000", "203.0.113.9", trusted, "203.0.113.9"},
		{"rightmost untrusted hop", "10.1.2.3:5000", "1.1.1.1, 203.0.113.9, 10.9.9.9", trusted, "203.0.113.9"},
		{"single address trusted", "192.0.2.7:1", "203.0.113.10", trusted, "203.0.113.10"},
		{"garbage header stops at the proxy", "10.1.2.3:5000", "not-an-ip", trusted, "10.1.2.3"},
		{"ipv6 by /64", "[2001:db8:1:2:aaaa::1]:443", "", nil, "2001:db8:1:2::/64"},
		{"ipv4-mapped", "[::ffff:198.51.100.4]:443", "", nil, "198.51.100.4"},
	} {
		r := req(tc.remote)
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := (Clients{Trusted: tc.trusted}).Key(r); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if _, err := ParseTrusted("10.0.0.0/8,nonsense"); err == nil {
		t.Error("a bad trusted proxy was accepted")
	}
}
