package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hitl-dev/hitl/input"
)

// Sentinels matched by [*Error] with errors.Is.
var (
	// ErrNotFound: no request or run has that id (404 not_found).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyResolved: the request was already answered, timed out or cancelled (409
	// already_resolved).
	ErrAlreadyResolved = errors.New("already resolved")
	// ErrAlreadyFinished: the run already completed, failed or was cancelled (409
	// already_finished).
	ErrAlreadyFinished = errors.New("already finished")
	// ErrGone: the request or run finished and was removed after its retention (410 gone);
	// nothing was changed.
	ErrGone = errors.New("gone")
	// ErrUnauthorized: the token is missing or not accepted (401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrInvalid: the API refused what was sent (400: invalid_json, invalid_request,
	// validation_failed); [Error.Fields] says which fields and why.
	ErrInvalid = errors.New("invalid")
)

// Error is an error the API answered with: {"error": {"code", "message", "fields"}}.
type Error struct {
	// Status is the HTTP status code, e.g. 404.
	Status int `json:"-"`
	// Code is the API's error code, e.g. "not_found", "validation_failed", "already_resolved".
	// Empty when the body was not hitl's error JSON (a proxy's error page, say).
	Code string `json:"code"`
	// Message is the API's explanation, e.g. "request not found".
	Message string `json:"message"`
	// Fields lists each failing field of a 400: Path is a JSON path ("data", "data.amount",
	// "workflow") and Message says what is wrong.
	Fields []input.FieldError `json:"fields,omitempty"`
}

// Error is the message followed by every failing field, on one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Path + ": " + f.Message)
	}
	return b.String()
}

// Is matches the sentinels by status and code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrAlreadyResolved:
		return e.Status == http.StatusConflict && e.Code == "already_resolved"
	case ErrAlreadyFinished:
		return e.Status == http.StatusConflict && e.Code == "already_finished"
	case ErrGone:
		return e.Status == http.StatusGone
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrInvalid:
		return e.Status == http.StatusBadRequest
	}
	return false
}

// errorFrom builds the *Error of a response that was not 2xx.
func errorFrom(status int, body []byte) *Error {
	var env struct {
		Error *Error `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error != nil && env.Error.Message != "" {
		env.Error.Status = status
		return env.Error
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = strings.ToValidUTF8(msg[:200], "") + "..."
	}
	if msg == "" || strings.HasPrefix(msg, "<") { // empty, or an HTML error page
		msg = http.StatusText(status)
	}
	return &Error{Status: status, Message: fmt.Sprintf("HTTP %d: %s", status, msg)}
}
