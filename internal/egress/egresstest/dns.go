// Package egresstest is a small authoritative DNS server on loopback UDP for tests of the
// egress check: it answers A and AAAA queries from a fixed table in the real DNS wire
// format, so that a test can resolve an ordinary-looking name ("bot.example.test") to
// 127.0.0.1 or 10.0.0.1 through Go's own resolver, as DNS rebinding would.
package egresstest

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// DNS answers queries for the names in its table; any other name is NXDOMAIN.
type DNS struct {
	conn *net.UDPConn
	mu   sync.Mutex
	recs map[string][]netip.Addr
}

// StartDNS serves records (name → addresses) until the test ends.
func StartDNS(t testing.TB, records map[string][]string) *DNS {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	d := &DNS{conn: conn, recs: map[string][]netip.Addr{}}
	for name, addrs := range records {
		for _, a := range addrs {
			d.recs[norm(name)] = append(d.recs[norm(name)], netip.MustParseAddr(a))
		}
	}
	go d.serve()
	t.Cleanup(func() { _ = conn.Close() })
	return d
}

// Resolver resolves through this server only (never the system's files or servers).
func (d *DNS) Resolver() *net.Resolver {
	addr := d.conn.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var nd net.Dialer
		return nd.DialContext(ctx, "udp", addr)
	}}
}

func norm(name string) string { return strings.TrimSuffix(strings.ToLower(name), ".") }

func (d *DNS) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := d.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if resp := d.answer(buf[:n]); resp != nil {
			_, _ = d.conn.WriteToUDP(resp, from)
		}
	}
}

// answer builds the response to one query: the header, the question echoed, and one answer
// record per address of the asked type. Malformed queries get no answer.
func (d *DNS) answer(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	// The question: labels up to the zero byte, then type and class.
	i := 12
	var labels []string
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if l > 63 || i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	qend := i + 5
	qtype := binary.BigEndian.Uint16(q[i+1 : i+3])
	name := norm(strings.Join(labels, "."))

	d.mu.Lock()
	addrs, known := d.recs[name]
	d.mu.Unlock()
	var answers []netip.Addr
	for _, a := range addrs {
		if (qtype == 1 && a.Is4()) || (qtype == 28 && a.Is6()) {
			answers = append(answers, a)
		}
	}
	resp := make([]byte, 0, qend+len(answers)*28)
	resp = append(resp, q[0], q[1])             // ID
	flags := uint16(0x8400) | uint16(q[2]&1)<<8 // QR, AA, RD copied
	if !known {
		flags |= 3 // NXDOMAIN
	}
	resp = binary.BigEndian.AppendUint16(resp, flags)
	resp = binary.BigEndian.AppendUint16(resp, 1) // QDCOUNT
	resp = binary.BigEndian.AppendUint16(resp, uint16(len(answers)))
	resp = binary.BigEndian.AppendUint16(resp, 0) // NSCOUNT
	resp = binary.BigEndian.AppendUint16(resp, 0) // ARCOUNT
	resp = append(resp, q[12:qend]...)
	for _, a := range answers {
		resp = append(resp, 0xC0, 12) // the name: a pointer to the question's
		resp = binary.BigEndian.AppendUint16(resp, qtype)
		resp = binary.BigEndian.AppendUint16(resp, 1) // class IN
		resp = binary.BigEndian.AppendUint32(resp, 0) // TTL 0: never cached
		raw := a.AsSlice()
		resp = binary.BigEndian.AppendUint16(resp, uint16(len(raw)))
		resp = append(resp, raw...)
	}
	return resp
}
