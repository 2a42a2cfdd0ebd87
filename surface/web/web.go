package web

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/apitoken"
	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/internal/ratelimit"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/present"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
)

// Config of the web inbox.
type Config struct {
	// Store reads requests and passes answers through the gate. Required.
	Store *store.Store
	// LinkSecret verifies link tokens (?token=...). It also signs the session cookie and
	// the forms' CSRF tokens, each under a prefix of its own. Required, at least 16 bytes.
	LinkSecret []byte
	// Tokens are the API tokens operators sign in with at /inbox/login, in the REST API's
	// forms (see apitoken.Parse): a read token shows the inbox, answer and admin tokens also
	// answer. Empty: there is no sign-in, and every visitor without a link is an operator
	// (hitl dev only).
	Tokens []string
	// Login limits failed sign-ins per client, Answers the answers sent from the pages.
	// Nil: no limit.
	Login, Answers *ratelimit.Limiter
	// Routes decides who may see and answer a request. It is called on every request,
	// because the app builds the routes after the surfaces. Nil, or returning nil: a link
	// shows and answers its own request only.
	Routes func() *routing.Routes
	// PublicURL is where people reach the responder. With https, cookies are marked
	// Secure. Default: Secure only on requests that came over TLS.
	PublicURL string
	// SessionTTL is how long an operator stays signed in. Default 12h.
	SessionTTL time.Duration
	// MaxBody caps a submitted form. Default 2 MiB (an answer may be 1 MiB of JSON).
	MaxBody int64
	// PageSize is how many requests an inbox page lists. Default store.DefaultListLimit
	// (50), at most store.MaxListLimit.
	PageSize int
	// Logger defaults to discarding; Metrics may be nil.
	Logger  *slog.Logger
	Metrics *metrics.Metrics
}

// Server serves the inbox pages. It is safe for concurrent use.
type Server struct {
	answers *store.Answerer
	cfg     Config
	tokens  *apitoken.Set
	log     *slog.Logger
	mux     *http.ServeMux
	secure  bool
	now     func() time.Time
}

// New checks the config and builds the pages' routes.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("web: Store is required")
	}
	if len(cfg.LinkSecret) < linktoken.MinSecretLen {
		return nil, fmt.Errorf("web: LinkSecret must be at least %d bytes", linktoken.MinSecretLen)
	}
	cfg.SessionTTL = cmp.Or(cfg.SessionTTL, 12*time.Hour)
	cfg.MaxBody = cmp.Or(cfg.MaxBody, 2<<20)
	cfg.PageSize = cmp.Or(cfg.PageSize, store.DefaultListLimit)
	if cfg.PageSize < 0 || cfg.PageSize > store.MaxListLimit {
		return nil, fmt.Errorf("web: PageSize must be between 1 and %d", store.MaxListLimit)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tokens, err := apitoken.NewSet(cfg.Tokens)
	if err != nil {
		return nil, fmt.Errorf("web: Tokens: %w", err)
	}
	s := &Server{answers: &store.Answerer{Store: cfg.Store, Routes: cfg.Routes, Metrics: cfg.Metrics, Logger: cfg.Logger},
		cfg: cfg, tokens: tokens, log: cfg.Logger, mux: http.NewServeMux(), now: time.Now,
		secure: strings.HasPrefix(strings.ToLower(cfg.PublicURL), "https://")}
	// Browsers say where a POST comes from (Sec-Fetch-Site, Origin): cross-site ones are
	// refused before the forms' own CSRF tokens are even looked at.
	post := func(h http.HandlerFunc) http.Handler { return http.NewCrossOriginProtection().Handler(h) }
	s.mux.HandleFunc("GET /inbox", s.inbox)
	s.mux.HandleFunc("GET /inbox/{$}", s.inbox)
	s.mux.HandleFunc("GET /inbox/login", s.loginForm)
	s.mux.Handle("POST /inbox/login", post(s.login))
	s.mux.Handle("POST /inbox/logout", post(s.logout))
	s.mux.HandleFunc("GET /inbox/requests/{id}", s.showRequest)
	s.mux.Handle("POST /inbox/requests/{id}", post(s.answer))
	s.mux.HandleFunc("GET /inbox/static/style.css", s.style)
	s.mux.HandleFunc("/inbox/", func(w http.ResponseWriter, r *http.Request) {
		s.message(w, http.StatusNotFound, viewer{}, "Page not found", "There is no page at this address.")
	})
	return s, nil
}

