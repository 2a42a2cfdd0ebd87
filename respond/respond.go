// Package respond is the responder's HTTP edge: the REST API to create, read, await, answer
// and cancel requests and to start, read and cancel runs. It checks who is calling (API
// token, or a link token bound to one request), validates answers against the request's
// input spec, and passes them through the first-wins gate.
package respond

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/apitoken"
	"github.com/hitl-dev/hitl/internal/egress"
	"github.com/hitl-dev/hitl/internal/idempotency"
	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/internal/ratelimit"
	"github.com/hitl-dev/hitl/internal/waiters"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
)

// Config of the responder.
type Config struct {
	Store *store.Store // required
	// Tokens are the API tokens accepted as "Authorization: Bearer <token>", each
	// "name:scope:token" (scope read, answer or admin) or a bare token, which is an admin
	// (see apitoken.Parse). Empty means no authentication: only for `hitl dev`.
	Tokens []string
	// AuthFailures limits refused credentials per client, and Answers the answers through
	// links (?token=). Nil: no limit.
	AuthFailures, Answers *ratelimit.Limiter
	// LinkSecret verifies the tokens in respond_url links. Required.
	LinkSecret []byte
	// Routes checks assignees at creation and decides who may answer. Nil: any assignee
	// of the form kind:target is accepted and anyone holding a request's link may answer.
	Routes *routing.Routes
	// AllowPrivateTargets are the non-public addresses a callback_url may name (egress
	// allow-list entries: CIDRs, addresses, host names, "*"). Default none: a callback_url
	// whose host is a literal non-public address or a localhost name is a 400 at creation;
	// names are checked again, on what they resolve to, when the callback is delivered.
	AllowPrivateTargets []string
	// MaxBody caps request bodies. Default 1 MiB.
	MaxBody int64
	// MaxWait caps the long-poll of /wait. Default DefaultMaxWait.
	MaxWait time.Duration
	// MaxWaits caps the long-polls this process holds at once, across callers. Default
	// 5,000: about 150 MiB at the cost measured in docs/design.md (some 30 KiB a wait).
	MaxWaits int
	// MaxWaitsPerCaller caps the long-polls of one caller: one API token, one link token
	// subject, or one client IP when the API runs without tokens. Default 1,000.
	MaxWaitsPerCaller int
	Logger            *slog.Logger
	Metrics           *metrics.Metrics
}

// DefaultMaxWait is the longest a long-poll (/wait) holds its call unless Config.MaxWait
// says otherwise.
const DefaultMaxWait = 5 * time.Minute

// Server serves the REST API.
type Server struct {
	cfg     Config
	egress  *egress.Policy
	tokens  *apitoken.Set
	log     *slog.Logger
	mux     *http.ServeMux
	answers *store.Answerer
	waits   *waits
	reqHub  *waiters.Hub // one watch of the requests bucket for every /v1/requests/{id}/wait
	runHub  *waiters.Hub // one watch of the runs bucket for every /v1/runs/{id}/wait
}

// New checks the config and builds the routes.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("respond: Store is required")
	}
	if len(cfg.LinkSecret) < linktoken.MinSecretLen {
		return nil, fmt.Errorf("respond: LinkSecret must be at least %d bytes", linktoken.MinSecretLen)
	}
	policy, err := egress.New(cfg.AllowPrivateTargets)
	if err != nil {
		return nil, fmt.Errorf("respond: AllowPrivateTargets: %w", err)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.MaxWaits < 0 || cfg.MaxWaitsPerCaller < 0 {
		return nil, errors.New("respond: MaxWaits and MaxWaitsPerCaller must not be negative")
	}
	cfg.MaxWaits = cmp.Or(cfg.MaxWaits, DefaultMaxWaits)
	cfg.MaxWaitsPerCaller = cmp.Or(cfg.MaxWaitsPerCaller, DefaultMaxWaitsPerCaller)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tokens, err := apitoken.NewSet(cfg.Tokens)
	if err != nil {
		return nil, fmt.Errorf("respond: Tokens: %w", err)
	}
	s := &Server{cfg: cfg, egress: policy, tokens: tokens, log: cfg.Logger, mux: http.NewServeMux(),
		answers: &store.Answerer{Store: cfg.Store, Routes: func() *routing.Routes { return cfg.Routes }, Metrics: cfg.Metrics, Logger: cfg.Logger},
		waits:   newWaits(cfg.MaxWaits, cfg.MaxWaitsPerCaller, cfg.Metrics),
		reqHub:  waiters.New(cfg.Store.Buckets().Requests, cfg.Logger.With(slog.String("bucket", "requests"))),
		runHub:  waiters.New(cfg.Store.Buckets().Runs, cfg.Logger.With(slog.String("bucket", "runs")))}
	// Scopes: read for what only looks (the long-polls too), answer to answer, admin for
	// what creates, starts or cancels. A link token (?token=) reads and answers its own
	// request only, whatever its route's scope.
	s.route("POST /v1/requests", apitoken.Admin, s.createRequest)
	s.route("GET /v1/requests", apitoken.Read, s.listRequests)
	s.route("GET /v1/requests/{id}", apitoken.Read, s.getRequest)
	s.route("GET /v1/requests/{id}/wait", apitoken.Read, s.waitRequest)
	s.route("POST /v1/requests/{id}/respond", apitoken.Answer, s.respond)
	s.route("POST /v1/requests/{id}/cancel", apitoken.Admin, s.cancelRequest)
	s.route("POST /v1/runs", apitoken.Admin, s.startRun)
	s.route("GET /v1/runs", apitoken.Read, s.listRuns)
	s.route("GET /v1/runs/{id}", apitoken.Read, s.getRun)
	s.route("GET /v1/runs/{id}/wait", apitoken.Read, s.waitRun)
	s.route("POST /v1/runs/{id}/cancel", apitoken.Admin, s.cancelRun)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path))
	})
	return s, nil
}

