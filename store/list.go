package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/streams"
)

// Listing statuses of requests beyond events.Status: every request, and every finished one.
const (
	ListAll      = "all"
	ListResolved = "resolved"
)

// RequestQuery selects a page of requests. Where each filter is checked and what a call
// costs: docs/design.md, "Listing".
type RequestQuery struct {
	// Status: "" or "all" (default: every request, in creation order), "pending" (in creation
	// order), "answered", "timed_out", "cancelled" or "resolved" (any of the three; all four
	// in resolution order).
	Status string
	// Assignee keeps requests whose assignees include it (exactly). Default: any.
	Assignee string
	// Workflow and RunID keep the requests of one workflow or run. Default: any.
	Workflow, RunID string
	// TitleContains keeps requests whose title contains it, ignoring case. Default: any.
	TitleContains string
	// CreatedAfter (inclusive) and CreatedBefore (exclusive) bound created_at. Zero: unbounded.
	CreatedAfter, CreatedBefore time.Time
	// Limit is the page's size: default DefaultListLimit, at most MaxListLimit.
	Limit int
	// Newest lists newest first; the default is oldest first.
	Newest bool
	// Cursor is a RequestPage.NextCursor of the same query; "" starts at the beginning.
	Cursor string
}

// RequestPage is one page of a listing.
type RequestPage struct {
	Requests []*events.Request
	// NextCursor goes on where this page ended; "" when the listing reached its end. A page
	// may be short, or empty, and still have one: the call spent its scan budget.
	NextCursor string
}

func validLimit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultListLimit, nil
	case n < 0 || n > MaxListLimit:
		return 0, &QueryError{Field: "limit", Message: fmt.Sprintf("must be between 1 and %d", MaxListLimit)}
	}
	return n, nil
}

func validRange(after, before time.Time) error {
	if !after.IsZero() && !before.IsZero() && !after.Before(before) {
		return &QueryError{Field: "created_before", Message: "must be after created_after"}
	}
	return nil
}

func validWorkflow(wf string) error {
	if wf == "" {
		return nil
	}
	if err := events.ValidWorkflowName(wf); err != nil {
		return &QueryError{Field: "workflow", Message: err.Error()}
	}
	return nil
}

func timeKey(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixNano(), 10)
}

func orderKey(newest bool) string {
	if newest {
		return "newest"
	}
	return "oldest"
}

// hash identifies q's filters and order.
func (q *RequestQuery) hash() [8]byte {
	return queryHash("requests", q.Status, q.Assignee, q.Workflow, q.RunID, strings.ToLower(q.TitleContains),
		timeKey(q.CreatedAfter), timeKey(q.CreatedBefore), orderKey(q.Newest))
}

func (q *RequestQuery) validate() error {
	switch q.Status {
	case "":
		q.Status = ListAll
	case ListAll, ListResolved, string(events.StatusPending), string(events.StatusAnswered),
		string(events.StatusTimedOut), string(events.StatusCancelled):
	default:
		return &QueryError{Field: "status", Message: "must be pending, answered, timed_out, cancelled, resolved or all"}
	}
	var err error
	if q.Limit, err = validLimit(q.Limit); err != nil {
		return err
	}
	if err := validWorkflow(q.Workflow); err != nil {
		return err
	}
	if q.RunID != "" && !ValidID(q.RunID) {
		return &QueryError{Field: "run", Message: "must be a run id (a UUID)"}
	}
	if len(q.Assignee) > 200 {
		return &QueryError{Field: "assignee", Message: "is longer than 200 bytes"}
	}
	if len(q.TitleContains) > 200 {
		return &QueryError{Field: "q", Message: "is longer than 200 bytes"}
	}
	return validRange(q.CreatedAfter, q.CreatedBefore)
}

// summary is what a request's filters look at, from whichever message a listing reads.
type summary struct {
	ID, Title, Workflow, RunID string
	Assignees                  []string
	CreatedAt                  time.Time
}

func (q *RequestQuery) matches(s summary) bool {
	return (q.Workflow == "" || s.Workflow == q.Workflow) &&
		(q.RunID == "" || s.RunID == q.RunID) &&
		(q.Assignee == "" || slices.Contains(s.Assignees, q.Assignee)) &&
		(q.TitleContains == "" || strings.Contains(strings.ToLower(s.Title), strings.ToLower(q.TitleContains))) &&
		(q.CreatedAfter.IsZero() || !s.CreatedAt.Before(q.CreatedAfter)) &&
		(q.CreatedBefore.IsZero() || s.CreatedAt.Before(q.CreatedBefore))
}