// Routes are the patterns to mount on the responder's mux.
func (s *Server) Routes() map[string]http.Handler {
	return map[string]http.Handler{"/inbox": s, "/inbox/": s}
}

// ServeHTTP serves the pages, with headers that keep them out of frames and caches, allow
// no script and send no Referer (links carry tokens).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) style(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(styleCSS)
}

func (s *Server) routes() *routing.Routes {
	if s.cfg.Routes == nil {
		return nil
	}
	return s.cfg.Routes()
}

// allows reports whether v may see and answer req: an operator any request; a link only
// its own request, and only while the person it was sent to may answer it. One leaked or
// forwarded link opens nothing else, not even after its own request resolved.
func (s *Server) allows(req *events.Request, v viewer) bool {
	if v.operator() {
		return true
	}
	if v.link == nil || v.link.RequestID != req.ID {
		return false
	}
	if len(req.Assignees) == 0 && len(req.Approvers) == 0 {
		return true
	}
	if rt := s.routes(); rt != nil {
		return rt.Allows(req, v.identity)
	}
	return true
}

// errNoViewer: nobody is signed in and the page needs someone.
var errNoViewer = errors.New("not signed in")

// identify finds the viewer: a link token in the URL wins; else the session cookie; else,
// without API tokens, an operator. A refusal has been written when the error is not
// errNoViewer.
func (s *Server) identify(w http.ResponseWriter, r *http.Request) (viewer, error) {
	now := s.now()
	if tok := r.URL.Query().Get("token"); tok != "" {
		c, err := linktoken.Verify(s.cfg.LinkSecret, tok, now)
		switch {
		case errors.Is(err, linktoken.ErrExpired):
			s.message(w, http.StatusUnauthorized, viewer{}, "This link has expired",
				"Links in messages stop working after a while. Ask whoever sent it for a new one.")
			return viewer{}, err
		case err != nil:
			s.log.Warn("web: invalid link token", slog.String("path", r.URL.Path))
			s.message(w, http.StatusUnauthorized, viewer{}, "This link is not valid",
				"It may have been cut short when it was copied. Open it again from the message you received.")
			return viewer{}, err
		case c.Option != "":
			// A one-answer link (an email's "Approve" button) decides only that, where it was issued.
			s.message(w, http.StatusUnauthorized, viewer{}, "This link gives one answer only",
				"It cannot open the inbox. Use the message’s link to answer in the browser instead.")
			return viewer{}, linktoken.ErrInvalid
		}
		return viewer{identity: c.Subject, link: &c, token: tok}, nil
	}
	var se *session
	if ck, err := r.Cookie(sessionCookie); err == nil {
		se, _ = s.verifySession(ck.Value, now)
	}
	switch {
	case se != nil:
		return viewer{identity: routing.Operator, name: se.Name, session: se, api: se.api}, nil
	case s.tokens.Open():
		return viewer{identity: routing.Operator, api: apitoken.Token{Scope: apitoken.Admin, Legacy: true}}, nil
	}
	return viewer{}, errNoViewer
}

// signIn sends a visitor without credentials to the sign-in page, then back here.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/inbox/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
}

// inboxURL and requestURL carry the viewer's credential: a link viewer's pages need the
// token in the URL.
func inboxURL(v viewer) string {
	if v.link != nil {
		return "/inbox?token=" + url.QueryEscape(v.token)
	}
	return "/inbox"
}

