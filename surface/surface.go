// Package surface is the contract between hitl's server and a surface: one place where
// people are asked (a notify.Channel) and, where they answer on it, the HTTP handlers that
// take their answers through the one answer path (store.Answerer). Each surface is one
// folder under surface/ with a Build function; the server lists them once, so adding a
// channel is one folder plus one registration line. A surface imports no other surface.
package surface

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/hitl-dev/hitl/internal/ratelimit"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
)

// Env is what a surface is built from.
type Env struct {
	Store *store.Store
	// Routes decide who may answer. They exist only once every surface is built (they
	// know every channel kind), so handlers call the func when serving, never while built.
	Routes func() *routing.Routes
	// LinkSecret signs and verifies links (HITL_LINK_SECRET). Empty in a process that
	// signs none (an orchestrator alone): a surface that needs it then builds nothing.
	LinkSecret []byte
	// APITokens are the REST API's tokens, for surfaces where operators sign in, each
	// "name:scope:token" or a bare token (an admin): see the apitoken package.
	APITokens []string
	// Limits are the per-client rate limits of the surfaces' handlers: sign-ins, answers
	// through links and pages, Slack and Telegram interactions. Nil fields limit nothing.
	Limits    ratelimit.Limits
	PublicURL string // the base of links sent out
	Logger    *slog.Logger
	Metrics   *metrics.Metrics
	// Raw is the surface's own section of the routing file (hitl.yaml), nil when absent.
	Raw *yaml.Node
}

// Section fills v, a pointer to the surface's config struct, from its section of the
// routing file and then from the environment, which wins. Fields name their key with a
// `yaml:"..."` tag and their environment twin with an `env:"HITL_..."` tag (string fields).
// An unknown key in the section is an error.
func (e Env) Section(v any) error {
	if e.Raw != nil {
		b, err := yaml.Marshal(e.Raw)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(v); err != nil {
			return err
		}
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return errors.New("surface: Section needs a pointer to a struct")
	}
	rv = rv.Elem()
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		name := f.Tag.Get("env")
		if name == "" {
			continue
		}
		if f.Type.Kind() != reflect.String {
			return fmt.Errorf("surface: field %s with env tag is not a string", f.Name)
		}
		if val := os.Getenv(name); val != "" {
			rv.Field(i).SetString(val)
		}
	}
	return nil
}

// Parts are what a surface adds to a process.
type Parts struct {
	// Kind is the assignee kind the surface reaches ("email" of "email:a@b.c"). Default:
	// Channel's Kind. A process that cannot deliver on the surface (an orchestrator without
	// the link secret) still declares the kind and CheckTarget, so that a workflow's
	// questions are checked against it.
	Kind string
	// Channel delivers questions and updates them on resolution; nil for a surface people
	// only answer on (the web inbox).
	Channel notify.Channel
	// CheckTarget validates the target of an assignee of Channel's kind ("#ops" of
	// "slack:#ops") when a request is created; nil accepts any.
	CheckTarget func(target string) error
	// Handlers are mounted on the responder, pattern ("POST /slack/interactions") → handler.
	Handlers map[string]http.Handler
}

// Build builds a surface from env. It returns nil Parts, and no error, when the surface
// is not configured; a half-configured one is an error that names what is missing.
type Build func(env Env) (*Parts, error)

// ReadBody reads r's body, at most limit bytes. On failure it has answered (413 for a body
// over the limit, 400 for one that could not be read) and ok is false.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, ok bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if mbe := new(http.MaxBytesError); errors.As(err, &mbe) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "body unreadable", http.StatusBadRequest)
		}
		return nil, false
	}
	return body, true
}
