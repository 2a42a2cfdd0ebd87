// Package egress decides where hitl may send HTTP requests on behalf of a caller: webhook
// targets and standalone requests' callback_url. A caller who can pick a URL must not be able
// to make the server POST into its own network (cloud metadata at 169.254.169.254, an admin
// port on loopback, a database on 10.x), so by default only public unicast addresses are
// dialled. The check runs on the address actually dialled, after DNS resolution, so a name
// that resolves (or re-resolves, by DNS rebinding) to a private address is refused too.
// Operators open private ranges or names explicitly with an allow-list.
package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// ErrRefused is matched (errors.Is) by every refusal: a dial to a non-public address that is
// not allow-listed, or such a URL at creation.
var ErrRefused = errors.New("egress refused")

// RefusedError says which address was refused and why.
type RefusedError struct {
	Addr   string // the IP address or host name
	Reason string // "loopback", "private", "link-local", ...
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s is a %s address, not a public one (allow it with HITL_ALLOW_PRIVATE_TARGETS)", e.Addr, e.Reason)
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// block is one range that is not publicly routable, with the word that explains it.
type block struct {
	prefix netip.Prefix
	reason string
}

// v4Blocks are the IPv4 ranges of the IANA special-purpose registry that are not globally
// reachable, plus multicast and the reserved class E (which includes the broadcast address).
var v4Blocks = blocks(
	"0.0.0.0/8", "unspecified",
	"10.0.0.0/8", "private",
	"100.64.0.0/10", "shared (CGNAT)",
	"127.0.0.0/8", "loopback",
	"169.254.0.0/16", "link-local",
	"172.16.0.0/12", "private",
	"192.0.0.0/24", "IETF protocol",
	"192.0.2.0/24", "documentation",
	"192.88.99.0/24", "6to4 relay",
	"192.168.0.0/16", "private",
	"198.18.0.0/15", "benchmarking",
	"198.51.100.0/24", "documentation",
	"203.0.113.0/24", "documentation",
	"224.0.0.0/4", "multicast",
	"240.0.0.0/4", "reserved",
)

// v6Blocks are the special ranges inside 2000::/3, the only IPv6 space with global unicast
// addresses; everything outside 2000::/3 is refused by v6Reason before these are read.
var v6Blocks = blocks(
	"2001::/23", "IETF protocol", // includes Teredo (2001::/32)
	"2001:db8::/32", "documentation",
	"3fff::/20", "documentation",
)

var (
	global6 = netip.MustParsePrefix("2000::/3")
	nat64   = netip.MustParsePrefix("64:ff9b::/96") // embeds an IPv4 address in its last 32 bits
	sixto4  = netip.MustParsePrefix("2002::/16")    // embeds an IPv4 address in bits 16..48
)

func blocks(kv ...string) []block {
	out := make([]block, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		out = append(out, block{netip.MustParsePrefix(kv[i]), kv[i+1]})
	}
	return out
}

// Classify returns "" for a public unicast address and otherwise the word for what it is
// ("loopback", "private", "link-local", "multicast", ...). IPv4-mapped IPv6 addresses
// (::ffff:127.0.0.1) are classified as the IPv4 address they carry, and so are the IPv4
// addresses inside NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses. The invalid zero
// Addr is "invalid".
func Classify(ip netip.Addr) string {
	if !ip.IsValid() {
		return "invalid"
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is4() {
		return v4Reason(ip)
	}
	return v6Reason(ip)
}

// Public reports whether ip is a public unicast address: one hitl dials without an allow-list.
func Public(ip netip.Addr) bool { return Classify(ip) == "" }

func v4Reason(ip netip.Addr) string {
	for _, b := range v4Blocks {
		if b.prefix.Contains(ip) {
			return b.reason
		}
	}
	return ""
}

func v6Reason(ip netip.Addr) string {
	b := ip.As16()
	switch {
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsMulticast():
		return "multicast"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case netip.MustParsePrefix("fc00::/7").Contains(ip):
		return "private (unique local)"
	case nat64.Contains(ip):
		if r := v4Reason(netip.AddrFrom4([4]byte(b[12:16]))); r != "" {
			return r + " (NAT64)"
		}
		return ""
	case !global6.Contains(ip):
		return "reserved"
	case sixto4.Contains(ip):
		if r := v4Reason(netip.AddrFrom4([4]byte(b[2:6]))); r != "" {
			return r + " (6to4)"
		}
		return ""
	}
	for _, bl := range v6Blocks {
		if bl.prefix.Contains(ip) {
			return bl.reason
		}
	}
	return ""
}

// Policy is the allow-list: which non-public addresses and names may be dialled anyway. The
// zero Policy and a nil *Policy allow public addresses only. Build one with New; it is
// read-only afterwards and safe for concurrent use.
type Policy struct {
	all      bool
	prefixes []netip.Prefix
	hosts    map[string]bool
	entries  []string
}

// AllowAll is the allow-list entry that allows every address (development only).
const AllowAll = "*"

// New builds a Policy from allow-list entries, each one of:
//   - a CIDR prefix, "10.0.0.0/8" or "fd00::/8": the addresses in it;
//   - an IP address, "127.0.0.1" or "::1": that address alone;
//   - a host name, "bot.internal" or "localhost": whatever that name resolves to, when a
//     URL names it (compared case-insensitively, without a trailing dot);
//   - "*": every address (for development; never in production).
//
// Empty entries are skipped. An entry that is none of these is an error naming it.
func New(entries []string) (*Policy, error) {
	p := &Policy{hosts: map[string]bool{}}
	var errs []error
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		p.entries = append(p.entries, e)
		switch {
		case e == AllowAll:
			p.all = true
		case strings.Contains(e, "/"):
			pre, err := netip.ParsePrefix(e)
			if err != nil {
				errs = append(errs, fmt.Errorf("allow-list entry %q is not a CIDR prefix (e.g. 10.0.0.0/8)", e))
				continue
			}
			p.prefixes = append(p.prefixes, pre.Masked())
		default:
			if ip, err := netip.ParseAddr(e); err == nil {
				ip = ip.WithZone("").Unmap()
				p.prefixes = append(p.prefixes, netip.PrefixFrom(ip, ip.BitLen()))
				continue
			}
			h := normHost(e)
			if !validHost(h) {
				errs = append(errs, fmt.Errorf("allow-list entry %q is not a CIDR prefix, an IP address, a host name or %q", e, AllowAll))
				continue
			}
			p.hosts[h] = true
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// Split reads a comma-separated allow-list ("127.0.0.1/32,10.0.0.0/8,bot.internal") into
// its entries, trimmed, without empty ones.
func Split(s string) []string {
	var out []string
	for e := range strings.SplitSeq(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// String is the allow-list as it was given, comma-separated ("" for none).
func (p *Policy) String() string {
	if p == nil {
		return ""
	}
	return strings.Join(p.entries, ",")
}

// AllowsAll reports whether the allow-list has "*".
func (p *Policy) AllowsAll() bool { return p != nil && p.all }

// Allowed reports whether ip may be dialled: it is public, or the allow-list covers it.
func (p *Policy) Allowed(ip netip.Addr) bool {
	if Public(ip) {
		return true
	}
	if p == nil {
		return false
	}
	if p.all {
		return true
	}
	ip = ip.WithZone("").Unmap()
	for _, pre := range p.prefixes {
		if pre.Contains(ip) {
			return true
		}
	}
	return false
}

// hostAllowed reports whether the allow-list names host, so that whatever it resolves to
// may be dialled.
func (p *Policy) hostAllowed(host string) bool {
	return p != nil && (p.all || p.hosts[normHost(host)])
}

// loopbackNames are names that always mean this machine (RFC 6761): refused at creation like
// 127.0.0.1, since the dial would be refused anyway.
func isLoopbackName(h string) bool { return h == "localhost" || strings.HasSuffix(h, ".localhost") }

// CheckHost is the early check of a URL's host, at creation: a literal IP address that is not
// allowed, or a localhost name, is refused with a *RefusedError. Other names pass: what they
// resolve to is checked when they are dialled.
func (p *Policy) CheckHost(host string) error {
	h := normHost(host)
	if ip, err := netip.ParseAddr(h); err == nil {
		if !p.Allowed(ip) {
			return &RefusedError{Addr: host, Reason: Classify(ip)}
		}
		return nil
	}
	if isLoopbackName(h) && !p.hostAllowed(h) &&
		!p.Allowed(netip.MustParseAddr("127.0.0.1")) && !p.Allowed(netip.IPv6Loopback()) {
		return &RefusedError{Addr: host, Reason: "loopback"}
	}
	return nil
}

// CheckURL checks that raw is an absolute http(s) URL whose host passes CheckHost.
func (p *Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return errors.New("must be an absolute http(s) URL")
	}
	return p.CheckHost(u.Hostname())
}

func normHost(h string) string { return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".") }

func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}