func requestURL(id, token string) string {
	u := "/inbox/requests/" + url.PathEscape(id)
	if token != "" {
		u += "?token=" + url.QueryEscape(token)
	}
	return u
}

// answeredURL is the request's page right after its viewer answered it.
func answeredURL(id, token string) string {
	u := requestURL(id, token)
	if token != "" {
		return u + "&answered=1"
	}
	return u + "?answered=1"
}

// base fills the header of every page.
func (s *Server) base(title string, v viewer) *page {
	p := &page{Title: title}
	switch {
	case v.link != nil:
		p.Who, p.Inbox = v.identity, inboxURL(v)
	case v.operator():
		p.Who, p.Inbox = "operator", "/inbox"
		if v.session == nil && s.tokens.Open() {
			p.Who = "operator (development mode: no sign-in needed)"
		}
		if v.name != "" {
			p.Who = v.name + " (operator)"
		}
		if v.session != nil {
			p.Logout = s.csrf("logout", v)
		}
	}
	return p
}

func (s *Server) message(w http.ResponseWriter, status int, v viewer, heading string, lines ...string) {
	p := s.base(heading, v)
	p.Message = &messageView{Heading: heading, Lines: lines, Login: status == http.StatusUnauthorized && !s.tokens.Open()}
	s.render(w, status, "message", p)
}

// ---- the inbox ----

func (s *Server) inbox(w http.ResponseWriter, r *http.Request) {
	v, err := s.identify(w, r)
	if errors.Is(err, errNoViewer) {
		s.signIn(w, r)
		return
	}
	if err != nil {
		return
	}
	lv := &listView{Items: []listItem{}, Operator: v.operator(), Status: string(events.StatusPending)}
	var reqs []*events.Request
	if v.link != nil {
		// A link sees its own request only: one read, not the list.
		req, _, err := s.cfg.Store.Request(r.Context(), v.link.RequestID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			s.unavailable(w, r, v, err)
			return
		case !req.Resolved():
			reqs = append(reqs, req)
		}
	} else {
		// An operator pages through the listing, with filters: one page and a bounded scan
		// a load, whatever the number of requests (store.ListRequests).
		f := inboxFilters(r.URL.Query(), s.cfg.PageSize)
		lv.Status, lv.Assignee, lv.Query = f.Status, f.Assignee, f.TitleContains
		page, err := s.cfg.Store.ListRequests(r.Context(), f)
		if errors.Is(err, store.ErrBadQuery) {
			s.message(w, http.StatusBadRequest, v, "This list cannot be shown", err.Error(),
				"Start again from the inbox.")
			return
		}
		if err != nil {
			s.unavailable(w, r, v, err)
			return
		}
		reqs = page.Requests
		lv.paging(f, page, r.URL.Query().Get("back"))
	}
	now := s.now()
	if lv.Status == string(events.StatusPending) {
		slices.SortStableFunc(reqs, func(a, b *events.Request) int { // due first, then oldest first
			switch {
			case a.Deadline != nil && b.Deadline != nil:
				return cmp.Or(a.Deadline.Compare(*b.Deadline), a.CreatedAt.Compare(b.CreatedAt))
			case a.Deadline != nil:
				return -1
			case b.Deadline != nil:
				return 1
			}
			return a.CreatedAt.Compare(b.CreatedAt)
		})
	}
	for _, req := range reqs {
		if !s.allows(req, v) {
			continue
		}
		it := listItem{URL: requestURL(req.ID, v.token), Title: req.Title, AskedBy: askedBy(req), Asked: when(req.CreatedAt, now),
			Status: statusLabel(req.Status)}
		if req.Deadline != nil && !req.Resolved() {
			it.Due = when(*req.Deadline, now)
		}
		lv.Items = append(lv.Items, it)
	}
	title := "Inbox"
	if lv.Status != string(events.StatusPending) {
		title = "Requests"
	}
	p := s.base(title, v)
	p.List = lv
	s.render(w, http.StatusOK, "inbox", p)
}

