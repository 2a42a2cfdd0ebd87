package jobapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/apitoken"
	"github.com/hitl-dev/hitl/internal/idempotency"
	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/internal/ratelimit"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
)

// DefaultWorkflow is the workflow a job runs unless Config.Workflow says otherwise: the
// approval gate of examples/approvalgate.
const DefaultWorkflow = "approval-gate"

// DefaultInputSchema is the start input of DefaultWorkflow: one required string field "text".
var DefaultInputSchema = []input.Field{{
	ID: "text", Type: input.FieldString, Name: "Text", Required: true,
	Data: input.FieldData{Description: "The text to process"},
}}

// Responder is recorded as who answered a request through /provide_input with a bare API
// token (or none, in `hitl dev`); a named token ("name:scope:token") records its name.
const Responder = "jobapi"

// Config of the job API.
type Config struct {
	Store *store.Store // required
	// Workflow is the workflow every job runs. Default DefaultWorkflow. It must be a valid
	// workflow name (events.ValidWorkflowName), and need not be hosted by this process: jobs
	// of a workflow no orchestrator hosts wait, queued, until one does.
	Workflow string
	// InputSchema describes the job's start input (input_data of /start_job) as a form's
	// fields: GET /input_schema serves it and /start_job validates input_data against it.
	// Default: DefaultInputSchema when Workflow is DefaultWorkflow; otherwise none, and any
	// object is accepted.
	InputSchema []input.Field
	// Tokens are the API tokens accepted as "Authorization: Bearer <token>" by start_job
	// (scope admin), status (read) and provide_input (answer): the REST API's tokens, in its
	// forms (see apitoken.Parse). Empty means no authentication (`hitl dev`).
	Tokens []string
	// AuthFailures limits refused bearer tokens per client. Nil: no limit.
	AuthFailures *ratelimit.Limiter
	// LinkSecret keys the signature of /provide_input (the responder's link secret).
	// Required, at least 16 bytes.
	LinkSecret []byte
	// MaxBody caps request bodies. Default 1 MiB.
	MaxBody int64
	Logger  *slog.Logger     // default: discard
	Metrics *metrics.Metrics // default: none
}

