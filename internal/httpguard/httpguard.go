package httpguard

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Config says what the guard protects.
type Config struct {
	// PublicURL is the base URL people and bots reach the server at (http://localhost:8080
	// under `hitl dev`). Its origin is trusted in Origin headers, for a proxy that rewrites
	// Host, and its host name passes the Host check. Default none.
	PublicURL string
	// CheckHost refuses, with 421, a request whose Host is neither an IP address, nor
	// localhost or a name under .localhost, nor PublicURL's host. A DNS-rebinding page
	// always sends its own name as Host, so this stops it while every direct caller passes.
	// Default false: the server is on a network where any name may reach it, and its API
	// needs tokens that a rebinding page does not hold.
	CheckHost bool
	// JSON are the JSON APIs' paths: an entry ending in "/" covers everything below it,
	// others only themselves. Their POST, PUT, PATCH and DELETE requests must send
	// Content-Type application/json (parameters such as charset allowed), or no body and
	// no Content-Type; refusals there are JSON errors. Default none.
	JSON []string
	// Logger receives one line per refused request. Default: discarded.
	Logger *slog.Logger
}

// Guard is the middleware. It is safe for concurrent use.
type Guard struct {
	cfg        Config
	log        *slog.Logger
	cop        *http.CrossOriginProtection
	publicHost string // PublicURL's host name, lower case; "" when none
}

// New checks cfg. A PublicURL that is not an absolute http(s) URL is an error.
func New(cfg Config) (*Guard, error) {
	g := &Guard{cfg: cfg, log: cfg.Logger, cop: http.NewCrossOriginProtection()}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("httpguard: public URL %q must be an absolute http or https URL", cfg.PublicURL)
		}
		if err := g.cop.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			return nil, fmt.Errorf("httpguard: public URL %q: %w", cfg.PublicURL, err)
		}
		g.publicHost = normalHost(u.Hostname())
	}
	for _, p := range cfg.JSON {
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("httpguard: JSON path %q must start with /", p)
		}
	}
	return g, nil
}

// Handler returns next behind the guard.
func (g *Guard) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := g.Check(r); err != nil {
			g.refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Refusal is why the guard refused a request: the status it answers with and the error.
type Refusal struct {
	Status  int    // 421, 403 or 415
	Code    string // misdirected_request, cross_origin or unsupported_media_type
	Message string
}

func (e *Refusal) Error() string { return e.Message }

// Check returns the *Refusal of a request the guard refuses, or nil.
func (g *Guard) Check(r *http.Request) error {
	if g.cfg.CheckHost && !g.hostAllowed(r.Host) {
		return &Refusal{http.StatusMisdirectedRequest, "misdirected_request",
			fmt.Sprintf("this server does not answer for host %q; use localhost, an IP address or the public URL's host", r.Host)}
	}
	if err := g.cop.Check(r); err != nil {
		return &Refusal{http.StatusForbidden, "cross_origin",
			"cross-origin requests that change state are refused (Origin or Sec-Fetch-Site says another site sent it)"}
	}
	if unsafe(r.Method) && g.isJSON(r.URL.Path) {
		if err := jsonContent(r); err != nil {
			return err
		}
	}
	return nil
}

func unsafe(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// jsonContent accepts application/json, and no Content-Type on an empty body (a POST to
// /cancel without a reason, say).
func jsonContent(r *http.Request) *Refusal {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		if r.ContentLength == 0 {
			return nil
		}
		return &Refusal{http.StatusUnsupportedMediaType, "unsupported_media_type",
			"the body must be JSON, sent with Content-Type: application/json"}
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return &Refusal{http.StatusUnsupportedMediaType, "unsupported_media_type",
			fmt.Sprintf("Content-Type %q is not accepted: the body must be JSON, sent with Content-Type: application/json"+
				" (curl: -H 'Content-Type: application/json')", ct)}
	}
	return nil
}

func (g *Guard) isJSON(path string) bool {
	for _, p := range g.cfg.JSON {
		if path == p || (strings.HasSuffix(p, "/") && strings.HasPrefix(path, p)) {
			return true
		}
	}
	return false
}

// hostAllowed is the DNS-rebinding check: a rebinding page can only send its own name.
func (g *Guard) hostAllowed(hostport string) bool {
	if hostport == "" {
		return true // HTTP/1.0 without Host: no browser sends that
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = normalHost(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	switch {
	case net.ParseIP(host) != nil:
		return true
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		return true
	case g.publicHost != "" && host == g.publicHost:
		return true
	}
	return false
}

func normalHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// refuse answers a JSON error on the JSON APIs, a plain page elsewhere (the web inbox, the
// email links' pages).
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var ref *Refusal
	if !errors.As(err, &ref) {
		ref = &Refusal{http.StatusForbidden, "forbidden", err.Error()}
	}
	g.log.Info("http request refused", slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.String("host", r.Host), slog.String("origin", r.Header.Get("Origin")),
		slog.String("sec_fetch_site", r.Header.Get("Sec-Fetch-Site")), slog.String("content_type", r.Header.Get("Content-Type")),
		slog.String("code", ref.Code))
	if g.isJSON(r.URL.Path) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ref.Status)
		// The REST API's error shape, with the job API's "detail" beside it.
		_ = json.NewEncoder(w).Encode(map[string]any{
			"error":  map[string]string{"code": ref.Code, "message": ref.Message},
			"detail": ref.Message,
		})
		return
	}
	http.Error(w, http.StatusText(ref.Status)+": "+ref.Message, ref.Status)
}
