package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/streams"
)

// PendingEntry is a pending request's entry in streams.PendingStream: what a listing filters
// on and shows before it reads the records of a page.
type PendingEntry struct {
	ID        string     `json:"id"`
	Title     string     `json:"title"`
	Workflow  string     `json:"workflow,omitempty"`
	RunID     string     `json:"run_id,omitempty"`
	Assignees []string   `json:"assignees,omitempty"`
	Input     input.Type `json:"input_type,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	Deadline  *time.Time `json:"deadline,omitempty"`
}

// pendingSubject is where r's entry lives.
func pendingSubject(r *events.Request) string {
	return streams.PendingSubject(r.Workflow, r.RunID, r.ID)
}

// publishPending writes r's entry. Its event id makes a retry within the duplicate window a
// no-op; a later one finds the entry there and leaves it: the publish expects the subject
// empty, which keeps one entry per request (the stream has no per-subject limit; see
// streams.PendingStream).
func (s *Store) publishPending(ctx context.Context, r *events.Request) error {
	body, err := json.Marshal(PendingEntry{ID: r.ID, Title: r.Title, Workflow: r.Workflow, RunID: r.RunID,
		Assignees: r.Assignees, Input: r.Input.Type, CreatedAt: r.CreatedAt, Deadline: r.Deadline})
	if err != nil {
		return err
	}
	_, err = s.js.Publish(ctx, pendingSubject(r), body, jetstream.WithMsgID("pending/"+r.ID),
		jetstream.WithExpectLastSequencePerSubject(0))
	if err != nil && !isWrongLastSequence(err) { // wrong last sequence: indexed already
		return fmt.Errorf("index pending request %s: %w", r.ID, err)
	}
	return nil
}

// purgePending removes r's entry; nothing to remove is not an error.
func (s *Store) purgePending(ctx context.Context, r *events.Request) error {
	st, err := s.pendingStream(ctx)
	if err == nil {
		err = st.Purge(ctx, jetstream.WithPurgeSubject(pendingSubject(r)))
	}
	if err != nil {
		return fmt.Errorf("unindex request %s: %w", r.ID, err)
	}
	return nil
}

// pendingStream binds streams.PendingStream once; the handle makes no request of its own.
func (s *Store) pendingStream(ctx context.Context) (jetstream.Stream, error) {
	if st := s.pending.Load(); st != nil {
		return *st, nil
	}
	st, err := s.js.Stream(ctx, streams.PendingStream)
	if err != nil {
		return nil, err
	}
	s.pending.Store(&st)
	return st, nil
}

// PendingStats returns how many requests are pending across the cluster and when the oldest
// was created (zero when none), from one stream info: the same on every instance, whatever
// the number pending.
func (s *Store) PendingStats(ctx context.Context) (int, time.Time, error) {
	st, err := s.pendingStream(ctx)
	if err != nil {
		return 0, time.Time{}, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, time.Time{}, err
	}
	if info.State.Msgs == 0 {
		return 0, time.Time{}, nil
	}
	return int(info.State.Msgs), info.State.FirstTime, nil
}

// backfilledKey marks, in PendingStream's metadata, that the requests stored before the
// stream existed have their entries.
const backfilledKey = "hitl_backfilled"

// BackfillPending gives every pending request stored before streams.PendingStream existed
// its entry, once per deployment: it reads the whole requests bucket, so it runs only while
// the stream's metadata lacks the mark it sets when done. Idempotent and safe to run from
// several processes; an interrupted run starts again at the next start.
func (s *Store) BackfillPending(ctx context.Context) (int, error) {
	st, err := s.pendingStream(ctx)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	if info.Config.Metadata[backfilledKey] != "" {
		return 0, nil
	}
	w, err := s.b.Requests.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return 0, fmt.Errorf("backfill pending: %w", err)
	}
	defer w.Stop()
	n := 0
	for e := range w.Updates() {
		if e == nil {
			break
		}
		var r events.Request
		if json.Unmarshal(e.Value(), &r) != nil || r.Resolved() {
			continue
		}
		if err := s.publishPending(ctx, &r); err != nil {
			return n, err
		}
		// Resolved meanwhile, its purge maybe before our entry: read again and purge ours.
		if now, _, err := s.Request(ctx, r.ID); err == nil && now.Resolved() {
			if err := s.purgePending(ctx, now); err != nil {
				return n, err
			}
			continue
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return n, err
		}
		n++
	}
	if ctx.Err() != nil {
		return n, ctx.Err()
	}
	cfg := info.Config
	if cfg.Metadata == nil {
		cfg.Metadata = map[string]string{}
	}
	cfg.Metadata[backfilledKey] = time.Now().UTC().Format(time.RFC3339)
	if _, err := s.js.UpdateStream(ctx, cfg); err != nil {
		return n, fmt.Errorf("backfill pending: mark done: %w", err)
	}
	return n, nil
}

// PruneOldestPending looks at the n oldest entries of the pending index and purges those
// older than grace whose request is resolved or has no record: what a creation that crashed
// between the entry and the record (a POST that is never retried) or a lost purge leaves
// behind. They would otherwise count as pending for ever and, at the front of the index,
// hold the oldest-age gauge. One batch of n entries and one multi_last of their records,
// whatever the number pending; entries further in are pruned as they reach the front.
func (s *Store) PruneOldestPending(ctx context.Context, n int, grace time.Duration) (int, error) {
	b, err := s.direct(ctx, streams.PendingStream, directRequest{Seq: 1, Batch: n})
	if err != nil {
		return 0, fmt.Errorf("prune pending index: %w", err)
	}
	var old []directMsg
	for _, m := range b.Msgs {
		if time.Since(m.Time) > grace {
			old = append(old, m)
		}
	}
	if len(old) == 0 {
		return 0, nil
	}
	recs, err := s.currentRequests(ctx, old, nil)
	if err != nil {
		return 0, fmt.Errorf("prune pending index: %w", err)
	}
	pruned := 0
	for i, m := range old {
		if r := recs[i]; r != nil && !r.Resolved() {
			continue
		}
		// The record's absence was read from any replica: confirm it with the leader.
		r, _, err := s.RequestLatest(ctx, idOf(m.Subject))
		if err == nil && !r.Resolved() {
			continue
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return pruned, err
		}
		st, err := s.pendingStream(ctx)
		if err == nil {
			err = st.Purge(ctx, jetstream.WithPurgeSubject(m.Subject))
		}
		if err != nil {
			return pruned, fmt.Errorf("prune pending index: %w", err)
		}
		pruned++
	}
	return pruned, nil
}