// unavailable answers a store failure: 503 with Retry-After when JetStream did not answer
// (store.Unavailable), 500 for anything else, which is a bug.
func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, v viewer, err error) {
	s.log.Error("web: store", slog.String("path", r.URL.Path), slog.Any("err", err))
	code := http.StatusInternalServerError
	if store.Unavailable(err) {
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "2")
	}
	s.message(w, code, v, "Something went wrong",
		"The inbox could not be read just now. Please try again in a moment.")
}

// ---- one request ----

// load reads the request of the path and checks that v may see it; on failure the page
// has been written and ok is false.
func (s *Server) load(w http.ResponseWriter, r *http.Request, v viewer, what string) (*events.Request, bool) {
	id := r.PathValue("id")
	if v.link != nil && v.link.RequestID != id {
		s.log.Warn("web: link used for another request", slog.String("request_id", id), slog.String("identity", v.identity))
		s.message(w, http.StatusForbidden, v, "This link is for another request",
			"Open the request from your inbox, or from the message it came in.")
		return nil, false
	}
	req, _, err := s.cfg.Store.Request(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.message(w, http.StatusNotFound, v, "Request not found", "There is no request with this id. It may have been mistyped.")
		return nil, false
	}
	if err != nil {
		s.unavailable(w, r, v, err)
		return nil, false
	}
	if !s.allows(req, v) {
		s.log.Warn("web: "+what+" refused: not allowed to answer this request", slog.String("request_id", req.ID),
			slog.String("identity", v.identity))
		s.message(w, http.StatusForbidden, v, "This request is for someone else",
			"Thank you for looking, but only the people it was sent to can answer it.",
			"Your attempt has been logged. If you think it should be yours, ask whoever sent it.")
		return nil, false
	}
	return req, true
}

func (s *Server) showRequest(w http.ResponseWriter, r *http.Request) {
	v, err := s.identify(w, r)
	if errors.Is(err, errNoViewer) {
		s.signIn(w, r)
		return
	}
	if err != nil {
		return
	}
	req, ok := s.load(w, r, v, "view")
	if !ok {
		return
	}
	if r.URL.Query().Get("answered") == "1" {
		// Just answered here: if the record's update is still to come, the gate says how.
		req = s.cfg.Store.Decided(r.Context(), req)
	}
	s.requestPage(w, http.StatusOK, req, v, nil, nil, "")
}

