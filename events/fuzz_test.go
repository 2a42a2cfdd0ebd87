package events_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/hitl-dev/hitl/events"
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
