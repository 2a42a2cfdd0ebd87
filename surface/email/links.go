package email

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
)

// MaxComment caps a comment, in characters.
const MaxComment = 10_000

// LinksConfig of the action links' handler.
type LinksConfig struct {
	Store *store.Store // required
	// LinkSecret verifies the links' tokens: the secret the email channel signed them with
	// (HITL_LINK_SECRET). Required, at least linktoken.MinSecretLen bytes.
	LinkSecret []byte
	// Routes returns who may answer what; it is called per request, so it may be set after
	// the handler is built. Nil, or a nil result: whoever holds a link may answer.
	Routes func() *routing.Routes
	Logger *slog.Logger
	// Metrics counts the requests this handler resolved. Optional.
	Metrics *metrics.Metrics
	// Now is the clock tokens expire by. Default time.Now.
	Now func() time.Time
}

// Links serves /email/act, the pages behind the action links of emails. Create it with
// NewLinks.
type Links struct {
	cfg     LinksConfig
	log     *slog.Logger
	answers *store.Answerer
}

// NewLinks checks the config.
func NewLinks(cfg LinksConfig) (*Links, error) {
	if cfg.Store == nil {
		return nil, errors.New("email links: Store is required")
	}
	if len(cfg.LinkSecret) < linktoken.MinSecretLen {
		return nil, errors.New("email links: LinkSecret must be at least 16 bytes (HITL_LINK_SECRET)")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Links{cfg: cfg, log: cfg.Logger}
	h.answers = &store.Answerer{Store: cfg.Store, Routes: cfg.Routes, Metrics: cfg.Metrics, Logger: cfg.Logger}
	return h, nil
}

// Routes are the patterns to mount on the responder's mux.
func (h *Links) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET " + ActionPath:  http.HandlerFunc(h.show),
		"POST " + ActionPath: http.HandlerFunc(h.decide),
	}
}

// ServeHTTP serves GET (and HEAD) with show and POST with decide.
func (h *Links) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.show(w, r)
	case http.MethodPost:
		h.decide(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		h.render(w, http.StatusMethodNotAllowed, problem("Not supported", "This address only opens links from emails."))
	}
}

// link is a verified token and the request it names.
type link struct {
	claims   linktoken.Claims
	req      *events.Request
	action   Action
	identity string // the address, for people: "a@b.c"
}

// open verifies the token and reads the request. On failure it has written the page.
func (h *Links) open(w http.ResponseWriter, r *http.Request, token string) (*link, bool) {
	claims, err := linktoken.Verify(h.cfg.LinkSecret, token, h.cfg.Now())
	switch {
	case errors.Is(err, linktoken.ErrExpired):
		h.render(w, http.StatusGone, problem("This link has expired",
			"Links in hitl emails stop working when the request's deadline passes (or after 7 days). If the question is still open, ask whoever sent it for a new one."))
		return nil, false
	case err != nil:
		h.log.Info("email link refused: invalid token", slog.String("remote", r.RemoteAddr))
		h.render(w, http.StatusBadRequest, problem("This link is not valid",
			"The link is incomplete or was changed. Open it again from the email, or copy the whole address into your browser."))
		return nil, false
	}
	addr, isEmail := strings.CutPrefix(claims.Subject, "email:")
	if !isEmail || claims.Option == "" {
		h.render(w, http.StatusBadRequest, problem("This link is not valid",
			"This link does not answer anything by itself. Use one of the answer links in the email."))
		return nil, false
	}
	req, _, err := h.cfg.Store.Request(r.Context(), claims.RequestID)
	if err != nil {
		h.storeProblem(w, err)
		return nil, false
	}
	l := &link{claims: claims, req: req, identity: addr}
	if req.Resolved() {
		return l, true
	}
	action, ok := ActionFor(req.Input, claims.Option)
	if !ok {
		h.render(w, http.StatusBadRequest, problem("This link is not valid",
			"This link names an answer the request does not offer. Open the request from the email again."))
		return nil, false
	}
	l.action = action
	return l, true
}

// allowed checks the recipient against the request's approvers; on refusal it has written
// a polite page and logged the attempt.
func (h *Links) allowed(ctx context.Context, w http.ResponseWriter, l *link, level slog.Level) bool {
	var routes *routing.Routes
	if h.cfg.Routes != nil {
		routes = h.cfg.Routes()
	}
	if routes == nil || routes.Allows(l.req, l.claims.Subject) {
		return true
	}
	h.log.Log(ctx, level, "email answer refused: not an approver of this request",
		slog.String("request_id", l.req.ID), slog.String("identity", l.claims.Subject))
	p := problem("This request is for others to answer",
		"Thank you for responding, but this request can only be answered by its approvers, so your answer was not recorded. Your attempt was logged.")
	p.Request = requestOf(l.req)
	h.render(w, http.StatusForbidden, p)
	return false
}

// show is GET: a confirmation page, or the outcome once resolved. It never decides.
func (h *Links) show(w http.ResponseWriter, r *http.Request) {
	l, ok := h.open(w, r, r.URL.Query().Get("token"))
	if !ok {
		return
	}
	if l.req.Resolved() {
		h.render(w, http.StatusOK, outcome(l.req, "Already decided"))
		return
	}
	if !h.allowed(r.Context(), w, l, slog.LevelInfo) {
		return
	}
	h.render(w, http.StatusOK, h.confirm(l, r.URL.Query().Get("token"), "", ""))
}

