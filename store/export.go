package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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
			if err := c.fill(ctx, s.js.Conn()); err != nil {
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

// fill reads the cursor's next batch when its buffer is empty and more may come.
func (c *exportCursor) fill(ctx context.Context, nc *nats.Conn) error {
	if len(c.buf) > 0 || c.done {
		return nil
	}
	req := map[string]any{"batch": exportBatch, "next_by_subj": c.subject}
	if c.from == 0 {
		req["start_time"] = c.since
	} else {
		req["seq"] = c.from
	}
	msgs, more, err := directBatch(ctx, nc, streams.Stream, req)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return fmt.Errorf("direct get: message without a sequence: %w", err)
		}
		at, err := time.Parse(time.RFC3339Nano, m.Header.Get(jetstream.TimeStampHeaer))
		if err != nil {
			return fmt.Errorf("direct get: message without a time: %w", err)
		}
		if at.After(c.until) { // the range ends here (up_to_time does not apply to batches)
			c.done = true
			return nil
		}
		c.buf = append(c.buf, exportMsg{seq: seq, at: at, data: m.Data})
		c.from = seq + 1
	}
	c.done = !more || len(msgs) == 0
	return nil
}

// The headers nats.go gives a status message (it does not export their names).
const (
	statusHdr = "Status"
	descrHdr  = "Description"
)

// directBatchTimeout bounds one batch direct get whose context has no deadline.
const directBatchTimeout = 10 * time.Second

// directBatch sends one batch direct get ($JS.API.DIRECT.GET.<stream> with "batch") and
// collects its answers up to the end-of-batch message, which says whether more match
// (Nats-Num-Pending). A 404 is an empty batch.
func directBatch(ctx context.Context, nc *nats.Conn, stream string, req map[string]any) (msgs []*nats.Msg, more bool, err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, directBatchTimeout)
		defer cancel()
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, false, err
	}
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, false, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$JS.API.DIRECT.GET."+stream, inbox, body); err != nil {
		return nil, false, err
	}
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("direct get from %s: %w", stream, err)
		}
		switch m.Header.Get(statusHdr) {
		case "":
			msgs = append(msgs, m)
		case "204": // end of batch
			np, _ := strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			return msgs, np > 0, nil
		case "404":
			return msgs, false, nil
		default:
			return nil, false, fmt.Errorf("direct get from %s: %s %s", stream, m.Header.Get(statusHdr), m.Header.Get(descrHdr))
		}
	}
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
