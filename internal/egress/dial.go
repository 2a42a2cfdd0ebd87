package egress

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Dialer dials TCP connections only to addresses the Policy allows. The check is a
// net.Dialer Control function, so it sees each resolved address just before connecting:
// whatever a name resolved to, and however often it is resolved again, a refused address is
// never connected to. A host name on the allow-list is dialled without the check.
type Dialer struct {
	policy  *Policy
	checked net.Dialer
	plain   net.Dialer
}

// Dialer returns a Dialer that resolves names with r (nil: the system's resolver).
func (p *Policy) Dialer(r *net.Resolver) *Dialer {
	d := &Dialer{policy: p}
	d.plain = net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Resolver: r}
	d.checked = d.plain
	d.checked.Control = p.control
	return d
}

// DialContext dials addr ("host:port") on network, refusing addresses the Policy does not
// allow with an error that matches ErrRefused.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if host, _, err := net.SplitHostPort(addr); err == nil && d.policy.hostAllowed(host) {
		return d.plain.DialContext(ctx, network, addr)
	}
	return d.checked.DialContext(ctx, network, addr)
}

// control runs before each connect, on the resolved "ip:port". An address it cannot read is
// refused: the check fails closed.
func (p *Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &RefusedError{Addr: address, Reason: "unreadable"}
	}
	if !p.Allowed(ap.Addr()) {
		return &RefusedError{Addr: ap.Addr().String(), Reason: Classify(ap.Addr())}
	}
	return nil
}

// Transport returns an HTTP transport (a clone of http.DefaultTransport's settings) that
// dials through p's Dialer with resolver r (nil: the system's). It never uses a proxy: a
// proxy from HTTP_PROXY/HTTPS_PROXY would connect to the target itself, where this check
// cannot see, so outbound deliveries ignore those variables.
func (p *Policy) Transport(r *net.Resolver) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = p.Dialer(r).DialContext
	return t
}
