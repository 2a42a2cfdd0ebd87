package events

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hitl-dev/hitl/input"
)

// MaxRetention bounds a retention (ten years): JetStream keeps a message's time to live in
// whole seconds, and a longer one is a mistake more likely than a plan.
const MaxRetention = 10 * 365 * 24 * time.Hour

// ValidRetention checks a retention given for a request or a run: zero (the default) or
// between 1s and MaxRetention.
func ValidRetention(d time.Duration) error {
	if d != 0 && (d < time.Second || d > MaxRetention) {
		return fmt.Errorf("retention %s must be between 1s and 87600h", d)
	}
	return nil
}

// Validate checks a request before it is stored, listing every problem in a
// *input.ValidationError (matching input.ErrInvalid). It is the one check for every way a
// request is made: a workflow's Ask, a standalone request over the REST API, and the store
// itself before it writes the record.
func (r *Request) Validate() error {
	var fields []input.FieldError
	add := func(path, msg string) { fields = append(fields, input.FieldError{Path: path, Message: msg}) }
	if r.Title == "" {
		add("title", "is required")
	} else if len(r.Title) > 1000 {
		add("title", "is longer than 1000 bytes")
	}
	specOK := true
	if err := r.Input.Check(); err != nil {
		specOK = false
		var ve *input.ValidationError
		if errors.As(err, &ve) {
			fields = append(fields, ve.Fields...)
		} else {
			add("input", "is not usable")
		}
	}
	if t := time.Duration(r.Timeout); t != 0 && (t < time.Second || t > 365*24*time.Hour) {
		add("timeout", "must be between 1s and 8760h")
	}
	if t := time.Duration(r.Retention); t != 0 && (t < time.Second || t > MaxRetention) {
		add("retention", "must be between 1s and 87600h")
	}
	switch r.OnTimeout {
	case "", TimeoutFail:
	case TimeoutDefault:
		if len(r.Default) == 0 {
			add("default", `is required when on_timeout is "default"`)
		} else if specOK {
			// The default answer is held to the spec like any answer: each failing field
			// is reported under default ("default.approved").
			var ve *input.ValidationError
			if err := r.Input.Validate(r.Default); errors.As(err, &ve) {
				for _, f := range ve.Fields {
					add("default"+strings.TrimPrefix(f.Path, "$"), f.Message)
				}
			} else if err != nil {
				add("default", "is not a valid answer")
			}
		}
	default:
		add("on_timeout", `must be "fail" or "default"`)
	}
	for i, a := range r.Assignees {
		if !validAssignee(a) {
			add(fmt.Sprintf("assignees[%d]", i), fmt.Sprintf("%q is not of the form kind:name (e.g. webhook:ops-bot)", a))
		}
	}
	if len(fields) > 0 {
		return &input.ValidationError{Fields: fields}
	}
	return nil
}

func validAssignee(a string) bool {
	for i := 0; i < len(a); i++ {
		if a[i] == ':' {
			return i > 0 && i < len(a)-1
		}
	}
	return false
}
