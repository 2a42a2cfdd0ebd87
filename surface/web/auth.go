package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/hitl-dev/hitl/internal/apitoken"
	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/routing"
)

// Each signed value has a prefix of its own, so that no value signed for one purpose (a
// link, a session, a form) is accepted for another, although all use the link secret.
const (
	prefixSession = "hitl-web-session-v1."
	prefixCSRF    = "hitl-web-csrf-v1."
	prefixToken   = "hitl-web-token-v1."
	prefixLogin   = "hitl-web-login-v1."

	sessionCookie = "hitl_session"
	loginCookie   = "hitl_login"
)

// viewer is who is looking at a page.
type viewer struct {
	// identity is what routing.Routes.Allows is asked about: the link's subject, or
	// routing.Operator.
	identity string
	// name is the name an operator gave when signing in (optional).
	name string
	// link is set when the viewer came with a link token; token is that token.
	link  *linktoken.Claims
	token string
	// session is set when an operator has a session cookie.
	session *session
	// token is the API token an operator signed in with (its scope decides whether they
	// may answer); the zero Token, with Admin scope, in hitl dev without tokens.
	api apitoken.Token
}

func (v viewer) operator() bool { return v.identity == routing.Operator }

// responder is recorded on answers: the link's subject, or the operator's name, or the
// name of the API token they signed in with, or "api" (a bare token, or hitl dev).
func (v viewer) responder() string {
	if v.operator() && v.name != "" {
		return v.name
	}
	if v.operator() && v.api.Name != "" && !v.api.Legacy {
		return v.api.Name
	}
	return v.identity
}

// mayAnswer reports whether v's credential lets them answer: a link always (the routes
// decide the rest), an operator when their token's scope is answer or admin.
func (v viewer) mayAnswer() bool { return !v.operator() || v.api.Scope.Allows(apitoken.Answer) }

// binding is what a form's CSRF token is bound to besides the request and the identity:
// the link token, or the session's nonce (nothing for an operator of hitl dev without a
// session: no cookie can then be abused).
func (v viewer) binding() string {
	switch {
	case v.link != nil:
		return "link:" + v.token
	case v.session != nil:
		return "session:" + v.session.Nonce
	}
	return ""
}

// session is the operator's signed cookie.
type session struct {
	Name  string `json:"n,omitempty"` // as typed at sign-in
	Nonce string `json:"k"`           // random: binds the forms' CSRF tokens to this session
	Token string `json:"t,omitempty"` // fingerprint of the API token used: removing it ends the session
	Exp   int64  `json:"e"`           // unix seconds

	api apitoken.Token // the token Token fingerprints, found when verified
}

// sessionToken finds the configured token with fingerprint fp, comparing with each in
// constant time.
func (s *Server) sessionToken(fp string) (apitoken.Token, bool) {
	found := -1
	for i, t := range s.tokens.Tokens() {
		if subtle.ConstantTimeCompare([]byte(fp), []byte(s.tokenFingerprint(t.Secret))) == 1 {
			found = i
		}
	}
	if found < 0 {
		return apitoken.Token{}, false
	}
	return s.tokens.Tokens()[found], true
}

var errBadSession = errors.New("invalid session")

func (s *Server) mac(prefix string, parts ...string) []byte {
	h := hmac.New(sha256.New, s.cfg.LinkSecret)
	h.Write([]byte(prefix))
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(p))
	}
	return h.Sum(nil)
}

func b64(b []byte) string { return encoding.EncodeToString(b) }

// encoding is unpadded base64url, read strictly: a last character whose unused bits are set
// would otherwise decode to the same bytes, so that several cookies verified as one.
var encoding = base64.RawURLEncoding.Strict()

// tokenFingerprint names an API token without revealing it.
func (s *Server) tokenFingerprint(tok string) string { return b64(s.mac(prefixToken, tok)[:16]) }

// checkAPIToken finds the configured token tok is, in constant time, and returns it with
// its fingerprint.
func (s *Server) checkAPIToken(tok string) (apitoken.Token, string, bool) {
	t, ok := s.tokens.Lookup(tok)
	if !ok {
		return apitoken.Token{}, "", false
	}
	return t, s.tokenFingerprint(tok), true
}

func (s *Server) signSession(se session) string {
	body, _ := json.Marshal(se)
	payload := b64(body)
	return payload + "." + b64(s.mac(prefixSession, payload))
}

// verifySession checks a session cookie's signature, expiry, and that the API token it was
// opened with is still configured.
func (s *Server) verifySession(v string, now time.Time) (*session, error) {
	payload, sig, ok := strings.Cut(v, ".")
	if !ok || len(v) > 2048 {
		return nil, errBadSession
	}
	got, err := encoding.DecodeString(sig)
	// The decoder skips \r and \n even when strict: only the canonical spelling is the cookie.
	if err != nil || encoding.EncodeToString(got) != sig || !hmac.Equal(got, s.mac(prefixSession, payload)) {
		return nil, errBadSession
	}
	body, err := encoding.DecodeString(payload)
	var se session
	if err != nil || json.Unmarshal(body, &se) != nil || se.Nonce == "" || now.Unix() >= se.Exp {
		return nil, errBadSession
	}
	if !s.tokens.Open() {
		t, ok := s.sessionToken(se.Token)
		if !ok {
			return nil, errBadSession
		}
		se.api = t
	} else {
		se.api = apitoken.Token{Scope: apitoken.Admin, Legacy: true}
	}
	return &se, nil
}

// csrf is the hidden field of a form that acts on id (a request id, or "logout") as v.
func (s *Server) csrf(id string, v viewer) string {
	return b64(s.mac(prefixCSRF, id, v.identity, v.binding()))
}

func (s *Server) checkCSRF(r *http.Request, id string, v viewer) bool {
	return equal(r.PostForm.Get("_csrf"), s.csrf(id, v))
}

// equal compares a submitted token with the expected one in constant time.
func equal(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// loginCSRF binds the sign-in form to the nonce in the browser's hitl_login cookie (a
// double-submit token): another site cannot sign a browser in with its own token.
func (s *Server) loginCSRF(nonce string) string { return b64(s.mac(prefixLogin, nonce)) }

func randomNonce() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return b64(b)
}

func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/inbox", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: s.secure, MaxAge: int(maxAge / time.Second)}
	if maxAge < 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}