// Close ends the long-polls in progress (each answers with its resource as it stands) and
// stops the bucket watches; later waits answer at once. Call it when the HTTP server shuts
// down, so that Shutdown does not wait out the long-polls.
func (s *Server) Close() {
	s.reqHub.Close()
	s.runHub.Close()
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// caller is who made an API call.
type caller struct {
	responder string // identity recorded on answers
	link      *linktoken.Claims
}

type handler func(w http.ResponseWriter, r *http.Request, c caller) *apiError

func (s *Server) route(pattern string, need apitoken.Scope, h handler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authenticate(r, need)
		if err == nil {
			err = h(w, r, c)
		}
		if err != nil {
			if err.Status >= 500 {
				s.log.Error("api error", slog.String("path", r.URL.Path), slog.String("err", err.Message),
					slog.Any("cause", err.internal))
			}
			writeError(w, err)
		}
	})
}

// authenticate accepts an API token whose scope allows need, or a link token that is bound
// to the request in the path and used to read or answer it. A refused credential counts
// against the client's AuthFailures and is logged with the client's address (never the
// token); a client past that limit is refused before its credential is even looked at.
func (s *Server) authenticate(r *http.Request, need apitoken.Scope) (caller, *apiError) {
	tok := r.URL.Query().Get("token")
	auth := r.Header.Get("Authorization")
	hasAuth := auth != ""
	if tok != "" || (hasAuth && !s.tokens.Open()) {
		if blocked, wait := s.cfg.AuthFailures.Blocked(r); blocked {
			return caller{}, rateLimited(wait, "too many refused credentials from this address")
		}
	}
	if tok != "" {
		claims, err := linktoken.Verify(s.cfg.LinkSecret, tok, time.Now())
		if err != nil {
			msg := "the link token is invalid"
			if errors.Is(err, linktoken.ErrExpired) {
				msg = "the link token has expired"
			}
			s.refused(r, "link token refused", err.Error())
			return caller{}, errorf(http.StatusUnauthorized, "unauthorized", msg)
		}
		id := r.PathValue("id")
		// An option-bound link (an email's "Approve") decides only on its own page.
		allowed := claims.Option == "" && id == claims.RequestID && strings.HasPrefix(r.URL.Path, "/v1/requests/") &&
			(r.Method == http.MethodGet || strings.HasSuffix(r.URL.Path, "/respond"))
		if !allowed {
			return caller{}, errorf(http.StatusUnauthorized, "unauthorized", "the link token does not grant this action")
		}
		if r.Method == http.MethodPost {
			if ok, wait := s.cfg.Answers.Allow(r); !ok {
				return caller{}, rateLimited(wait, "too many answers through links from this address")
			}
		}
		return caller{responder: claims.Subject, link: &claims}, nil
	}
	if s.tokens.Open() {
		return caller{responder: routing.Operator}, nil
	}
	bearer, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		if hasAuth {
			s.refused(r, "bearer token refused", "not a Bearer authorization")
		}
		return caller{}, errUnauthorized
	}
	t, ok := s.tokens.Lookup(bearer)
	if !ok {
		s.refused(r, "bearer token refused", "unknown token")
		return caller{}, errUnauthorized
	}
	if !t.Scope.Allows(need) {
		return caller{}, forbiddenScope(t, need, r)
	}
	return caller{responder: responderOf(t)}, nil
}