// requestPage shows req: its form (with posted values and errors, when re-shown), or its
// outcome once resolved.
func (s *Server) requestPage(w http.ResponseWriter, status int, req *events.Request, v viewer, posted url.Values, errs []input.FieldError, notice string) {
	now := s.now()
	rv := &requestView{Title: req.Title, Message: paragraphs(req.Message), Context: contextPairs(req.Context),
		AskedBy: askedBy(req), Asked: when(req.CreatedAt, now), As: v.responder(), Notice: notice}
	if req.Deadline != nil && !req.Resolved() {
		rv.Due = when(*req.Deadline, now)
	}
	switch {
	case req.Resolved():
		rv.Outcome = outcome(req, v, now)
	case !v.mayAnswer():
		// A read token shows the question, not a form it could not send.
		rv.Notice = cmp.Or(notice, readOnly)
	default:
		rv.Form = buildForm(req.Input, posted, errs)
		rv.Form.Action = requestURL(req.ID, v.token)
		rv.Form.CSRF = s.csrf(req.ID, v)
	}
	title := req.Title
	if len(errs) > 0 {
		title = "Error: " + title
	}
	p := s.base(title, v)
	p.Request = rv
	s.render(w, status, "request", p)
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request) {
	if ok, wait := s.cfg.Answers.Allow(r); !ok {
		w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
		s.message(w, http.StatusTooManyRequests, viewer{}, "Too many answers",
			"Too many answers came from your address in a short time. Wait "+ratelimit.RetryAfter(wait)+" seconds, then send yours again.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.message(w, http.StatusRequestEntityTooLarge, viewer{}, "The answer is too large",
				fmt.Sprintf("An answer can be at most %d KiB.", s.cfg.MaxBody>>10))
			return
		}
		s.message(w, http.StatusBadRequest, viewer{}, "The form could not be read", "Please go back and try again.")
		return
	}
	v, err := s.identify(w, r)
	if errors.Is(err, errNoViewer) {
		s.message(w, http.StatusUnauthorized, v, "Please sign in", "Your session has ended. Sign in, then answer again.")
		return
	}
	if err != nil {
		return
	}
	id := r.PathValue("id")
	if !v.mayAnswer() {
		s.message(w, http.StatusForbidden, v, "Your token can only read", readOnly)
		return
	}
	if !s.checkCSRF(r, id, v) {
		s.log.Warn("web: answer refused: missing or wrong CSRF token", slog.String("request_id", id),
			slog.String("identity", v.identity))
		s.message(w, http.StatusForbidden, v, "This form cannot be sent",
			"It did not come from this page, or it is from an earlier session. Open the request again and answer there.")
		return
	}
	req, ok := s.load(w, r, v, "answer")
	if !ok {
		return
	}
	if req.Resolved() {
		s.requestPage(w, http.StatusConflict, req, v, nil, nil, alreadyDecided(req))
		return
	}
	data, problems := decodeAnswer(req.Input, r.PostForm)
	if len(problems) > 0 {
		s.requestPage(w, http.StatusUnprocessableEntity, req, v, r.PostForm, problems, "")
		return
	}
	_, err = s.answers.Answer(r.Context(), store.Answer{Request: req, RequestID: req.ID, Identities: []string{v.identity},
		Responder: v.responder(), Data: data, Via: "web"})
	var re *store.ResolvedError
	var ve *input.ValidationError
	switch {
	case errors.As(err, &re):
		// Someone else won the gate between our read and our answer: show theirs.
		s.requestPage(w, http.StatusConflict, re.Request, v, nil, nil, alreadyDecided(re.Request))
		return
	case errors.Is(err, store.ErrNotAllowed):
		s.message(w, http.StatusForbidden, v, "This request is for others to answer",
			"Thank you, but only its approvers can answer this request, so your answer was not recorded. Your attempt was logged.")
		return
	case errors.As(err, &ve):
		s.requestPage(w, http.StatusUnprocessableEntity, req, v, r.PostForm, ve.Fields, "")
		return
	case errors.Is(err, store.ErrTooLarge):
		s.requestPage(w, http.StatusUnprocessableEntity, req, v, r.PostForm,
			[]input.FieldError{{Path: "$", Message: "is too large"}}, "")
		return
	case err != nil:
		s.unavailable(w, r, v, err)
		return
	}
	// Post/Redirect/Get: reloading the result does not send the form again.
	http.Redirect(w, r, answeredURL(req.ID, v.token), http.StatusSeeOther)
}

// readOnly explains to an operator signed in with a read token why there is no form.
const readOnly = "You signed in with a read-only API token: it shows requests but does not answer them. Sign in with an answer or admin token to answer."

func alreadyDecided(req *events.Request) string {
	v := present.Of(req)
	by := ""
	if v.By != "" {
		by = " by " + v.By
	}
	switch req.Status {
	case events.StatusTimedOut:
		return "This request timed out before your answer arrived. Nothing was changed."
	case events.StatusCancelled:
		return "This request was cancelled" + by + " before your answer arrived. Nothing was changed."
	}
	return "This request was already decided" + by + " (" + strings.ToLower(v.Word) + "). Your answer was not recorded; nothing was changed."
}