// eventData is the data of a CloudEvent as stored in the HITL stream, without the SDK's
// checks: what a listing needs of a message it already knows the subject of.
func eventData[T any](body []byte) (*T, bool) {
	var e struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Data) == 0 {
		return nil, false
	}
	var v T
	if json.Unmarshal(e.Data, &v) != nil {
		return nil, false
	}
	return &v, true
}

// ListRequests returns a page of requests: the pending ones from streams.PendingStream, the
// others from the HITL stream's request_info (every request, creation order) or resolved
// (finished ones, resolution order) subjects. A malformed query or a cursor of another query
// is a *QueryError (ErrBadQuery).
func (s *Store) ListRequests(ctx context.Context, q RequestQuery) (*RequestPage, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	h := q.hash()
	from, err := decodeCursor(q.Cursor, h)
	if err != nil {
		return nil, err
	}
	sp := scanSpec[events.Request]{newest: q.Newest, from: from, limit: q.Limit}
	creationOrder := true
	clientSide := q.Assignee != "" || q.TitleContains != "" || !q.CreatedAfter.IsZero() || !q.CreatedBefore.IsZero()
	switch q.Status {
	case string(events.StatusPending):
		sp.stream = streams.PendingStream
		if q.Workflow != "" || q.RunID != "" {
			sp.filter = streams.SubjectPending + cmpOr(q.Workflow, "*") + "." + cmpOr(q.RunID, "*") + ".*"
		} // else no filter: the stream holds nothing else, and the server counts a batch's rest cheaply
		sp.sparse = clientSide
		sp.match = func(m *directMsg) bool {
			var e PendingEntry
			if json.Unmarshal(m.Data, &e) != nil {
				return false
			}
			return q.matches(summary{ID: e.ID, Title: e.Title, Workflow: e.Workflow, RunID: e.RunID, Assignees: e.Assignees, CreatedAt: e.CreatedAt})
		}
		sp.resolve = func(ctx context.Context, ms []directMsg) ([]*events.Request, error) {
			return s.currentRequests(ctx, ms, func(r *events.Request) bool { return !r.Resolved() })
		}
	case ListAll:
		sp.stream, sp.filter = streams.Stream, streams.SubjectRequestInfo+"*"
		sp.sparse = clientSide || q.Workflow != "" || q.RunID != ""
		sp.match = func(m *directMsg) bool {
			r, ok := eventData[events.Request](m.Data)
			return ok && q.matches(summaryOf(r))
		}
		sp.resolve = func(ctx context.Context, ms []directMsg) ([]*events.Request, error) {
			return s.currentRequests(ctx, ms, nil)
		}
	default: // finished: the resolved event carries the final record
		creationOrder = false
		sp.stream, sp.filter = streams.Stream, streams.SubjectResolved+"*"
		sp.sparse = clientSide || q.Workflow != "" || q.RunID != "" || q.Status != ListResolved
		var byMsg map[uint64]*events.Request
		sp.match = func(m *directMsg) bool {
			r, ok := eventData[events.Request](m.Data)
			if !ok || !r.Resolved() || (q.Status != ListResolved && string(r.Status) != q.Status) || !q.matches(summaryOf(r)) {
				return false
			}
			if byMsg == nil {
				byMsg = map[uint64]*events.Request{}
			}
			byMsg[m.Seq] = r
			return true
		}
		sp.resolve = func(_ context.Context, ms []directMsg) ([]*events.Request, error) {
			out := make([]*events.Request, len(ms))
			for i, m := range ms {
				out[i] = byMsg[m.Seq]
				delete(byMsg, m.Seq)
			}
			return out, nil
		}
	}
	setTimeBounds(&sp, q.CreatedAfter, q.CreatedBefore, creationOrder)
	res, err := scanList(ctx, s, sp)
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	page := &RequestPage{Requests: dedupe(res.items, func(r *events.Request) string { return r.ID })}
	if res.next != 0 {
		page.NextCursor = encodeCursor(res.next, h)
	}
	return page, nil
}

// setTimeBounds turns a created range into seeks and stops by stream time. A creation-ordered
// stream (entries written when a request or run is created) seeks to created_after and
// stops past created_before; a resolution-ordered one only seeks (oldest first) or stops
// (newest first) at created_after, since nothing resolves before it was created.
func setTimeBounds[T any](sp *scanSpec[T], after, before time.Time, creationOrder bool) {
	if !after.IsZero() {
		if sp.newest {
			sp.stop = after.Add(-clockSlack)
		} else if sp.from == 0 {
			sp.seek = after.Add(-clockSlack)
		}
	}
	if !before.IsZero() && creationOrder {
		if sp.newest {
			if sp.from == 0 {
				sp.seek = before.Add(clockSlack)
			}
		} else {
			sp.stop = before.Add(clockSlack)
		}
	}
}