// responderOf is who an API token answers as: its name, or "api" (routing.Operator) for a
// bare token, as before tokens had names.
func responderOf(t apitoken.Token) string {
	if t.Legacy {
		return routing.Operator
	}
	return t.Name
}

// refused counts and logs a refused credential.
func (s *Server) refused(r *http.Request, msg, why string) {
	s.cfg.AuthFailures.Fail(r)
	s.log.Warn("api: "+msg, slog.String("client", s.cfg.AuthFailures.Client(r)), slog.String("remote", r.RemoteAddr),
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("reason", why))
}

func storeError(err error, what string) *apiError {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNotFound(what)
	case errors.Is(err, store.ErrTooLarge):
		return errorf(http.StatusRequestEntityTooLarge, "payload_too_large", err.Error())
	case errors.Is(err, store.ErrAlreadyResolved):
		return errorf(http.StatusConflict, "already_resolved", what+" is already resolved")
	case errors.Is(err, input.ErrInvalid):
		return invalid(err)
	case store.Unavailable(err):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable",
			Message: "JetStream did not answer in time; nothing was changed, retry", internal: err}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal",
		Message: "internal error; it was logged, retry later", internal: err}
}

// ---- requests ----

type createRequestBody struct {
	Title       string            `json:"title"`
	Message     string            `json:"message"`
	Context     map[string]any    `json:"context"`
	Input       *input.Spec       `json:"input"`
	Assignees   []string          `json:"assignees"`
	Timeout     events.Duration   `json:"timeout"`
	OnTimeout   string            `json:"on_timeout"`
	Default     json.RawMessage   `json:"default"`
	Metadata    map[string]string `json:"metadata"`
	CallbackURL string            `json:"callback_url"`
	Approvers   []string          `json:"approvers"`
}

func (s *Server) createRequest(w http.ResponseWriter, r *http.Request, _ caller) *apiError {
	var b createRequestBody
	if err := decodeBody(w, r, s.cfg.MaxBody, &b); err != nil {
		return err
	}
	req := events.Request{
		ID: uuid.NewString(), Title: b.Title, Message: b.Message, Context: b.Context,
		Assignees: b.Assignees, Timeout: b.Timeout, OnTimeout: events.TimeoutPolicy(b.OnTimeout),
		Default: b.Default, Metadata: b.Metadata, CallbackURL: b.CallbackURL, Approvers: b.Approvers,
	}
	if b.Input != nil {
		req.Input = *b.Input
	} else {
		req.Input = input.Spec{Type: input.Approval}
	}
	if err := req.Validate(); err != nil {
		return invalid(err)
	}
	if rt := s.cfg.Routes; rt != nil {
		var fields []input.FieldError
		for i, a := range req.Assignees {
			if err := rt.Check(a); err != nil {
				fields = append(fields, input.FieldError{Path: fmt.Sprintf("assignees[%d]", i), Message: err.Error()})
			}
		}
		// Approvers are checked like assignees: a typo ("group:fnance") would otherwise
		// expand to nobody, and then anyone the request was sent to could answer it.
		for i, a := range req.Approvers {
			if err := rt.Check(a); err != nil {
				fields = append(fields, input.FieldError{Path: fmt.Sprintf("approvers[%d]", i), Message: err.Error()})
			}
		}
		if len(fields) > 0 {
			return &apiError{Status: http.StatusBadRequest, Code: "validation_failed", Message: "the request failed validation", Fields: fields}
		}
	}
	if b.CallbackURL != "" {
		// A literal private address or localhost fails here, so the caller learns now; a
		// name is checked on what it resolves to when the callback is sent.
		if err := s.egress.CheckURL(b.CallbackURL); err != nil {
			return &apiError{Status: http.StatusBadRequest, Code: "validation_failed", Message: "the request failed validation",
				Fields: []input.FieldError{{Path: "callback_url", Message: err.Error()}}}
		}
	}
	// Finish the writes even if the client goes away: a half-created request would be
	// pending without a timer or a notification.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	id, replayed, aerr := s.claim(wctx, w, r, "requests", &b)
	if aerr != nil {
		return aerr
	}
	if id != "" {
		req.ID = id // CreateRequest of an existing id returns it as it stands
	}
	if err := s.cfg.Store.CreateRequest(wctx, &req); err != nil {
		return storeError(err, "request")
	}
	if !replayed {
		s.cfg.Metrics.RequestCreated(&req)
	}
	w.Header().Set("Location", "/v1/requests/"+req.ID)
	writeJSON(w, http.StatusCreated, &req)
	return nil
}

