package webhook_test

import (
	"bytes"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/surface/webhook"
)

// FuzzParseTargets: HITL_WEBHOOKS either fails with an error naming the variable, or gives
// targets that are written back in the same form and read again to the same map.
func FuzzParseTargets(f *testing.F) {
	for _, s := range []string{
		"ops-bot=https://bot.internal/hook",
		" ops-bot=https://bot.internal/hook , audit=http://127.0.0.1:9000/x ,",
		"a=https://h/x?q=1&r=2", "a=https://h/,a=https://h/", "a", "=https://h/", "a=", "a=ftp://h/", "a=https:///x",
		"a=http://[::1]:8080/p", "a=https://h/%zz", "a = https://h/ , b=https://u:p@h:1/", ",,,", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := webhook.ParseTargets(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "HITL_WEBHOOKS: ") || got != nil {
				t.Fatalf("ParseTargets(%q) = %v, %v", s, got, err)
			}
			return
		}
		var parts []string
		for _, name := range slices.Sorted(maps.Keys(got)) {
			u := got[name]
			if name == "" || strings.ContainsAny(name, ",=") || strings.TrimSpace(name) != name {
				t.Fatalf("ParseTargets(%q): name %q", s, name)
			}
			p, err := url.Parse(u)
			if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || strings.Contains(u, ",") {
				t.Fatalf("ParseTargets(%q): target %q = %q", s, name, u)
			}
			parts = append(parts, name+"="+u)
		}
		again, err := webhook.ParseTargets(strings.Join(parts, ","))
		if err != nil || !maps.Equal(got, again) {
			t.Fatalf("round trip of %q: %v -> %v, %v", s, got, again, err)
		}
	})
}

// FuzzSignerVerify: a signed delivery verifies; changing its id, timestamp, body or
// signature makes Verify refuse it, with ErrBadSignature, unless the signed content
// ("<id>.<timestamp>.<body>", the Standard Webhooks format) stays the same.
func FuzzSignerVerify(f *testing.F) {
	f.Add("msg_p5jXN8AQM9LWM0D4loKWxJek", int64(0), []byte(`{"test": 2432232314}`), uint8(0), []byte("msg_x"))
	f.Add("2f1c6a8e-0d4b-4c51-9b7e-3c2a1d0e9f88", int64(299), []byte(`{"type":"hitl.request.v1"}`), uint8(1), []byte("1"))
	f.Add("id", int64(-300), []byte{}, uint8(2), []byte(" "))
	f.Add("id", int64(301), []byte("x"), uint8(3), []byte("v1,AAAA"))
	f.Add("a", int64(0), []byte("b"), uint8(4), []byte("v2,x v1,y"))
	f.Fuzz(func(t *testing.T, id string, skew int64, body []byte, what uint8, change []byte) {
		s, err := webhook.NewSigner(secret)
		if err != nil {
			t.Fatal(err)
		}
		at := time.Unix(1_800_000_000, 0)
		now := at.Add(time.Duration(skew%100_000) * time.Second)
		const tolerance = 5 * time.Minute
		h := http.Header{}
		s.Sign(h, id, at, body)
		err = s.Verify(h, body, now, tolerance)
		d := now.Sub(at)
		switch {
		case err != nil && !errors.Is(err, webhook.ErrBadSignature):
			t.Fatalf("Verify: %v does not wrap ErrBadSignature", err)
		case h.Get(webhook.HeaderID) == "" || d > tolerance || d < -tolerance:
			if err == nil {
				t.Fatalf("Verify accepted id %q at skew %v", id, d)
			}
			return
		case err != nil:
			t.Fatalf("Verify(Sign(%q, %q)) at skew %v: %v", id, body, d, err)
		}
		signed := id + "." + strconv.FormatInt(at.Unix(), 10) + "." + string(body)
		h2, body2 := h.Clone(), bytes.Clone(body)
		id2, ts2 := id, at.Unix()
		switch what % 5 {
		case 0:
			id2 = string(change)
			h2.Set(webhook.HeaderID, id2)
		case 1:
			n, err := strconv.ParseInt(string(change), 10, 64)
			if err != nil {
				h2.Set(webhook.HeaderTimestamp, string(change))
				ts2 = -1 << 63
			} else {
				ts2 = at.Unix() + n%600
				h2.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts2, 10))
			}
		case 2:
			body2 = append(body2, change...)
		case 3:
			h2.Set(webhook.HeaderSignature, string(change))
		case 4:
			h2.Set(webhook.HeaderSignature, string(change)+" "+h.Get(webhook.HeaderSignature)[:len(h.Get(webhook.HeaderSignature))-1])
		}
		err = s.Verify(h2, body2, now, tolerance)
		same := h2.Get(webhook.HeaderID)+"."+strconv.FormatInt(ts2, 10)+"."+string(body2) == signed && what%5 < 3
		if err == nil && !same {
			t.Fatalf("Verify accepted a changed delivery: id %q ts %d body %q sig %q", id2, ts2, body2, h2.Get(webhook.HeaderSignature))
		}
		if err != nil && !errors.Is(err, webhook.ErrBadSignature) {
			t.Fatalf("Verify: %v does not wrap ErrBadSignature", err)
		}
	})
}