// WithDefaults returns the config with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.Workflow == "" {
		c.Workflow = DefaultWorkflow
	}
	if c.InputSchema == nil && c.Workflow == DefaultWorkflow {
		c.InputSchema = DefaultInputSchema
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 1 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("jobapi: Store is required"))
	}
	if err := events.ValidWorkflowName(c.Workflow); err != nil {
		errs = append(errs, fmt.Errorf("jobapi: Workflow: %w", err))
	}
	if len(c.LinkSecret) < linktoken.MinSecretLen {
		errs = append(errs, fmt.Errorf("jobapi: LinkSecret must be at least %d bytes", linktoken.MinSecretLen))
	}
	if len(c.InputSchema) > 0 {
		if err := (input.Spec{Type: input.Form, Fields: c.InputSchema}).Check(); err != nil {
			errs = append(errs, fmt.Errorf("jobapi: InputSchema: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Paths are the job API's endpoints, each served for its one method.
var Paths = []string{"/start_job", "/status", "/provide_input", "/availability", "/input_schema"}

// Server serves the job API. It is safe for concurrent use.
type Server struct {
	cfg     Config
	tokens  *apitoken.Set
	log     *slog.Logger
	routes  map[string]route
	answers *store.Answerer
}

type route struct {
	method string
	scope  apitoken.Scope // the API token's scope needed; "" for none
	h      func(w http.ResponseWriter, r *http.Request) *apiError
}

// New checks the config and builds the handler.
func New(cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	tokens, err := apitoken.NewSet(cfg.Tokens)
	if err != nil {
		return nil, fmt.Errorf("jobapi: Tokens: %w", err)
	}
	s := &Server{cfg: cfg, tokens: tokens, log: cfg.Logger.With(slog.String("api", "job"))}
	// Job API callers hold an API token: operators, who may answer any request, so the answer
	// path needs no routes here.
	s.answers = &store.Answerer{Store: cfg.Store, Metrics: cfg.Metrics, Logger: s.log}
	s.routes = map[string]route{
		"/start_job":     {method: http.MethodPost, scope: apitoken.Admin, h: s.startJob},
		"/status":        {method: http.MethodGet, scope: apitoken.Read, h: s.status},
		"/provide_input": {method: http.MethodPost, scope: apitoken.Answer, h: s.provideInput},
		"/availability":  {method: http.MethodGet, h: s.availability},
		"/input_schema":  {method: http.MethodGet, h: s.inputSchema},
	}
	return s, nil
}

// Mount serves the job API's Paths on mux.
func (s *Server) Mount(mux *http.ServeMux) {
	for _, p := range Paths {
		mux.Handle(p, s)
	}
}

// ServeHTTP serves the job API; other paths are 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := s.routes[r.URL.Path]
	var err *apiError
	switch {
	case !ok:
		err = errorf(http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	case r.Method != rt.method && !(rt.method == http.MethodGet && r.Method == http.MethodHead):
		w.Header().Set("Allow", rt.method)
		err = errorf(http.StatusMethodNotAllowed, "method_not_allowed", r.URL.Path+" takes "+rt.method)
	case rt.scope != "":
		var who string
		if who, err = s.authorize(r, rt.scope); err == nil {
			err = rt.h(w, r.WithContext(context.WithValue(r.Context(), responderKey{}, who)))
		}
	default:
		err = rt.h(w, r)
	}
	if err != nil {
		if err.Status >= 500 {
			s.log.Error("job api error", slog.String("path", r.URL.Path), slog.String("err", err.Message))
		}
		writeError(w, err)
	}
}

// responderKey carries who provide_input answers as.
type responderKey struct{}

// authorize checks the bearer token, when tokens are configured, against the scope the
// endpoint needs, and returns who the caller answers as. A refused token is logged with the
// client's address (never the token) and counts against AuthFailures; a client past that
// limit gets 429 before its token is looked at.
func (s *Server) authorize(r *http.Request, need apitoken.Scope) (string, *apiError) {
	if s.tokens.Open() {
		return Responder, nil
	}
	auth := r.Header.Get("Authorization")
	if auth != "" {
		if blocked, wait := s.cfg.AuthFailures.Blocked(r); blocked {
			e := errorf(http.StatusTooManyRequests, "rate_limited",
				"too many refused tokens from this address; retry after "+ratelimit.RetryAfter(wait)+"s")
			e.header = http.Header{"Retry-After": {ratelimit.RetryAfter(wait)}}
			return "", e
		}
	}
	bearer, ok := strings.CutPrefix(auth, "Bearer ")
	t, found := s.tokens.Lookup(bearer)
	if !ok || !found {
		if auth != "" {
			s.cfg.AuthFailures.Fail(r)
			s.log.Warn("job api: bearer token refused", slog.String("client", s.cfg.AuthFailures.Client(r)),
				slog.String("remote", r.RemoteAddr), slog.String("method", r.Method), slog.String("path", r.URL.Path))
		}
		return "", errUnauthorized
	}
	if !t.Scope.Allows(need) {
		e := errorf(http.StatusForbidden, "insufficient_scope", fmt.Sprintf("the API token %q has scope %s; %s %s needs %s",
			t.Name, t.Scope, r.Method, r.URL.Path, need))
		e.header = http.Header{"Www-Authenticate": {fmt.Sprintf(`Bearer error="insufficient_scope", scope="%s"`, need)}}
		return "", e
	}
	if t.Legacy {
		return Responder, nil
	}
	return t.Name, nil
}

func storeError(err error, what string) *apiError {
	switch {
	case errors.Is(err, store.ErrPurged):
		return errorf(http.StatusGone, "gone", what+" finished and was removed after its retention; nothing was changed")
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, "not_found", what+" not found")
	case errors.Is(err, store.ErrAlreadyResolved):
		return errorf(http.StatusConflict, "already_resolved", what+" is already resolved")
	case store.Unavailable(err):
		return errorf(http.StatusServiceUnavailable, "unavailable", "JetStream did not answer in time; nothing was changed, retry")
	}
	slog.Default().Error("job api error", slog.String("what", what), slog.Any("err", err))
	return errorf(http.StatusInternalServerError, "internal", "internal error; it was logged, retry later")
}

// ---- start_job ----

// IdentifierKey is the key of the run's input that carries start_job's
// identifier_from_purchaser.
const IdentifierKey = "identifier_from_purchaser"

// maxIdentifier caps identifier_from_purchaser, in bytes.
const maxIdentifier = 256

// StartJobResponse is the answer of POST /start_job.
type StartJobResponse struct {
	JobID                   string `json:"job_id"`
	ID                      string `json:"id"` // MIP-003's name for the job id
	Status                  string `json:"status"`
	IdentifierFromPurchaser string `json:"identifier_from_purchaser,omitempty"`
}

func (s *Server) startJob(w http.ResponseWriter, r *http.Request) *apiError {
	var b struct {
		InputData               json.RawMessage `json:"input_data"`
		IdentifierFromPurchaser string          `json:"identifier_from_purchaser"`
	}
	if err := decodeBody(w, r, s.cfg.MaxBody, &b); err != nil {
		return err
	}
	if len(b.InputData) == 0 || string(b.InputData) == "null" {
		return required("input_data")
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(b.InputData, &obj) != nil {
		return fieldError("invalid_request", "input_data", "must be an object of field ids to values")
	}
	if len(b.IdentifierFromPurchaser) > maxIdentifier {
		return fieldError("invalid_request", IdentifierKey, fmt.Sprintf("must be at most %d bytes", maxIdentifier))
	}
	if _, ok := obj[IdentifierKey]; ok {
		return fieldError("validation_failed", "input_data."+IdentifierKey, "is reserved: give it at the top level of the body")
	}
	if len(s.cfg.InputSchema) > 0 {
		if err := (input.Spec{Type: input.Form, Fields: s.cfg.InputSchema}).Validate(b.InputData); err != nil {
			return validationFailed("input_data does not match the input schema", err, func(p string) string {
				return "input_data" + strings.TrimPrefix(p, "$")
			})
		}
	}
	in := b.InputData
	if b.IdentifierFromPurchaser != "" {
		id, _ := json.Marshal(b.IdentifierFromPurchaser)
		obj[IdentifierKey] = id
		var err error
		if in, err = json.Marshal(obj); err != nil {
			return errorf(http.StatusInternalServerError, "internal", "encode input: "+err.Error())
		}
	}
	key, err := idempotency.FromRequest(r)
	if err != nil {
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_idempotency_key", Message: err.Error(),
			Fields: []input.FieldError{{Path: idempotency.Header, Message: err.Error()}}}
	}
	var run *store.Run
	if key == "" {
		run, err = s.cfg.Store.StartRun(r.Context(), s.cfg.Workflow, in)
	} else {
		var id string
		var replayed bool
		id, replayed, err = idempotency.Claim(r.Context(), s.cfg.Store.Buckets().Idempotency, "start_job",
			idempotency.Scope(r), key, &b)
		if errors.Is(err, idempotency.ErrKeyReused) {
			return errorf(http.StatusUnprocessableEntity, "idempotency_key_reused",
				"this Idempotency-Key was used with a different body; use a new key for a new job")
		}
		if errors.Is(err, idempotency.ErrInFlight) {
			w.Header().Set("Retry-After", "1")
			return errorf(http.StatusConflict, "idempotency_key_in_use", "a request with this Idempotency-Key is in progress; retry")
		}
		if err == nil {
			if replayed {
				w.Header().Set(idempotency.ReplayedHeader, "true")
			}
			run, err = s.cfg.Store.StartRunID(r.Context(), id, s.cfg.Workflow, in)
		}
	}
	if err != nil {
		return storeError(err, "job")
	}
	s.log.Info("job started", slog.String("job_id", run.ID), slog.String("workflow", run.Workflow))
	writeJSON(w, http.StatusOK, StartJobResponse{JobID: run.ID, ID: run.ID, Status: StatusRunning,
		IdentifierFromPurchaser: b.IdentifierFromPurchaser})
	return nil
}

// validationFailed is a 400 listing the failing fields of err (a *input.ValidationError),
// with their paths rewritten by path.
func validationFailed(msg string, err error, path func(string) string) *apiError {
	var ve *input.ValidationError
	if !errors.As(err, &ve) {
		return errorf(http.StatusBadRequest, "invalid_request", err.Error())
	}
	fields := make([]input.FieldError, len(ve.Fields))
	for i, f := range ve.Fields {
		fields[i] = input.FieldError{Path: path(f.Path), Message: f.Message}
	}
	return &apiError{Status: http.StatusBadRequest, Code: "validation_failed", Message: msg, Fields: fields}
}

// ---- status ----

// Masumi job statuses.
const (
	StatusRunning       = "running"
	StatusAwaitingInput = "awaiting_input"
	StatusCompleted     = "completed"
	StatusFailed        = "failed"
)

// JobStatus is the answer of GET /status.
type JobStatus struct {
	JobID  string `json:"job_id"`
	ID     string `json:"id"`     // MIP-003's name for the job id
	Status string `json:"status"` // running, awaiting_input, completed, failed
	// RunStatus is hitl's own status of the run: queued, running, waiting, completed, failed,
	// cancelled. A queued run (no orchestrator hosting the workflow has taken it yet) is a
	// running job.
	RunStatus               events.RunStatus `json:"run_status"`
	IdentifierFromPurchaser string           `json:"identifier_from_purchaser,omitempty"`
	// RequestID, Message and InputSchema describe the first pending request, when awaiting input.
	RequestID   string       `json:"request_id,omitempty"`
	Message     string       `json:"message,omitempty"`
	InputSchema *InputSchema `json:"input_schema,omitempty"`
	// PendingInputs lists every pending request, first asked first, when awaiting input.
	PendingInputs []PendingInput `json:"pending_inputs,omitempty"`
	// Result is the run's result when completed: a string result as is, any other as its JSON text.
	Result *string `json:"result,omitempty"`
	// Error says why the run failed or was cancelled.
	Error string `json:"error,omitempty"`
}

// PendingInput is one request a job waits on.
type PendingInput struct {
	RequestID   string      `json:"request_id"`
	Title       string      `json:"title"`
	Message     string      `json:"message,omitempty"`
	InputType   input.Type  `json:"input_type"` // hitl's input type, which decides the mapping to fields
	InputSchema InputSchema `json:"input_schema"`
}

// job reads the run behind a job id; runs of other workflows are not jobs.
func (s *Server) job(ctx context.Context, jobID string) (*store.Run, *apiError) {
	run, _, err := s.cfg.Store.Run(ctx, jobID)
	if err != nil {
		return nil, storeError(err, "job")
	}
	if run.Workflow != s.cfg.Workflow {
		return nil, storeError(store.ErrNotFound, "job")
	}
	return run, nil
}

// checkJobID refuses a missing or malformed job id.
func checkJobID(id string) *apiError {
	if id == "" {
		return required("job_id")
	}
	if !store.ValidID(id) {
		return fieldError("invalid_request", "job_id", "is not a job id (a UUID)")
	}
	return nil
}

// pending reads the requests the run waits on that are still unanswered, in the order asked.
func (s *Server) pending(ctx context.Context, run *store.Run) ([]*events.Request, error) {
	var out []*events.Request
	if run.Status != events.RunWaiting {
		return nil, nil
	}
	for _, id := range run.Waiting {
		req, _, err := s.cfg.Store.Request(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !req.Resolved() {
			out = append(out, req)
		}
	}
	return out, nil
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) *apiError {
	jobID := r.URL.Query().Get("job_id")
	if err := checkJobID(jobID); err != nil {
		return err
	}
	run, aerr := s.job(r.Context(), jobID)
	if aerr != nil {
		return aerr
	}
	pending, err := s.pending(r.Context(), run)
	if err != nil {
		return storeError(err, "job")
	}
	writeJSON(w, http.StatusOK, jobStatus(run, pending))
	return nil
}

// jobStatus maps a run and its pending requests to Masumi's status.
func jobStatus(run *store.Run, pending []*events.Request) JobStatus {
	st := JobStatus{JobID: run.ID, ID: run.ID, RunStatus: run.Status, IdentifierFromPurchaser: identifier(run.Input)}
	switch run.Status {
	case events.RunCompleted:
		st.Status = StatusCompleted
		res := resultString(run.Result)
		st.Result = &res
	case events.RunFailed, events.RunCancelled:
		st.Status, st.Error = StatusFailed, run.Error
		if st.Error == "" {
			st.Error = "the job " + string(run.Status)
		}
	default:
		st.Status = StatusRunning
		if len(pending) == 0 {
			break
		}
		st.Status = StatusAwaitingInput
		for _, req := range pending {
			st.PendingInputs = append(st.PendingInputs, PendingInput{RequestID: req.ID, Title: req.Title,
				Message: req.Message, InputType: req.Input.Type, InputSchema: InputSchema{InputData: Fields(req)}})
		}
		first := st.PendingInputs[0]
		st.RequestID, st.Message, st.InputSchema = first.RequestID, first.Message, &first.InputSchema
	}
	return st
}

// identifier reads identifier_from_purchaser back from a run's input.
func identifier(in json.RawMessage) string {
	var v struct {
		ID string `json:"identifier_from_purchaser"`
	}
	_ = json.Unmarshal(in, &v)
	return v.ID
}

// resultString is a run's result as Masumi's string result.
func resultString(res json.RawMessage) string {
	var str string
	if json.Unmarshal(res, &str) == nil {
		return str
	}
	return string(res)
}

// ---- provide_input ----

// ProvideInputResponse is the answer of POST /provide_input.
type ProvideInputResponse struct {
	InputHash string `json:"input_hash"`
	Signature string `json:"signature"`
	JobID     string `json:"job_id"`
	RequestID string `json:"request_id"`
}

// responderOf is who the caller of ctx answers as (see authorize).
func responderOf(ctx context.Context) string {
	if who, ok := ctx.Value(responderKey{}).(string); ok && who != "" {
		return who
	}
	return Responder
}

func (s *Server) provideInput(w http.ResponseWriter, r *http.Request) *apiError {
	var b struct {
		JobID     string          `json:"job_id"`
		InputData json.RawMessage `json:"input_data"`
		RequestID string          `json:"request_id"`
	}
	if err := decodeBody(w, r, s.cfg.MaxBody, &b); err != nil {
		return err
	}
	if err := checkJobID(b.JobID); err != nil {
		return err
	}
	if len(b.InputData) == 0 || string(b.InputData) == "null" {
		return required("input_data")
	}
	if b.RequestID != "" && !store.ValidID(b.RequestID) {
		return fieldError("invalid_request", "request_id", "is not a request id (a UUID)")
	}
	ctx := r.Context()
	run, aerr := s.job(ctx, b.JobID)
	if aerr != nil {
		return aerr
	}
	pending, err := s.pending(ctx, run)
	if err != nil {
		return storeError(err, "job")
	}
	req, aerr := pick(run, pending, b.RequestID)
	if aerr != nil {
		return aerr
	}
	data, err := Answer(req.Input, b.InputData)
	if err != nil {
		return validationFailed("input_data does not match the input schema", err, func(p string) string { return p })
	}
	resolved, err := s.answers.Answer(ctx, store.Answer{RequestID: req.ID, Request: req, Identities: []string{routing.Operator},
		Responder: responderOf(ctx), Data: data, Via: "jobapi"})
	var ve *input.ValidationError
	switch {
	case errors.As(err, &ve):
		return validationFailed("input_data does not match the input schema", err, func(p string) string {
			return answerPath(req.Input, p)
		})
	case errors.Is(err, store.ErrAlreadyResolved):
		return errorf(http.StatusConflict, "already_resolved", "request "+req.ID+" of this job is already resolved")
	case err != nil:
		return storeError(err, "the request")
	}
	resp := resolved.Response
	s.log.Info("job input provided", slog.String("job_id", run.ID), slog.String("request_id", req.ID))
	writeJSON(w, http.StatusOK, ProvideInputResponse{InputHash: resp.InputHash, Signature: Sign(s.cfg.LinkSecret, resp.InputHash),
		JobID: run.ID, RequestID: req.ID})
	return nil
}

// pick chooses the request an input answers: the one named, or the first pending.
func pick(run *store.Run, pending []*events.Request, requestID string) (*events.Request, *apiError) {
	if requestID == "" {
		if len(pending) == 0 {
			return nil, errorf(http.StatusConflict, "not_awaiting_input", "the job is "+jobStatus(run, nil).Status+", not awaiting input")
		}
		return pending[0], nil
	}
	if i := slices.IndexFunc(pending, func(r *events.Request) bool { return r.ID == requestID }); i >= 0 {
		return pending[i], nil
	}
	for _, e := range run.Journal {
		if e.RequestID == requestID {
			return nil, errorf(http.StatusConflict, "already_resolved", "request "+requestID+" of this job is already resolved")
		}
	}
	return nil, errorf(http.StatusNotFound, "not_found", "the job has no request "+requestID)
}

// Sign is the signature /provide_input returns: the hex HMAC-SHA256 of the input hash,
// keyed with the link secret.
func Sign(linkSecret []byte, inputHash string) string {
	m := hmac.New(sha256.New, linkSecret)
	m.Write([]byte(inputHash))
	return hex.EncodeToString(m.Sum(nil))
}

// ---- availability and input_schema ----

// Availability is the answer of GET /availability.
type Availability struct {
	Status  string `json:"status"` // available or unavailable
	Type    string `json:"type"`   // masumi-agent
	Message string `json:"message"`
}

func (s *Server) availability(w http.ResponseWriter, _ *http.Request) *apiError {
	a := Availability{Status: "available", Type: "masumi-agent", Message: "hitl job API: jobs run workflow " + s.cfg.Workflow}
	if s.cfg.Store.JetStream().Conn().Status() != nats.CONNECTED {
		a.Status, a.Message = "unavailable", "not connected to NATS"
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) inputSchema(w http.ResponseWriter, _ *http.Request) *apiError {
	writeJSON(w, http.StatusOK, InputSchema{InputData: FormFields(s.cfg.InputSchema)})
	return nil
}