// listRequests serves GET /v1/requests: a page of requests and the cursor of the next
// (store.ListRequests). The reply keeps its earlier shape, {"requests": [...], "count": n},
// and adds "next_cursor" ("" at the end).
func (s *Server) listRequests(w http.ResponseWriter, r *http.Request, _ caller) *apiError {
	qs := r.URL.Query()
	q := store.RequestQuery{Status: qs.Get("status"), Assignee: qs.Get("assignee"), Workflow: qs.Get("workflow"),
		RunID: qs.Get("run"), TitleContains: qs.Get("q"), Cursor: qs.Get("cursor")}
	var aerr *apiError
	q.Limit, q.Newest, aerr = pageParams(qs)
	if aerr != nil {
		return aerr
	}
	if q.CreatedAfter, q.CreatedBefore, aerr = createdRange(qs); aerr != nil {
		return aerr
	}
	page, err := s.cfg.Store.ListRequests(r.Context(), q)
	if err != nil {
		return listError(err, "requests")
	}
	list := page.Requests
	if list == nil {
		list = []*events.Request{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"requests": list, "count": len(list), "next_cursor": page.NextCursor})
	return nil
}

// listRuns serves GET /v1/runs: a page of runs, each as GET /v1/runs/{id} shows it, and the
// cursor of the next page.
func (s *Server) listRuns(w http.ResponseWriter, r *http.Request, _ caller) *apiError {
	qs := r.URL.Query()
	q := store.RunQuery{Status: qs.Get("status"), Workflow: qs.Get("workflow"), Cursor: qs.Get("cursor")}
	var aerr *apiError
	q.Limit, q.Newest, aerr = pageParams(qs)
	if aerr != nil {
		return aerr
	}
	if q.CreatedAfter, q.CreatedBefore, aerr = createdRange(qs); aerr != nil {
		return aerr
	}
	page, err := s.cfg.Store.ListRuns(r.Context(), q)
	if err != nil {
		return listError(err, "runs")
	}
	// The pending requests of the page's runs, in one batch.
	var waiting []string
	for _, run := range page.Runs {
		if !run.Status.Final() {
			waiting = append(waiting, run.Waiting...)
		}
	}
	reqs, err := s.cfg.Store.RequestsByID(r.Context(), waiting)
	if err != nil {
		return storeError(err, "runs")
	}
	views := make([]RunView, 0, len(page.Runs))
	for _, run := range page.Runs {
		views = append(views, viewOf(run, func(id string) *events.Request { return reqs[id] }))
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": views, "count": len(views), "next_cursor": page.NextCursor})
	return nil
}

// pageParams reads limit and order.
func pageParams(qs url.Values) (limit int, newest bool, _ *apiError) {
	if v := qs.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxListLimit {
			return 0, false, badField("limit", fmt.Sprintf("must be a number from 1 to %d", store.MaxListLimit))
		}
		limit = n
	}
	switch qs.Get("order") {
	case "", "oldest":
	case "newest":
		newest = true
	default:
		return 0, false, badField("order", "must be oldest or newest")
	}
	return limit, newest, nil
}

// createdRange reads created_after and created_before, RFC 3339 times.
func createdRange(qs url.Values) (after, before time.Time, _ *apiError) {
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"created_after", &after}, {"created_before", &before}} {
		if v := qs.Get(f.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return time.Time{}, time.Time{}, badField(f.name, "must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
			}
			*f.t = t
		}
	}
	return after, before, nil
}

func badField(field, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Message: "invalid " + field + ": " + msg,
		Fields: []input.FieldError{{Path: field, Message: msg}}}
}

// listError is the HTTP form of a listing's errors: a bad query or cursor is a 400 naming
// its field.
func listError(err error, what string) *apiError {
	var qe *store.QueryError
	if errors.As(err, &qe) {
		return badField(qe.Field, qe.Message)
	}
	return storeError(err, what)
}

func (s *Server) getRequest(w http.ResponseWriter, r *http.Request, _ caller) *apiError {
	req, _, err := s.cfg.Store.Request(r.Context(), r.PathValue("id"))
	if err != nil {
		return storeError(err, "request")
	}
	writeJSON(w, http.StatusOK, req)
	return nil
}

