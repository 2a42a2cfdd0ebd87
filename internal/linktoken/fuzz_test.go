package linktoken_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hitl-dev/hitl/internal/linktoken"
)

var secret = []byte("0123456789abcdef0123")

// now is fixed so that the seeds' expiry always lies ahead of it.
var now = time.Unix(1_800_000_000, 0)

// FuzzVerify signs the claims it is given, checks that Verify gives them back, then mutates
// the token one way (replace, insert or delete a byte, cut it short, add to it) and checks
// that the mutated token is refused: no two strings verify as the same signed token.
func FuzzVerify(f *testing.F) {
	for _, c := range []linktoken.Claims{
		{RequestID: "2f1c6a8e-0d4b-4c51-9b7e-3c2a1d0e9f88", Subject: "webhook:ops-bot", Expires: now.Unix() + 3600},
		{RequestID: "2f1c6a8e-0d4b-4c51-9b7e-3c2a1d0e9f88", Subject: "email:a@b.c", Expires: now.Unix() + 7*86400, Option: "approve"},
		{RequestID: "r", Subject: "telegram:42", Expires: now.Unix() - 1},
		{RequestID: "x.y", Subject: "", Expires: 1 << 62, Option: "o1"},
	} {
		for op := range uint8(5) {
			f.Add(c.RequestID, c.Subject, c.Expires, c.Option, op, uint16(0), byte('A'))
			f.Add(c.RequestID, c.Subject, c.Expires, c.Option, op, uint16(199), byte('.'))
		}
		f.Add(c.RequestID, c.Subject, c.Expires, c.Option, uint8(0), uint16(65535), byte('B')) // the signature's last character
	}
	f.Fuzz(func(t *testing.T, rid, sub string, exp int64, opt string, op uint8, pos uint16, b byte) {
		c := linktoken.Claims{RequestID: rid, Subject: sub, Expires: exp, Option: opt}
		tok, err := linktoken.Sign(secret, c)
		if err != nil {
			// Sign refuses only what Verify could not accept: no request, or too long.
			body, _ := json.Marshal(c)
			if rid != "" && base64.RawURLEncoding.EncodedLen(len(body))+1+43 <= linktoken.MaxLen {
				t.Fatalf("Sign(%+v): %v", c, err)
			}
			return
		}
		if rid == "" || len(tok) > linktoken.MaxLen {
			t.Fatalf("Sign made a token Verify refuses: %q", tok)
		}
		got, err := linktoken.Verify(secret, tok, now)
		switch {
		case now.Unix() >= exp:
			if !errors.Is(err, linktoken.ErrExpired) || got != (linktoken.Claims{}) {
				t.Fatalf("expired token: %+v, %v", got, err)
			}
		case err != nil:
			t.Fatalf("Verify(Sign(%+v)): %v", c, err)
		case got != c && utf8.ValidString(rid+sub+opt):
			t.Fatalf("round trip: %+v -> %+v", c, got)
		}
		if _, err := linktoken.Verify([]byte("another-secret-0123"), tok, now); !errors.Is(err, linktoken.ErrInvalid) {
			t.Fatalf("another secret verified the token: %v", err)
		}

		mut := mutate(tok, op, int(pos), b)
		if mut == tok {
			return
		}
		if got, err := linktoken.Verify(secret, mut, now); err == nil || got != (linktoken.Claims{}) {
			t.Fatalf("mutated token accepted:\n token %q\n mut   %q\n claims %+v, %v", tok, mut, got, err)
		} else if !errors.Is(err, linktoken.ErrInvalid) {
			// ErrExpired is only for tokens whose signature verified.
			t.Fatalf("mutated token: %v, want ErrInvalid", err)
		}
	})
}

func mutate(tok string, op uint8, pos int, b byte) string {
	i := pos % (len(tok) + 1)
	if pos == 65535 {
		i = len(tok) - 1 // the signature's last character, whose low bits base64 could ignore
	}
	switch op % 5 {
	case 0:
		if i == len(tok) {
			i--
		}
		return tok[:i] + string(b) + tok[i+1:]
	case 1:
		return tok[:i] + string(b) + tok[i:]
	case 2:
		if i == len(tok) {
			i--
		}
		return tok[:i] + tok[i+1:]
	case 3:
		return tok[:i]
	}
	return tok + strings.Repeat(string(b), 1+pos%3)
}
