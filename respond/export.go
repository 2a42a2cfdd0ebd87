package respond

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/hitl-dev/hitl/client"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/store"
)

// MaxConcurrentExports bounds the exports one server streams at once: each reads the event
// stream as fast as its client takes the lines.
const MaxConcurrentExports = 2

var exports = make(chan struct{}, MaxConcurrentExports)

// export streams GET /v1/export?since=T&until=T: every request resolved and run finished in
// [since, until), as JSON lines (store.Finished), oldest first, for archiving before the
// retention removes them. Both times are RFC 3339. The trailer Hitl-Export-Complete: true
// ends a complete export; an export cut short says why in Hitl-Export-Error.
func (s *Server) export(w http.ResponseWriter, r *http.Request, _ caller) *apiError {
	q := r.URL.Query()
	var fields []input.FieldError
	parse := func(name string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, q.Get(name))
		if err != nil {
			fields = append(fields, input.FieldError{Path: name, Message: "must be an RFC 3339 time, e.g. 2026-01-31T00:00:00Z"})
		}
		return t
	}
	since, until := parse("since"), parse("until")
	if len(fields) == 0 && !until.After(since) {
		fields = append(fields, input.FieldError{Path: "until", Message: "must be after since"})
	}
	if len(fields) > 0 {
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Message: "bad export range", Fields: fields}
	}
	select {
	case exports <- struct{}{}:
		defer func() { <-exports }()
	default:
		e := errorf(http.StatusTooManyRequests, "rate_limited", "other exports are running; retry after 5s")
		e.header = http.Header{"Retry-After": {"5"}}
		return e
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Trailer", client.ExportCompleteTrailer+", "+client.ExportErrorTrailer)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	flusher, _ := w.(http.Flusher)
	n := 0
	err := s.cfg.Store.Export(r.Context(), since, until, func(f store.Finished) error {
		if err := enc.Encode(f); err != nil {
			return err
		}
		if n++; n%100 == 0 && flusher != nil {
			flusher.Flush()
		}
		return nil
	})
	if err != nil {
		if n == 0 && !errors.Is(err, r.Context().Err()) {
			w.Header().Del("Trailer")
			return storeError(err, "export")
		}
		s.log.Warn("export cut short", slog.Int("lines", n), slog.Any("err", err))
		w.Header().Set(client.ExportErrorTrailer, "the export stopped early; retry from the last finished_at")
		return nil
	}
	w.Header().Set(client.ExportCompleteTrailer, "true")
	return nil
}