// decide is POST: it answers, through the gate.
func (h *Links) decide(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.render(w, http.StatusBadRequest, problem("Your answer was not recorded", "The form could not be read; open the link from the email again."))
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		token = r.URL.Query().Get("token")
	}
	l, ok := h.open(w, r, token)
	if !ok {
		return
	}
	if l.req.Resolved() {
		h.render(w, http.StatusConflict, outcome(l.req, "Already decided"))
		return
	}
	if !h.allowed(r.Context(), w, l, slog.LevelWarn) {
		return
	}
	comment := r.PostForm.Get("comment")
	if utf8.RuneCountInString(comment) > MaxComment {
		h.render(w, http.StatusUnprocessableEntity, h.confirm(l, token, comment, "The comment is longer than 10 000 characters."))
		return
	}
	data, respComment, err := Answer(l.req.Input, l.claims.Option, comment)
	if err != nil {
		h.render(w, http.StatusBadRequest, problem("This link is not valid", err.Error()))
		return
	}
	resolved, err := h.answers.Answer(r.Context(), store.Answer{Request: l.req, RequestID: l.req.ID,
		Identities: []string{l.claims.Subject}, Data: data, Comment: respComment, Via: "email"})
	var re *store.ResolvedError
	var ve *input.ValidationError
	switch {
	case errors.As(err, &re):
		// Someone (or a timeout) won the gate first: show what happened.
		h.render(w, http.StatusConflict, outcome(re.Request, "Already decided"))
		return
	case errors.Is(err, store.ErrNotAllowed):
		h.allowed(r.Context(), w, l, slog.LevelWarn) // renders the refusal
		return
	case errors.As(err, &ve):
		h.render(w, http.StatusUnprocessableEntity, h.confirm(l, token, comment, validationMessage(err)))
		return
	case err != nil:
		h.storeProblem(w, err)
		return
	}
	h.log.Info("request answered by email link", slog.String("request_id", resolved.ID),
		slog.String("responder", resolved.Response.Responder), slog.String("option", l.claims.Option))
	h.render(w, http.StatusOK, outcome(resolved, "Thank you: your answer is recorded"))
}

func (h *Links) storeProblem(w http.ResponseWriter, err error) {
	if errors.Is(err, store.ErrPurged) {
		h.render(w, http.StatusGone, problem("This request is closed",
			"It was decided a while ago and has since been removed, as finished requests are after their retention. Nothing was changed."))
		return
	}
	if errors.Is(err, store.ErrNotFound) {
		h.render(w, http.StatusNotFound, problem("Request not found", "The request this link belongs to no longer exists."))
		return
	}
	h.log.Error("email link: store", slog.Any("err", err))
	code := http.StatusInternalServerError // a bug
	if store.Unavailable(err) {
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "2")
	}
	h.render(w, code, problem("Please try again", "hitl could not reach its storage just now. Nothing was decided; try the link again in a moment."))
}

func validationMessage(err error) string {
	var ve *input.ValidationError
	if errors.As(err, &ve) && len(ve.Fields) > 0 {
		msgs := make([]string, len(ve.Fields))
		for i, f := range ve.Fields {
			msgs[i] = f.Message
			if f.Path == "$.comment" {
				msgs[i] = "The comment " + f.Message + "."
			}
		}
		return strings.Join(msgs, " ")
	}
	return err.Error()
}

// ---- pages ----

//go:embed templates/links/style.css
var css string

//go:embed templates/links/pages.html.tmpl
var pagesSrc string

var (
	pages = template.Must(template.New("").Funcs(template.FuncMap{
		"css": func() template.CSS { return template.CSS(css) },
	}).Parse(pagesSrc))
	// The page's only style is the inline sheet above; the CSP names it by hash.
	cssHash = func() string { h := sha256.Sum256([]byte(css)); return base64.StdEncoding.EncodeToString(h[:]) }()
	csp     = "default-src 'none'; style-src 'sha256-" + cssHash + "'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

// pageRequest is the request as the link pages show it.
type pageRequest struct {
	Title, Message string
	Context        []Field
}

type page struct {
	Kind     string // confirm | outcome | problem
	Eyebrow  string
	Heading  string
	Sentence string
	Request  *pageRequest
	// confirm
	Action          Action
	Identity        string
	Token           string
	Comment         string
	CommentRequired bool
	Error           string
	Deadline        string
	// outcome
	Decision Decision
}

func requestOf(r *events.Request) *pageRequest {
	return &pageRequest{Title: r.Title, Message: strings.TrimSpace(r.Message), Context: ContextFields(r.Context)}
}

func (h *Links) confirm(l *link, token, comment, errMsg string) page {
	p := page{Kind: "confirm", Eyebrow: "Confirm your answer", Heading: "Confirm: " + l.action.Label,
		Request: requestOf(l.req), Action: l.action, Identity: l.identity, Token: token, Comment: comment, Error: errMsg,
		CommentRequired: l.req.Input.Type == input.Approval && l.claims.Option == "reject" && l.req.Input.RequireCommentOnReject}
	if l.req.Deadline != nil {
		p.Deadline = FormatTime(*l.req.Deadline)
	}
	return p
}

func outcome(r *events.Request, eyebrow string) page {
	d := Decided(r)
	return page{Kind: "outcome", Eyebrow: eyebrow, Heading: r.Title, Request: requestOf(r), Decision: d,
		Sentence: d.Sentence()}
}

func problem(heading, sentence string) page {
	return page{Kind: "problem", Eyebrow: "hitl", Heading: heading, Sentence: sentence}
}

func (h *Links) render(w http.ResponseWriter, status int, p page) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer") // the URL holds the token
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", csp)
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, "layout", p); err != nil {
		h.log.Error("email link page", slog.Any("err", err))
	}
}