type respondBody struct {
	Data      json.RawMessage `json:"data"`
	Responder string          `json:"responder"`
	Comment   string          `json:"comment"`
}

type resolvedView struct {
	*events.Request
	InputHash string `json:"input_hash,omitempty"`
}

func (s *Server) respond(w http.ResponseWriter, r *http.Request, c caller) *apiError {
	var b respondBody
	if err := decodeBody(w, r, s.cfg.MaxBody, &b); err != nil {
		return err
	}
	if len(b.Data) == 0 {
		return &apiError{Status: http.StatusBadRequest, Code: "validation_failed", Message: "the answer failed validation",
			Fields: []input.FieldError{{Path: "data", Message: "is required"}}}
	}
	if len(b.Responder) > 200 || len(b.Comment) > 10_000 {
		return errorf(http.StatusBadRequest, "invalid_request", "responder (200) or comment (10000 bytes) is too long")
	}
	a := store.Answer{RequestID: r.PathValue("id"), Identities: []string{routing.Operator},
		Responder: cmp.Or(b.Responder, c.responder), Data: b.Data, Comment: b.Comment, Via: "rest"}
	if c.link != nil {
		// A link answers as whom it was sent to, and only where that person may answer.
		a.Identities, a.Responder = []string{c.link.Subject}, c.link.Subject
	}
	resolved, err := s.answers.Answer(r.Context(), a)
	if err != nil {
		return answerError(err)
	}
	writeJSON(w, http.StatusOK, resolvedView{Request: resolved, InputHash: resolved.Response.InputHash})
	return nil
}

// answerError is the HTTP form of the answer path's errors.
func answerError(err error) *apiError {
	var ve *input.ValidationError
	var re *store.ResolvedError
	switch {
	case errors.As(err, &re):
		return errorf(http.StatusConflict, "already_resolved", "request is already "+string(re.Request.Status))
	case errors.Is(err, store.ErrNotAllowed):
		return errorf(http.StatusForbidden, "not_allowed",
			"thank you, but this request is for other people to answer; your attempt was logged")
	case errors.As(err, &ve):
		for i := range ve.Fields {
			ve.Fields[i].Path = "data" + strings.TrimPrefix(ve.Fields[i].Path, "$")
		}
		return &apiError{Status: http.StatusBadRequest, Code: "validation_failed",
			Message: "the answer does not match the request's input", Fields: ve.Fields}
	case errors.Is(err, store.ErrTooLarge):
		return storeError(err, "answer")
	case errors.Is(err, input.ErrInvalid):
		return invalid(err)
	}
	return storeError(err, "request")
}

func (s *Server) cancelRequest(w http.ResponseWriter, r *http.Request, c caller) *apiError {
	var b struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, s.cfg.MaxBody, &b); err != nil {
			return err
		}
	}
	resolved, err := s.answers.Answer(r.Context(), store.Answer{RequestID: r.PathValue("id"), Identities: []string{routing.Operator},
		Responder: c.responder, Outcome: events.StatusCancelled, Comment: b.Reason, Via: "rest"})
	if err != nil {
		return answerError(err)
	}
	writeJSON(w, http.StatusOK, resolved)
	return nil
}

// ---- runs ----

type startRunBody struct {
	Workflow string          `json:"workflow"`
	Input    json.RawMessage `json:"input"`
}

