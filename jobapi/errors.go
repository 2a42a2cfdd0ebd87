package jobapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/hitl-dev/hitl/input"
)

// apiError is the body of every error response: the REST API's shape, plus "detail", the
// one string Masumi's servers (FastAPI) answer with:
// {"error": {"code": "...", "message": "...", "fields": [...]}, "detail": "..."}.
type apiError struct {
	Status  int                `json:"-"`
	Code    string             `json:"code"`
	Message string             `json:"message"`
	Fields  []input.FieldError `json:"fields,omitempty"`
	// header is set on the response (Retry-After of a 429, WWW-Authenticate of a 403).
	header http.Header
}

func (e *apiError) Error() string { return e.Message }

// detail is the message followed by every failing field it does not already say.
func (e *apiError) detail() string {
	var parts []string
	for _, f := range e.Fields {
		if e.Message != f.Path+" "+f.Message {
			parts = append(parts, f.Path+": "+f.Message)
		}
	}
	if len(parts) == 0 {
		return e.Message
	}
	return e.Message + " (" + strings.Join(parts, "; ") + ")"
}

func errorf(status int, code, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: msg}
}

// fieldError is a 400 about one field: "<path> <why>".
func fieldError(code, path, why string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: path + " " + why,
		Fields: []input.FieldError{{Path: path, Message: why}}}
}

func required(path string) *apiError { return fieldError("validation_failed", path, "is required") }

var errUnauthorized = errorf(http.StatusUnauthorized, "unauthorized", "a valid API token (Authorization: Bearer ...) is required")

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "2")
	}
	for k, v := range e.header {
		w.Header()[k] = v
	}
	writeJSON(w, e.Status, struct {
		Error  *apiError `json:"error"`
		Detail string    `json:"detail"`
	}{e, e.detail()})
}

// decodeBody reads a JSON object of at most limit bytes into v. Unknown top-level fields are
// ignored, as Masumi's servers ignore them; wrong types and trailing data are refused.
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
	if !json.Valid(body) {
		return errorf(http.StatusBadRequest, "invalid_json", "the body is not valid JSON")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fieldError("invalid_request", te.Field, "must be a "+te.Type.Kind().String()+", not "+te.Value)
		}
		return errorf(http.StatusBadRequest, "invalid_request", "the body must be a JSON object")
	}
	return nil
}
