// Package linktoken signs and verifies request-bound tokens: the credential inside a
// respond_url, which lets one recipient answer one request until it expires, and nothing else.
package linktoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Claims say what a token allows.
type Claims struct {
	RequestID string `json:"rid"`
	Subject   string `json:"sub"` // who it was sent to, e.g. "webhook:ops-bot"; becomes the responder
	Expires   int64  `json:"exp"` // unix seconds
	// Option, when set, binds the token to one answer (an email's "Approve" link carries
	// "approve"): the surface that issued it decides only that. Empty for general links.
	Option string `json:"opt,omitempty"`
}

var (
	// ErrInvalid: the token is malformed or its signature does not match.
	ErrInvalid = errors.New("invalid token")
	// ErrExpired: the token was valid but its time is up.
	ErrExpired = errors.New("token expired")
)

// MinSecretLen is the shortest secret accepted.
const MinSecretLen = 16

// MaxLen is the longest token Verify reads.
const MaxLen = 2048

// encoding is unpadded base64url, read strictly: a character whose unused low bits are set
// would otherwise decode to the same bytes, so that several strings verified as one token.
var encoding = base64.RawURLEncoding.Strict()

// Sign returns a token for c. It refuses claims without a request and claims too long
// for Verify to read (MaxLen), so that every token it makes verifies.
func Sign(secret []byte, c Claims) (string, error) {
	if len(secret) < MinSecretLen {
		return "", fmt.Errorf("link secret must be at least %d bytes", MinSecretLen)
	}
	if c.RequestID == "" {
		return "", errors.New("link token: no request id")
	}
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	payload := encoding.EncodeToString(body)
	tok := payload + "." + encoding.EncodeToString(mac(secret, payload))
	if len(tok) > MaxLen {
		return "", fmt.Errorf("link token: %d bytes, over the %d limit", len(tok), MaxLen)
	}
	return tok, nil
}

// Verify checks a token's signature and expiry at now and returns its claims.
func Verify(secret []byte, token string, now time.Time) (Claims, error) {
	var c Claims
	payload, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > MaxLen {
		return c, ErrInvalid
	}
	got, err := encoding.DecodeString(sig)
	// The decoder skips \r and \n even when strict: only the canonical spelling is the token.
	if err != nil || encoding.EncodeToString(got) != sig || !hmac.Equal(got, mac(secret, payload)) {
		return c, ErrInvalid
	}
	body, err := encoding.DecodeString(payload)
	if err != nil || json.Unmarshal(body, &c) != nil || c.RequestID == "" {
		return Claims{}, ErrInvalid
	}
	if now.Unix() >= c.Expires {
		return Claims{}, ErrExpired
	}
	return c, nil
}

func mac(secret []byte, payload string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("hitl-link-v1."))
	h.Write([]byte(payload))
	return h.Sum(nil)
}