// RunView is a run as the API shows it.
type RunView struct {
	ID        string            `json:"id"`
	Workflow  string            `json:"workflow"`
	Status    events.RunStatus  `json:"status"`
	Input     json.RawMessage   `json:"input,omitempty"`
	Result    json.RawMessage   `json:"result,omitempty"`
	Error     string            `json:"error,omitempty"`
	Pending   []*events.Request `json:"pending"`
	Steps     int               `json:"steps"` // journal positions recorded so far
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

func (s *Server) startRun(w http.ResponseWriter, r *http.Request, _ caller) *apiError {
	var b startRunBody
	if err := decodeBody(w, r, s.cfg.MaxBody, &b); err != nil {
		return err
	}
	// Any valid name is accepted: the responder need not host workflows, nor know which ones
	// exist. A run of a workflow no orchestrator hosts stays queued until one does.
	if err := events.ValidWorkflowName(b.Workflow); err != nil {
		msg := "is required"
		if ne := new(events.WorkflowNameError); errors.As(err, &ne) && b.Workflow != "" {
			msg = "is not a valid workflow name: " + ne.Reason
		}
		return &apiError{Status: http.StatusBadRequest, Code: "validation_failed", Message: "the run failed validation",
			Fields: []input.FieldError{{Path: "workflow", Message: msg}}}
	}
	id, _, aerr := s.claim(r.Context(), w, r, "runs", &b)
	if aerr != nil {
		return aerr
	}
	var run *store.Run
	var err error
	if id != "" {
		run, err = s.cfg.Store.StartRunID(r.Context(), id, b.Workflow, b.Input)
	} else {
		run, err = s.cfg.Store.StartRun(r.Context(), b.Workflow, b.Input)
	}
	if err != nil {
		return storeError(err, "run")
	}
	w.Header().Set("Location", "/v1/runs/"+run.ID)
	writeJSON(w, http.StatusCreated, s.view(r.Context(), run))
	return nil
}

// claim honours the Idempotency-Key header of a creating call (package idempotency): it
// returns the id of the resource to create, "" without a key, and replayed when the key was
// seen before with the same body (the answer then says Idempotent-Replayed: true). body is
// the decoded request body.
func (s *Server) claim(ctx context.Context, w http.ResponseWriter, r *http.Request, endpoint string, body any) (string, bool, *apiError) {
	key, err := idempotency.FromRequest(r)
	if err != nil {
		return "", false, &apiError{Status: http.StatusBadRequest, Code: "invalid_idempotency_key", Message: err.Error(),
			Fields: []input.FieldError{{Path: idempotency.Header, Message: err.Error()}}}
	}
	if key == "" {
		return "", false, nil
	}
	id, replayed, err := idempotency.Claim(ctx, s.cfg.Store.Buckets().Idempotency, endpoint, idempotency.Scope(r), key, body)
	if errors.Is(err, idempotency.ErrKeyReused) {
		return "", false, errorf(http.StatusUnprocessableEntity, "idempotency_key_reused",
			"this Idempotency-Key was used with a different body; use a new key for a new "+strings.TrimSuffix(endpoint, "s"))
	}
	if errors.Is(err, idempotency.ErrInFlight) {
		w.Header().Set("Retry-After", "1")
		return "", false, errorf(http.StatusConflict, "idempotency_key_in_use", "a request with this Idempotency-Key is in progress; retry")
	}
	if err != nil {
		return "", false, storeError(err, endpoint)
	}
	if replayed {
		w.Header().Set(idempotency.ReplayedHeader, "true")
	}
	return id, replayed, nil
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request, _ caller) *apiError {
	run, _, err := s.cfg.Store.Run(r.Context(), r.PathValue("id"))
	if err != nil {
		return storeError(err, "run")
	}
	writeJSON(w, http.StatusOK, s.view(r.Context(), run))
	return nil
}

func (s *Server) view(ctx context.Context, run *store.Run) RunView {
	return viewOf(run, func(id string) *events.Request {
		req, _, err := s.cfg.Store.Request(ctx, id)
		if err != nil {
			return nil
		}
		return req
	})
}

// viewOf is run as the API shows it; request reads the requests it waits on (nil: gone).
func viewOf(run *store.Run, request func(id string) *events.Request) RunView {
	v := RunView{ID: run.ID, Workflow: run.Workflow, Status: run.Status, Input: run.Input, Result: run.Result,
		Error: run.Error, Pending: []*events.Request{}, Steps: len(run.Journal), CreatedAt: run.CreatedAt, UpdatedAt: run.UpdatedAt}
	if run.Status.Final() {
		return v // whatever it waited on no longer matters
	}
	for _, id := range run.Waiting {
		if req := request(id); req != nil && !req.Resolved() {
			v.Pending = append(v.Pending, req)
		}
	}
	return v
}

func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request, _ caller) *apiError {
	var b struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, s.cfg.MaxBody, &b); err != nil {
			return err
		}
	}
	run, _, err := s.cfg.Store.Run(r.Context(), r.PathValue("id"))
	if err != nil {
		return storeError(err, "run")
	}
	if run.Status.Final() {
		return errorf(http.StatusConflict, "already_finished", "run is already "+string(run.Status))
	}
	done, err := s.cfg.Store.CancelRun(r.Context(), run.ID, b.Reason)
	if err != nil {
		return storeError(err, "run")
	}
	if done { // it was queued: no orchestrator will count it
		s.cfg.Metrics.RunFinished(events.RunCancelled)
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": run.ID, "status": "cancelling"})
	return nil
}
