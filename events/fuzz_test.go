package events_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
)

func FuzzDecode(f *testing.F) {
	for _, s := range samples() {
		m, err := events.NewMsg("s", s.typ, "e1", s.data)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m.Data)
	}
	for _, s := range []string{
		valid, ``, `{}`, `null`, `[]`, `{"specversion":"0.3"}`, `{"specversion":"1.0","id":1}`,
		`{"specversion":"1.0","id":"e","source":"hitl","type":"hitl.response.v1","data_base64":"!!"}`,
		`{"specversion":"1.0","id":"e","source":"hitl","type":"hitl.response.v1","datacontenttype":"text/plain","data":"x"}`,
		`{"specversion":"1.0","id":"e","source":"hitl","type":"hitl.response.v1","time":"2026-13-45T99:00:00Z"}`,
		`{"specversion":"1.0","id":"e","source":"hitl","type":"hitl.response.v1","dataschema":":bad"}`,
		`{"specversion":"1.0","id":"e","source":"%zz","type":"hitl.response.v1"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := events.Decode(body)
		if err != nil {
			if !errors.Is(err, events.ErrMalformed) {
				t.Fatalf("Decode error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if e.ID() == "" || e.Source() == "" || e.Type() == "" || events.SchemaURI(e.Type()) == "urn:hitl:schema:" {
			t.Fatalf("Decode accepted %q as %v", body, e)
		}
		// Decoding the data never panics either, whatever its shape.
		for _, decode := range []func() error{
			func() error { _, _, err := events.DecodeAs[events.Request](body); return err },
			func() error { _, _, err := events.DecodeAs[events.Response](body, e.Type()); return err },
			func() error { _, _, err := events.DecodeAs[json.RawMessage](body); return err },
		} {
			if err := decode(); err != nil && !errors.Is(err, events.ErrMalformed) {
				t.Fatalf("DecodeAs error %v does not wrap ErrMalformed", err)
			}
		}
		// What was accepted can be sent on again and is read back the same.
		m, err := events.Msg("s", e)
		if err != nil {
			return // e.g. data the SDK will not re-encode; the consumer never re-sends it
		}
		again, err := events.Decode(m.Data)
		if err != nil {
			t.Fatalf("re-encoded event %q no longer decodes: %v", m.Data, err)
		}
		if again.ID() != e.ID() || again.Type() != e.Type() || again.Source() != e.Source() {
			t.Fatalf("re-encoded event changed: %v -> %v", e, again)
		}
	})
}

// FuzzRequestValidate: a request as JSON (the REST API's body, a workflow's Ask on the
// wire) is judged the same each time; a refusal lists its fields; and a request Validate
// accepts survives being written and read again, still valid and unchanged.
func FuzzRequestValidate(f *testing.F) {
	for _, s := range samples() {
		if r, ok := s.data.(events.Request); ok {
			b, err := json.Marshal(r)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, s := range []string{
		`{"title":"Deploy?","input":{"type":"approval"},"assignees":["webhook:ops-bot"],"timeout":"1h","on_timeout":"default","default":{"approved":false}}`,
		`{"title":"Amount?","input":{"type":"number","min":1,"max":10},"on_timeout":"default","default":11}`,
		`{"title":"x","input":{"type":"select","options":[{"id":"a"},{"id":"a"}]}}`,
		`{"title":"","input":{"type":"nope"},"timeout":"1ms","on_timeout":"retry","assignees":[":x","x:"]}`,
		`{"title":"t","input":{"type":"form","fields":[{"id":"n","type":"number","required":true}]},"on_timeout":"default"}`,
		`{"title":"t","input":{"type":"text","max_length":3},"on_timeout":"default","default":"abcd"}`,
		`{"title":"t","timeout":"9000h"}`, `{"title":"t","timeout":"-1s"}`, `{}`, `{"input":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r events.Request
		if json.Unmarshal(body, &r) != nil {
			return
		}
		err := r.Validate()
		if again := r.Validate(); (err == nil) != (again == nil) || (err != nil && err.Error() != again.Error()) {
			t.Fatalf("Validate is not deterministic: %v then %v", err, again)
		}
		if err != nil {
			var ve *input.ValidationError
			if !errors.Is(err, input.ErrInvalid) || !errors.As(err, &ve) || len(ve.Fields) == 0 {
				t.Fatalf("Validate(%s) = %#v, want a *ValidationError with fields", body, err)
			}
			for _, fe := range ve.Fields {
				if fe.Path == "" || fe.Message == "" {
					t.Fatalf("Validate(%s): field %+v", body, fe)
				}
			}
			return
		}
		if r.OnTimeout == events.TimeoutDefault {
			if err := r.Input.Validate(r.Default); err != nil {
				t.Fatalf("accepted a default that is not a valid answer: %s: %v", r.Default, err)
			}
		}
		b1, err := json.Marshal(&r)
		if err != nil {
			t.Fatalf("marshal an accepted request: %v", err)
		}
		var r2 events.Request
		if err := json.Unmarshal(b1, &r2); err != nil {
			t.Fatalf("an accepted request written as %s does not read back: %v", b1, err)
		}
		if err := r2.Validate(); err != nil {
			t.Fatalf("an accepted request is refused after a round trip %s: %v", b1, err)
		}
		b2, err := json.Marshal(&r2)
		if err != nil || string(b1) != string(b2) {
			t.Fatalf("round trip changed the request:\n %s\n %s", b1, b2)
		}
	})
}
