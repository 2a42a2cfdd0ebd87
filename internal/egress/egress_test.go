package egress_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/internal/egress"
	"github.com/hitl-dev/hitl/internal/egress/egresstest"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ip, want string // want "" for public
	}{
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"93.184.215.14", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"172.15.255.255", ""},
		{"172.32.0.0", ""},
		{"192.0.3.1", ""},
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"10.0.0.1", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"100.64.0.1", "shared (CGNAT)"},
		{"100.127.255.255", "shared (CGNAT)"},
		{"169.254.169.254", "link-local"},
		{"169.254.0.1", "link-local"},
		{"192.0.0.8", "IETF protocol"},
		{"192.0.2.1", "documentation"},
		{"198.51.100.7", "documentation"},
		{"203.0.113.9", "documentation"},
		{"198.18.0.1", "benchmarking"},
		{"192.88.99.1", "6to4 relay"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.255", "reserved"},

		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4001:80b::200e", ""},
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:169.254.169.254", "link-local"},
		{"::ffff:10.1.2.3", "private"},
		{"::ffff:8.8.8.8", ""},
		{"::127.0.0.1", "reserved"}, // IPv4-compatible, deprecated
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"fc00::1", "private (unique local)"},
		{"fd12:3456:789a::1", "private (unique local)"},
		{"fec0::1", "reserved"}, // site-local, deprecated
		{"ff02::1", "multicast"},
		{"ff0e::1", "multicast"},
		{"100::1", "reserved"}, // discard-only
		{"64:ff9b::7f00:1", "loopback (NAT64)"},
		{"64:ff9b::a9fe:a9fe", "link-local (NAT64)"},
		{"64:ff9b::808:808", ""},
		{"64:ff9b:1::1", "reserved"},
		{"2002:7f00:1::1", "loopback (6to4)"},
		{"2002:c0a8:101::1", "private (6to4)"},
		{"2002:808:808::1", ""},
		{"2001::1", "IETF protocol"}, // Teredo
		{"2001:db8::1", "documentation"},
		{"3fff::1", "documentation"},
		{"5f00::1", "reserved"}, // segment routing SIDs, outside 2000::/3
		{"4000::1", "reserved"},
	} {
		ip := netip.MustParseAddr(tc.ip)
		if got := egress.Classify(ip); got != tc.want {
			t.Errorf("Classify(%s) = %q, want %q", tc.ip, got, tc.want)
		}
		if got := egress.Public(ip); got != (tc.want == "") {
			t.Errorf("Public(%s) = %v", tc.ip, got)
		}
	}
	if egress.Classify(netip.Addr{}) != "invalid" {
		t.Error("the zero Addr is not invalid")
	}
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	p, err := egress.New(egress.Split(" 127.0.0.1/32, 10.0.0.0/8 ,, fd00::/8,192.168.1.7,Bot.Internal. "))
	if err != nil {
		t.Fatal(err)
	}
	if p.String() != "127.0.0.1/32,10.0.0.0/8,fd00::/8,192.168.1.7,Bot.Internal." {
		t.Errorf("String: %q", p.String())
	}
	for ip, want := range map[string]bool{
		"127.0.0.1": true, "::ffff:127.0.0.1": true, "127.0.0.2": false, "::1": false,
		"10.200.0.1": true, "fd00::5": true, "fc00::5": false, "192.168.1.7": true, "192.168.1.8": false,
		"169.254.169.254": false, "8.8.8.8": true,
	} {
		if got := p.Allowed(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", ip, got, want)
		}
	}
	var none *egress.Policy
	if none.Allowed(netip.MustParseAddr("127.0.0.1")) || !none.Allowed(netip.MustParseAddr("8.8.8.8")) {
		t.Error("a nil Policy allows public addresses only")
	}
	all, _ := egress.New([]string{"*"})
	if !all.Allowed(netip.MustParseAddr("169.254.169.254")) || !all.AllowsAll() {
		t.Error(`"*" allows everything`)
	}
	for _, bad := range []string{"10.0.0.0/33", "not a host!", "300.1.2.3/8", "-bad.example", "a..b"} {
		if _, err := egress.New([]string{bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("New(%q): %v, want an error naming it", bad, err)
		}
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	var def *egress.Policy
	loop, _ := egress.New([]string{"127.0.0.0/8"})
	named, _ := egress.New([]string{"localhost"})
	for _, tc := range []struct {
		p       *egress.Policy
		url     string
		refused bool
	}{
		{def, "https://example.com/cb", false},
		{def, "https://93.184.215.14/cb", false},
		{def, "http://127.0.0.1:8080/cb", true},
		{def, "http://[::1]/cb", true},
		{def, "http://[::ffff:127.0.0.1]/cb", true},
		{def, "http://169.254.169.254/latest/meta-data/", true},
		{def, "http://10.1.2.3/cb", true},
		{def, "http://100.64.1.1/cb", true},
		{def, "http://[fd00::1]/cb", true},
		{def, "http://[fe80::1%25eth0]/cb", true},
		{def, "http://0.0.0.0:80/", true},
		{def, "http://localhost:9000/cb", true},
		{def, "http://LOCALHOST./cb", true},
		{def, "http://app.localhost/cb", true},
		{loop, "http://127.0.0.1:8080/cb", false},
		{loop, "http://localhost:8080/cb", false}, // localhost resolves into an allowed range
		{loop, "http://[::1]/cb", true},
		{named, "http://localhost:8080/cb", false},
		{named, "http://127.0.0.1/cb", true},
	} {
		err := tc.p.CheckURL(tc.url)
		if got := errors.Is(err, egress.ErrRefused); got != tc.refused {
			t.Errorf("CheckURL(%s) with %q: %v, refused want %v", tc.url, tc.p.String(), err, tc.refused)
		}
	}
	for _, bad := range []string{"ftp://x", "/relative", "http://", "::"} {
		if err := def.CheckURL(bad); err == nil || errors.Is(err, egress.ErrRefused) {
			t.Errorf("CheckURL(%q): %v, want a malformed-URL error", bad, err)
		}
	}
}

// get fetches url through a client on p's transport with resolver r.
func get(p *egress.Policy, r *net.Resolver, url string) (string, error) {
	c := &http.Client{Transport: p.Transport(r), Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestDialRefusesResolvedAddress: names pass the early check, yet each resolves to a refused
// address and is never connected to; the allow-list opens them.
func TestDialRefusesResolvedAddress(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "reached") }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	dns := egresstest.StartDNS(t, map[string][]string{
		"rebind.example.test":   {"127.0.0.1"},
		"metadata.example.test": {"169.254.169.254"},
		"mixed.example.test":    {"10.0.0.1", "127.0.0.1"},
	})
	r := dns.Resolver()
	var def *egress.Policy
	for _, host := range []string{"rebind.example.test", "mixed.example.test", "127.0.0.1", "[::ffff:127.0.0.1]"} {
		url := "http://" + host + ":" + port + "/"
		if body, err := get(def, r, url); !errors.Is(err, egress.ErrRefused) {
			t.Errorf("GET %s by default: %q, %v; want refused", url, body, err)
		}
	}
	// The system resolver's localhost, dialled directly (the early check stops it in URLs).
	if _, err := def.Dialer(nil).DialContext(context.Background(), "tcp", "localhost:"+port); !errors.Is(err, egress.ErrRefused) {
		t.Errorf("dial localhost: %v, want refused", err)
	}
	// The metadata address is refused before any connection: nothing listens there here.
	if _, err := def.Dialer(r).DialContext(context.Background(), "tcp", "metadata.example.test:80"); !errors.Is(err, egress.ErrRefused) ||
		!strings.Contains(err.Error(), "169.254.169.254 is a link-local address") {
		t.Errorf("dial metadata: %v, want refused as link-local", err)
	}

	loop, _ := egress.New([]string{"127.0.0.1/32"})
	for _, host := range []string{"rebind.example.test", "mixed.example.test", "127.0.0.1"} {
		if body, err := get(loop, r, "http://"+host+":"+port+"/"); err != nil || body != "reached" {
			t.Errorf("GET %s allow-listed: %q, %v", host, body, err)
		}
	}
	byName, _ := egress.New([]string{"rebind.example.test"})
	if body, err := get(byName, r, "http://rebind.example.test:"+port+"/"); err != nil || body != "reached" {
		t.Errorf("GET by allow-listed name: %q, %v", body, err)
	}
	if _, err := get(byName, r, "http://mixed.example.test:"+port+"/"); !errors.Is(err, egress.ErrRefused) {
		t.Errorf("another name to the same address: %v, want refused", err)
	}
}

// TestTransportIgnoresProxy: a proxy from the environment would connect on hitl's behalf
// where the check cannot see, so the transport never uses one.
func TestTransportIgnoresProxy(t *testing.T) {
	var def *egress.Policy
	if def.Transport(nil).Proxy != nil {
		t.Fatal("the transport uses a proxy")
	}
}
