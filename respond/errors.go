package respond

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/apitoken"
	"github.com/hitl-dev/hitl/internal/ratelimit"
)

// apiError is the body of every error response:
// {"error": {"code": "...", "message": "...", "fields": [...]}}.
type apiError struct {
	Status  int                `json:"-"`
	Code    string             `json:"code"`
	Message string             `json:"message"`
	Fields  []input.FieldError `json:"fields,omitempty"`
	// internal is the cause of a 5xx, logged and never sent.
	internal error
	// header is set on the response (Retry-After of a 429, WWW-Authenticate of a 403).
	header http.Header
}

func (e *apiError) Error() string { return e.Message }

func errorf(status int, code, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: msg}
}

var (
	errUnauthorized = errorf(http.StatusUnauthorized, "unauthorized", "a valid API token (Authorization: Bearer ...) or link token is required")
	errNotFound     = func(what string) *apiError { return errorf(http.StatusNotFound, "not_found", what+" not found") }
)

// forbiddenScope is the 403 of a valid token whose scope is too small for the endpoint.
func forbiddenScope(t apitoken.Token, need apitoken.Scope, r *http.Request) *apiError {
	e := errorf(http.StatusForbidden, "insufficient_scope", fmt.Sprintf("the API token %q has scope %s; %s %s needs %s",
		t.Name, t.Scope, r.Method, r.URL.Path, need))
	e.header = http.Header{"Www-Authenticate": {fmt.Sprintf(`Bearer error="insufficient_scope", scope="%s"`, need)}}
	return e
}

// rateLimited is the 429 of a client past a limit.
func rateLimited(wait time.Duration, msg string) *apiError {
	e := errorf(http.StatusTooManyRequests, "rate_limited", msg+"; retry after "+ratelimit.RetryAfter(wait)+"s")
	e.header = http.Header{"Retry-After": {ratelimit.RetryAfter(wait)}}
	return e
}

func invalid(err error) *apiError {
	var ve *input.ValidationError
	if errors.As(err, &ve) {
		return &apiError{Status: http.StatusBadRequest, Code: "validation_failed",
			Message: "the request failed validation", Fields: ve.Fields}
	}
	return errorf(http.StatusBadRequest, "invalid_request", err.Error())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// RetryAfter is the Retry-After, in seconds, of a 503 that JetStream's unavailability caused.
const RetryAfter = "2"

func writeError(w http.ResponseWriter, e *apiError) {
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", RetryAfter)
	}
	for k, v := range e.header {
		w.Header()[k] = v
	}
	writeJSON(w, e.Status, map[string]*apiError{"error": e})
}

// decodeBody reads a JSON object of at most limit bytes into v, refusing unknown fields,
// trailing data and wrong types with a message that names the field.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) *apiError {
	// hitl's server refuses a Content-Type other than application/json in front of this
	// (internal/httpguard, one place for every API); here the body is read as JSON.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "payload_too_large", "the body is larger than the limit")
		}
		return errorf(http.StatusBadRequest, "invalid_json", "could not read the body")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "invalid_json", "the body has data after the JSON object")
	}
	return nil
}

func jsonError(err error) *apiError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "$"
		}
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_request",
			Message: "wrong type for " + field,
			Fields:  []input.FieldError{{Path: field, Message: "must be " + jsonKind(te.Type.Kind().String()) + ", not " + te.Value}}}
	case errors.As(err, &se), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, "invalid_json", "the body is not valid JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Message: "unknown field " + f,
			Fields: []input.FieldError{{Path: f, Message: "is not a known field"}}}
	}
	return errorf(http.StatusBadRequest, "invalid_request", err.Error())
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "a list"
	case "int", "int64", "float64", "uint64":
		return "a number"
	}
	return k
}
