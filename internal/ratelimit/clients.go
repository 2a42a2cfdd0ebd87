package ratelimit

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Clients names the client of a request: the remote address, or, when that address is a
// trusted proxy, the address the proxies put in X-Forwarded-For. An IPv6 client is its
// /64, which one host usually holds whole.
type Clients struct {
	// Trusted are the proxies whose X-Forwarded-For is believed. Default none: the header
	// is ignored, since any client can send it.
	Trusted []netip.Prefix
}

// ParseTrusted reads a comma-separated list of addresses and CIDR prefixes.
func ParseTrusted(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is not an address or a CIDR prefix", part)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (c Clients) trusted(a netip.Addr) bool {
	for _, p := range c.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Key is r's client.
func (c Clients) Key(r *http.Request) string {
	a, ok := remote(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if c.trusted(a) {
		// The rightmost address no trusted proxy added is the client: entries left of it
		// came from the client itself and may be anything.
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			a = h.Unmap()
			if !c.trusted(a) {
				break
			}
		}
	}
	return key(a)
}

func remote(hostport string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func key(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}
