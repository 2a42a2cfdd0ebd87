package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/streams"
)

// Listing statuses of runs beyond events.RunStatus: not finished, and finished.
const (
	ListActive   = "active"
	ListFinished = "finished"
)

// RunQuery selects a page of runs; see RequestQuery.
type RunQuery struct {
	// Status: "" or "all" (default: every run, in creation order); "queued", "running",
	// "waiting" or "active" (any of the three; creation order); "completed", "failed",
	// "cancelled" or "finished" (any of the three; finishing order).
	Status string
	// Workflow keeps the runs of one workflow. Default: any.
	Workflow string
	// CreatedAfter (inclusive) and CreatedBefore (exclusive) bound created_at. Zero: unbounded.
	CreatedAfter, CreatedBefore time.Time
	// Limit is the page's size: default DefaultListLimit, at most MaxListLimit.
	Limit int
	// Newest lists newest first; the default is oldest first.
	Newest bool
	// Cursor is a RunPage.NextCursor of the same query; "" starts at the beginning.
	Cursor string
}

// RunPage is one page of runs; see RequestPage.
type RunPage struct {
	Runs       []*Run
	NextCursor string
}

func (q *RunQuery) hash() [8]byte {
	return queryHash("runs", q.Status, q.Workflow, timeKey(q.CreatedAfter), timeKey(q.CreatedBefore), orderKey(q.Newest))
}

func (q *RunQuery) validate() error {
	switch events.RunStatus(q.Status) {
	case "":
		q.Status = ListAll
	case ListAll, ListActive, ListFinished, events.RunQueued, events.RunRunning, events.RunWaiting,
		events.RunCompleted, events.RunFailed, events.RunCancelled:
	default:
		return &QueryError{Field: "status", Message: "must be queued, running, waiting, active, completed, failed, cancelled, finished or all"}
	}
	var err error
	if q.Limit, err = validLimit(q.Limit); err != nil {
		return err
	}
	if err := validWorkflow(q.Workflow); err != nil {
		return err
	}
	return validRange(q.CreatedAfter, q.CreatedBefore)
}

// wants reports whether a run in status st is one q lists.
func (q *RunQuery) wants(st events.RunStatus) bool {
	switch q.Status {
	case ListAll:
		return true
	case ListActive:
		return !st.Final()
	case ListFinished:
		return st.Final()
	}
	return string(st) == q.Status
}

// ListRuns returns a page of runs: every run, or the active ones, from the HITL stream's
// run.started subjects (creation order; the workflow is a subject token, so its filter is
// the server's); finished ones from run.finished (finishing order). The page's records are
// read with one multi_last batch; the status and created range are checked on them.
func (s *Store) ListRuns(ctx context.Context, q RunQuery) (*RunPage, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	h := q.hash()
	from, err := decodeCursor(q.Cursor, h)
	if err != nil {
		return nil, err
	}
	sp := scanSpec[Run]{newest: q.Newest, from: from, limit: q.Limit}
	finished := q.Status == ListFinished || (q.Status != ListAll && events.RunStatus(q.Status).Final())
	sp.sparse = !q.CreatedAfter.IsZero() || !q.CreatedBefore.IsZero() || (q.Status != ListAll && q.Status != ListFinished) ||
		(finished && q.Workflow != "")
	if finished {
		sp.stream, sp.filter = streams.Stream, streams.SubjectRunFinished+"*"
		sp.match = func(m *directMsg) bool {
			f, ok := eventData[events.RunFinished](m.Data)
			return ok && (q.Workflow == "" || f.Workflow == q.Workflow) && q.wants(f.Status)
		}
	} else {
		sp.stream, sp.filter = streams.Stream, streams.RunSubject(streams.SubjectRunStarted, cmpOr(q.Workflow, "*"), "*")
	}
	sp.resolve = func(ctx context.Context, ms []directMsg) ([]*Run, error) {
		ids := make([]string, len(ms))
		for i, m := range ms {
			ids[i] = idOf(m.Subject)
		}
		recs, err := s.lastRecords(ctx, s.b.Runs.Bucket(), ids)
		if err != nil {
			return nil, err
		}
		out := make([]*Run, len(ms))
		for i, id := range ids {
			var r Run
			if b, ok := recs[id]; ok && json.Unmarshal(b, &r) == nil && q.wants(r.Status) &&
				(q.CreatedAfter.IsZero() || !r.CreatedAt.Before(q.CreatedAfter)) &&
				(q.CreatedBefore.IsZero() || r.CreatedAt.Before(q.CreatedBefore)) {
				out[i] = &r
			}
		}
		return out, nil
	}
	setTimeBounds(&sp, q.CreatedAfter, q.CreatedBefore, !finished)
	res, err := scanList(ctx, s, sp)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	page := &RunPage{Runs: dedupe(res.items, func(r *Run) string { return r.ID })}
	if res.next != 0 {
		page.NextCursor = encodeCursor(res.next, h)
	}
	return page, nil
}