// ---- operators ----

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	nonce := randomNonce()
	s.setCookie(w, loginCookie, nonce, time.Hour)
	v, _ := s.identify(discardWriter{}, r)
	s.renderLogin(w, http.StatusOK, v, &loginView{CSRF: s.loginCSRF(nonce), Next: safeNext(r.URL.Query().Get("next")),
		NeedToken: !s.tokens.Open()})
}

func (s *Server) renderLogin(w http.ResponseWriter, status int, v viewer, lv *loginView) {
	p := s.base("Sign in", v)
	if v.link != nil { // the sign-in page is about operators: do not show a link viewer's identity
		p = s.base("Sign in", viewer{})
	}
	p.Login = lv
	s.render(w, status, "login", p)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.message(w, http.StatusBadRequest, viewer{}, "The form could not be read", "Please go back and try again.")
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	name := strings.TrimSpace(r.PostForm.Get("name"))
	retry := func(status int, msg string) {
		nonce := randomNonce()
		s.setCookie(w, loginCookie, nonce, time.Hour)
		s.renderLogin(w, status, viewer{}, &loginView{CSRF: s.loginCSRF(nonce), Next: next, Error: msg,
			NeedToken: !s.tokens.Open(), Name: name})
	}
	if blocked, wait := s.cfg.Login.Blocked(r); blocked {
		w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
		s.log.Warn("web: sign-in refused: too many failures", slog.String("client", s.cfg.Login.Client(r)),
			slog.String("remote", r.RemoteAddr))
		retry(http.StatusTooManyRequests, "Too many failed sign-ins from your address. Wait "+ratelimit.RetryAfter(wait)+" seconds, then try again.")
		return
	}
	ck, err := r.Cookie(loginCookie)
	if err != nil || !equal(r.PostForm.Get("_csrf"), s.loginCSRF(ck.Value)) {
		s.log.Warn("web: sign-in refused: missing or wrong CSRF token")
		retry(http.StatusForbidden, "The sign-in form had expired, or your browser did not keep its cookie. Please try again (cookies must be allowed for this site).")
		return
	}
	if len(name) > 100 {
		retry(http.StatusUnprocessableEntity, "The name can be at most 100 characters.")
		return
	}
	fp := ""
	if !s.tokens.Open() {
		var ok bool
		if _, fp, ok = s.checkAPIToken(r.PostForm.Get("token")); !ok {
			s.cfg.Login.Fail(r)
			s.log.Warn("web: sign-in refused: unknown API token", slog.String("client", s.cfg.Login.Client(r)),
				slog.String("remote", r.RemoteAddr))
			retry(http.StatusUnauthorized, "That API token is not valid.")
			return
		}
	}
	se := session{Name: name, Nonce: randomNonce(), Token: fp, Exp: s.now().Add(s.cfg.SessionTTL).Unix()}
	s.setCookie(w, sessionCookie, s.signSession(se), s.cfg.SessionTTL)
	s.setCookie(w, loginCookie, "", -1)
	s.log.Info("web: operator signed in", slog.String("name", name))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	_ = r.ParseForm()
	var se *session
	if ck, err := r.Cookie(sessionCookie); err == nil {
		se, _ = s.verifySession(ck.Value, s.now())
	}
	if se != nil && !s.checkCSRF(r, "logout", viewer{identity: routing.Operator, session: se}) {
		s.message(w, http.StatusForbidden, viewer{}, "This form cannot be sent", "Open the inbox again and sign out there.")
		return
	}
	s.setCookie(w, sessionCookie, "", -1)
	http.Redirect(w, r, "/inbox/login", http.StatusSeeOther)
}

// safeNext keeps a redirect after sign-in inside the inbox.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/inbox") || strings.ContainsAny(next, "\\\r\n") || strings.HasPrefix(next, "//") {
		return "/inbox"
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" || u.Path != path.Clean(u.Path) ||
		(u.Path != "/inbox" && !strings.HasPrefix(u.Path, "/inbox/")) {
		return "/inbox"
	}
	return next
}

// discardWriter swallows the refusal pages identify writes, where only the viewer matters.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}
