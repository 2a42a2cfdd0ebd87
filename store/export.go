package store

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// exportIdle bounds the wait for the next message of an export whose consumer said more
// were pending: a stream that lost them meanwhile (their TTL ran out) ends the export.
const exportIdle = 5 * time.Second

// Export calls fn, oldest first, with every request resolved and every run finished from
// since up to (excluding) until, as far as they are still kept. It reads the resolved and
// run.finished events with an ordered consumer that starts at since, so it costs what it
// returns, not the history; it ends at the first event at or after until, or when it has
// read every event stored when it started. fn's error stops it and is returned.
func (s *Store) Export(ctx context.Context, since, until time.Time, fn func(Finished) error) error {
	if !until.After(since) {
		return fmt.Errorf("export: until (%s) must be after since (%s)", until.Format(time.RFC3339), since.Format(time.RFC3339))
	}
	start := since.UTC()
	cons, err := s.js.OrderedConsumer(ctx, streams.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{streams.SubjectResolved + ">", streams.SubjectRunFinished + ">"},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
	})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if info.NumPending == 0 {
		return nil
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer it.Stop()
	// The iterator blocks: it is stopped when ctx ends, or when nothing comes for a while
	// although more was pending (the rest expired while we read).
	stopCtx := context.AfterFunc(ctx, it.Stop)
	defer stopCtx()
	idle := time.AfterFunc(exportIdle, it.Stop)
	defer idle.Stop()
	for {
		msg, err := it.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			if ctx.Err() != nil {
				return fmt.Errorf("export: %w", ctx.Err())
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		idle.Reset(exportIdle)
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if !md.Timestamp.Before(until) {
			return nil
		}
		line, err := s.finished(ctx, msg, md.Timestamp)
		if err != nil {
			return err
		}
		if line != nil {
			if err := fn(*line); err != nil {
				return err
			}
		}
		if md.NumPending == 0 {
			return nil
		}
	}
}

// finished decodes one event of Export; nil for one it cannot read (it is skipped).
func (s *Store) finished(ctx context.Context, msg jetstream.Msg, at time.Time) (*Finished, error) {
	e, err := events.Decode(msg.Data())
	if err != nil {
		return nil, nil
	}
	if e.Type() == events.TypeResolved {
		_, r, err := events.DecodeAs[events.Request](msg.Data(), events.TypeResolved)
		if err != nil {
			return nil, nil
		}
		return &Finished{Kind: "request", At: at.UTC(), Request: &r}, nil
	}
	_, f, err := events.DecodeAs[events.RunFinished](msg.Data(), events.TypeRunCompleted, events.TypeRunFailed, events.TypeRunCancelled)
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