func summaryOf(r *events.Request) summary {
	return summary{ID: r.ID, Title: r.Title, Workflow: r.Workflow, RunID: r.RunID, Assignees: r.Assignees, CreatedAt: r.CreatedAt}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// dedupe drops repeats within a page (a request announced twice, by a create retried past
// the stream's duplicate window), keeping the first.
func dedupe[T any](items []*T, id func(*T) string) []*T {
	seen := make(map[string]bool, len(items))
	out := items[:0]
	for _, it := range items {
		if k := id(it); !seen[k] {
			seen[k] = true
			out = append(out, it)
		}
	}
	return out
}

// idOf is the last token of a subject: the request or run id.
func idOf(subject string) string {
	return subject[strings.LastIndexByte(subject, '.')+1:]
}

// currentRequests reads the records of the requests ms name, in one multi_last batch; keep
// (nil: all) drops those no longer wanted. A request whose record is gone is dropped.
func (s *Store) currentRequests(ctx context.Context, ms []directMsg, keep func(*events.Request) bool) ([]*events.Request, error) {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = idOf(m.Subject)
	}
	recs, err := s.lastRecords(ctx, s.b.Requests.Bucket(), ids)
	if err != nil {
		return nil, err
	}
	out := make([]*events.Request, len(ms))
	for i, id := range ids {
		var r events.Request
		if b, ok := recs[id]; ok && json.Unmarshal(b, &r) == nil && (keep == nil || keep(&r)) {
			out[i] = &r
		}
	}
	return out, nil
}

// RequestsByID reads the current records of ids in one multi_last batch (more for more than
// MaxMultiLast ids, or records past the batch's byte limit); missing ones are left out.
func (s *Store) RequestsByID(ctx context.Context, ids []string) (map[string]*events.Request, error) {
	valid := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !ValidID(id) })
	recs, err := s.lastRecords(ctx, s.b.Requests.Bucket(), valid)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*events.Request, len(recs))
	for id, b := range recs {
		var r events.Request
		if json.Unmarshal(b, &r) == nil {
			out[id] = &r
		}
	}
	return out, nil
}

// lastRecords reads the current values of keys in bucket with multi_last batches: one for up
// to MaxMultiLast keys whose values fit the batch's byte limit, a few more otherwise. Deleted
// and missing keys are absent from the result.
func (s *Store) lastRecords(ctx context.Context, bucket string, keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	todo := slices.Compact(slices.Sorted(slices.Values(keys)))
	prefix := "$KV." + bucket + "."
	for len(todo) > 0 {
		chunk := todo[:min(len(todo), MaxMultiLast)]
		subjects := make([]string, len(chunk))
		for i, k := range chunk {
			subjects[i] = prefix + k
		}
		b, err := s.direct(ctx, "KV_"+bucket, directRequest{MultiLast: subjects, Batch: len(subjects)})
		if err != nil {
			return nil, fmt.Errorf("read records: %w", err)
		}
		got := make(map[string]bool, len(b.Msgs))
		for _, m := range b.Msgs {
			k := strings.TrimPrefix(m.Subject, prefix)
			got[k] = true
			if !m.deleted() {
				out[k] = m.Data
			}
		}
		if b.NumPending > 0 && len(b.Msgs) > 0 {
			// Cut off by the byte limit: ask again for the keys not answered.
			rest := slices.DeleteFunc(slices.Clone(chunk), func(k string) bool { return got[k] })
			todo = append(rest, todo[len(chunk):]...)
			continue
		}
		todo = todo[len(chunk):]
	}
	return out, nil
}

// OverdueRequests scans the pending index from position from (0: its start) for requests
// whose deadline is before due, reading at most ScanBudget × limit entries: it returns up to
// limit of their records and the position to go on from (0 when the scan reached the end).
// The index is in creation order, not deadline order, so it cannot stop at the first request
// not yet due; a caller sweeps it in steps (engine's reconciler keeps the position across
// sweeps).
func (s *Store) OverdueRequests(ctx context.Context, due time.Time, from uint64, limit int) ([]*events.Request, uint64, error) {
	limit = min(max(limit, 1), MaxListLimit)
	sp := scanSpec[events.Request]{stream: streams.PendingStream, from: from, limit: limit, sparse: true}
	sp.match = func(m *directMsg) bool {
		var e PendingEntry
		return json.Unmarshal(m.Data, &e) == nil && e.Deadline != nil && e.Deadline.Before(due)
	}
	sp.resolve = func(ctx context.Context, ms []directMsg) ([]*events.Request, error) {
		return s.currentRequests(ctx, ms, func(r *events.Request) bool { return !r.Resolved() })
	}
	res, err := scanList(ctx, s, sp)
	if err != nil {
		return nil, 0, fmt.Errorf("list overdue requests: %w", err)
	}
	return res.items, res.next, nil
}
