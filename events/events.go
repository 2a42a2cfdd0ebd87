// Package events defines hitl's CloudEvents 1.0 (types, payloads, JSON Schemas) and their
// encoding on NATS: structured mode (application/cloudevents+json) with Nats-Msg-Id set to
// the event id, so JetStream drops duplicates of a retried publish.
package events

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
)

// Event types, versioned.
const (
	TypeRequestInfo  = "hitl.request_info.v1"  // data: Request (pending)
	TypeResponse     = "hitl.response.v1"      // data: Response
	TypeResolved     = "hitl.resolved.v1"      // data: Request (answered, timed_out or cancelled)
	TypeRunStarted   = "hitl.run.started.v1"   // data: RunStarted
	TypeRunCancel    = "hitl.run.cancel.v1"    // data: RunCancel
	TypeRunResume    = "hitl.run.resume.v1"    // data: RunResume
	TypeRunCompleted = "hitl.run.completed.v1" // data: RunFinished
	TypeRunFailed    = "hitl.run.failed.v1"    // data: RunFinished
	TypeRunCancelled = "hitl.run.cancelled.v1" // data: RunFinished
)

// Source is the CloudEvents source of every event hitl publishes.
const Source = "hitl"

// ContentType is the structured-mode content type.
const ContentType = "application/cloudevents+json"

// MaxSize bounds an encoded event; larger messages are refused by decoders.
const MaxSize = 1 << 20

//go:embed schemas/*.json
var Schemas embed.FS

// schemaFor maps each type to its data schema file under schemas/.
var schemaFor = map[string]string{
	TypeRequestInfo:  "request.json",
	TypeResolved:     "request.json",
	TypeResponse:     "response.json",
	TypeRunStarted:   "run_started.json",
	TypeRunCancel:    "run_cancel.json",
	TypeRunResume:    "run_resume.json",
	TypeRunCompleted: "run_finished.json",
	TypeRunFailed:    "run_finished.json",
	TypeRunCancelled: "run_finished.json",
}

// SchemaURI is the dataschema of an event type: the $id of its schema file.
func SchemaURI(typ string) string { return "urn:hitl:schema:" + schemaFor[typ] }

// ErrMalformed matches every decode failure.
var ErrMalformed = errors.New("malformed event")

// New builds an event. id must be stable for retries of the same fact, so that the
// JetStream duplicate window can drop them. Data given as json.RawMessage is used as it is
// (after a validity check), not encoded again.
func New(typ, id, subject string, data any) (event.Event, error) {
	if _, ok := schemaFor[typ]; !ok {
		return event.Event{}, fmt.Errorf("event type %q is not known", typ)
	}
	e := event.New()
	e.SetID(id)
	e.SetSource(Source)
	e.SetType(typ)
	e.SetSubject(subject)
	e.SetTime(time.Now().UTC())
	e.SetDataSchema(SchemaURI(typ))
	if raw, ok := data.(json.RawMessage); ok {
		// Already encoded (a record's JSON, written a moment ago): kept as it is rather than
		// encoded again; it must still be JSON.
		if !json.Valid(raw) {
			return event.Event{}, fmt.Errorf("event %s data: not valid JSON", typ)
		}
		e.SetDataContentType(event.ApplicationJSON)
		e.DataEncoded, e.DataBase64 = raw, false
		return e, nil
	}
	if err := e.SetData(event.ApplicationJSON, data); err != nil {
		return event.Event{}, fmt.Errorf("event %s data: %w", typ, err)
	}
	return e, nil
}

// Msg encodes an event as a NATS message on subject, structured mode, Nats-Msg-Id = event id.
func Msg(subject string, e event.Event) (*nats.Msg, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", e.Type(), err)
	}
	m := nats.NewMsg(subject)
	m.Data = body
	m.Header.Set("Content-Type", ContentType)
	m.Header.Set(nats.MsgIdHdr, e.ID())
	return m, nil
}

// NewMsg is New followed by Msg.
func NewMsg(subject, typ, id string, data any) (*nats.Msg, error) {
	e, err := New(typ, id, subject, data)
	if err != nil {
		return nil, err
	}
	return Msg(subject, e)
}

// Decode parses a structured-mode CloudEvent and checks its required attributes. It never
// panics; every failure wraps ErrMalformed.
func Decode(body []byte) (e event.Event, err error) {
	defer func() {
		if r := recover(); r != nil { // the SDK's reader must not take a consumer down
			e, err = event.Event{}, fmt.Errorf("%w: %v", ErrMalformed, r)
		}
	}()
	if len(body) > MaxSize {
		return event.Event{}, fmt.Errorf("%w: %d bytes is over the %d limit", ErrMalformed, len(body), MaxSize)
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return event.Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := e.Validate(); err != nil {
		return event.Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if e.SpecVersion() != event.CloudEventsVersionV1 {
		return event.Event{}, fmt.Errorf("%w: specversion %q, want 1.0", ErrMalformed, e.SpecVersion())
	}
	if _, ok := schemaFor[e.Type()]; !ok {
		return event.Event{}, fmt.Errorf("%w: unknown type %q", ErrMalformed, e.Type())
	}
	return e, nil
}

// DecodeAs decodes an event of the wanted type and its data.
func DecodeAs[T any](body []byte, wantType ...string) (event.Event, T, error) {
	var data T
	e, err := Decode(body)
	if err != nil {
		return e, data, err
	}
	if len(wantType) > 0 && !contains(wantType, e.Type()) {
		return e, data, fmt.Errorf("%w: type %q, want %v", ErrMalformed, e.Type(), wantType)
	}
	if err := json.Unmarshal(e.Data(), &data); err != nil {
		return e, data, fmt.Errorf("%w: %s data: %v", ErrMalformed, e.Type(), err)
	}
	return e, data, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
