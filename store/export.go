package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/streams"
)

// Finished is one line of an export: a request as it was resolved, or a run as it finished.
type Finished struct {
	// Kind is "request" or "run".
	Kind string `json:"kind"`
	// At is when the resolution or the end of the run was recorded (the event's time in the
	// stream).
	At time.Time `json:"finished_at"`
	// Request is the resolved request, answer included (the resolved event's data).
	Request *events.Request `json:"request,omitempty"`
	// Run is the finished run's checkpoint (input, journal with every answer, result or
	// error) while it is kept; once removed, what its run.finished event says.
	Run *Run `json:"run,omitempty"`
}

// exportBatch is how many events one direct get of Export returns at most.
const exportBatch = 256

// Export calls fn, oldest first, with every request resolved and every run finished from
// since up to (excluding) until, as far as they are still kept. It reads the resolved and
// run.finished events with batch direct gets from since (start_time) to the first event past
// until, two cursors merged by sequence, so it costs what it returns, not the history, and holds
// no consumer (any identity that may read the streams may export). fn's error stops it and
// is returned.
func (s *Store) Export(ctx context.Context, since, until time.Time, fn func(Finished) error) error {
	if !until.After(since) {
		return fmt.Errorf("export: until (%s) must be after since (%s)", until.Format(time.RFC3339), since.Format(time.RFC3339))
	}
	last := until.Add(-time.Nanosecond).UTC() // the end is exclusive
	cursors := []*exportCursor{
		{subject: streams.SubjectResolved + ">", since: since.UTC(), until: last},
		{subject: streams.SubjectRunFinished + ">", since: since.UTC(), until: last},
	}
	for {
		var next *exportCursor
		for _, c := range cursors {
			if err := c.fill(ctx, s); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if len(c.buf) > 0 && (next == nil || c.buf[0].seq < next.buf[0].seq) {
				next = c
			}
		}
		if next == nil {
			return nil
		}
		m := next.buf[0]
		next.buf = next.buf[1:]
		line, err := s.finished(ctx, m.data, m.at)
		if err != nil {
			return err
		}
		if line != nil {
			if err := fn(*line); err != nil {
				return err
			}
		}
	}
}

// exportCursor reads one subject filter of the event stream in batches.
type exportCursor struct {
	subject      string
	since, until time.Time
	from         uint64 // the next sequence to read; 0: from since
	buf          []exportMsg
	done         bool
}

type exportMsg struct {
	seq  uint64
	at   time.Time
	data []byte
}

// fill reads the cursor's next batch (store/direct.go) when its buffer is empty and more
// may come.
func (c *exportCursor) fill(ctx context.Context, s *Store) error {
	if len(c.buf) > 0 || c.done {
		return nil
	}
	req := directRequest{NextBySubj: c.subject, Batch: exportBatch}
	if c.from == 0 {
		since := c.since
		req.StartTime = &since
	} else {
		req.Seq = c.from
	}
	b, err := s.direct(ctx, streams.Stream, req)
	if err != nil {
		return err
	}
	for _, m := range b.Msgs {
		if m.Time.After(c.until) { // the range ends here
			c.done = true
			return nil
		}
		c.buf = append(c.buf, exportMsg{seq: m.Seq, at: m.Time, data: m.Data})
		c.from = m.Seq + 1
	}
	c.done = b.NumPending == 0 || len(b.Msgs) == 0
	return nil
}

// finished decodes one event of Export; nil for one it cannot read (it is skipped).
func (s *Store) finished(ctx context.Context, data []byte, at time.Time) (*Finished, error) {
	e, err := events.Decode(data)
	if err != nil {
		return nil, nil
	}
	if e.Type() == events.TypeResolved {
		_, r, err := events.DecodeAs[events.Request](data, events.TypeResolved)
		if err != nil {
			return nil, nil
		}
		return &Finished{Kind: "request", At: at.UTC(), Request: &r}, nil
	}
	_, f, err := events.DecodeAs[events.RunFinished](data, events.TypeRunCompleted, events.TypeRunFailed, events.TypeRunCancelled)
	if err != nil {
		return nil, nil
	}
	run, _, err := s.Run(ctx, f.RunID)
	switch {
	case errors.Is(err, ErrNotFound): // removed: the event is all there is
		run = &Run{ID: f.RunID, Workflow: f.Workflow, Status: f.Status, Result: f.Result, Error: f.Error}
	case err != nil:
		return nil, fmt.Errorf("export: %w", err)
	}
	return &Finished{Kind: "run", At: at.UTC(), Run: run}, nil
}
