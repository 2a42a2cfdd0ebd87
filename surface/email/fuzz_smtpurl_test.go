package email

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// FuzzSMTPURL reads HITL_SMTP_URL: a refusal never quotes the password, even when the URL
// is malformed around it; an accepted URL has a host and a port, and its String, the form
// logs show, holds no credentials.
func FuzzSMTPURL(f *testing.F) {
	for _, s := range []string{
		"smtp://user:pa%3Ass@mail.example.com", "smtp://u:p@mail.example.com:25?tls=required&auth=login", "smtps://mail.example.com",
		"smtp://127.0.0.1:2525?tls=none", "smtp://[::1]:2525/", "smtp://user:secret-pass@bad host", "smtp://user:pa/ss@host:25",
		"smtp://user:secret-pass@host:99999", "smtp://user:secret-pass@host/inbox", "smtp://u:secret-pass@host?secret-pass=1",
		"smtp://u:secret#pass@host", "smtp://u:secret?pass@host", "smtp://u:sec@ret@host", "smtp://:secret-pass@host?auth=login",
		"smtp://mail.example.com?auth=login", "smtps://h?tls=none", "smtp://u:p@h?auth=xoauth", "", "smtp://", "smtp://h:0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		s, err := parseSMTPURL(raw)
		if err != nil {
			if s != nil || !strings.HasPrefix(err.Error(), "SMTP URL: ") {
				t.Fatalf("parseSMTPURL(%q) = %v, %v", raw, s, err)
			}
			if i, n := password(raw); n >= 4 && strings.Contains(err.Error(), raw[i:i+n]) {
				// The password is quoted, unless the message says the same without it.
				pass := raw[i : i+n]
				_, other := parseSMTPURL(raw[:i] + strings.Repeat("Q", n) + raw[i+n:])
				if other == nil || !strings.Contains(other.Error(), pass) {
					t.Fatalf("parseSMTPURL(%q): the error quotes the password %q: %v", raw, pass, err)
				}
			}
			return
		}
		if s.host == "" || s.port < 1 || s.port > 65535 || (s.pass != "" && s.user == "" && strings.Contains(raw, "auth=")) {
			t.Fatalf("parseSMTPURL(%q) = %+v", raw, s)
		}
		str := s.String()
		if want := strings.SplitN(raw, ":", 2)[0] + "://" + net.JoinHostPort(s.host, strconv.Itoa(s.port)); str != want {
			t.Fatalf("String() of %q is %q, want %q: scheme, host and port only", raw, str, want)
		}
		again, err := parseSMTPURL(str)
		if err != nil || again.host != s.host || again.port != s.port || again.implicit != s.implicit {
			t.Fatalf("String() %q of %q reads back as %+v, %v", str, raw, again, err)
		}
	})
}

// password is where in raw its writer meant the password to be, at i for n bytes: after
// the scheme and the user's colon, up to the last "@", however the URL parser splits it.
func password(raw string) (i, n int) {
	start := strings.Index(raw, "://")
	if start < 0 {
		return 0, 0
	}
	start += 3
	at := strings.LastIndex(raw[start:], "@")
	colon := strings.Index(raw[start:], ":")
	if at < 0 || colon < 0 || colon > at {
		return 0, 0
	}
	return start + colon + 1, at - colon - 1
}
