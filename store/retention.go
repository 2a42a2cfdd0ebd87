package store

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/streams"
)

// ErrPurged: the request or run existed, finished, and was removed when its retention
// passed. It matches ErrNotFound too, so that code that only knows "not found" treats it so;
// the answer paths check it first and answer 410 Gone. It is told apart from a request that
// never existed by the marker the server leaves on the record's subject, for
// streams.TombstoneTTL; after that a purged id is ErrNotFound alone.
var ErrPurged = fmt.Errorf("removed after its retention: %w", ErrNotFound)

// Retention is how long finished requests and runs are kept when they do not say:
// streams.DefaultRetention unless set with SetRetention.
func (s *Store) Retention() time.Duration {
	if s.retention > 0 {
		return s.retention
	}
	return streams.DefaultRetention
}

// SetRetention sets Retention (HITL_RETENTION); zero restores the default. Call it before
// the store is used: it is not synchronised.
func (s *Store) SetRetention(d time.Duration) { s.retention = d }

// retentionOf is the time to live of a finished record or event: its own retention (a
// request's or run's override, filled in at creation) or the store's, in whole seconds.
func (s *Store) retentionOf(own events.Duration) time.Duration {
	if own > 0 {
		return timerTTL(time.Duration(own)) // rounds up to whole seconds
	}
	return timerTTL(s.Retention())
}

// RetentionOf is the time to live of what a resolved request leaves behind (its record, its
// events, its delivery records).
func (s *Store) RetentionOf(r *events.Request) time.Duration { return s.retentionOf(r.Retention) }

// updateTTL is a KV Update that also gives the record a time to live: the KV API's Update
// takes no TTL, so it is the same publish done by hand, to the key's subject with
// Nats-Expected-Last-Subject-Sequence. Its errors are those of Update: a changed record is
// a wrong-last-sequence API error (isWrongLastSequence).
func (s *Store) updateTTL(ctx context.Context, kv jetstream.KeyValue, key string, body []byte, rev uint64, ttl time.Duration) (uint64, error) {
	ack, err := s.js.Publish(ctx, "$KV."+kv.Bucket()+"."+key, body,
		jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(ttl))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// tombstoneTTL is how long a timer's purge marker stays: a marker that expires leaves no
// other, so a disarmed timer leaves nothing durable behind. A second is the least JetStream
// allows.
const tombstoneTTL = time.Second

// disarmTimer removes a request's timer so that it leaves nothing durable: a purge whose
// marker has a TTL (a delete's marker would stay forever). The purge marker is not a MaxAge
// marker, so the timer consumer does not take it for an expiry.
func (s *Store) disarmTimer(ctx context.Context, id string) error {
	return s.b.Timers.Purge(ctx, id, jetstream.PurgeTTL(tombstoneTTL))
}

// RunOption sets something of a run at its start (StartRun, StartRunID).
type RunOption func(*Run)

// WithRetention keeps the run, once finished, for d instead of the store's Retention; the
// requests it asks without a retention of their own inherit it.
func WithRetention(d time.Duration) RunOption {
	return func(r *Run) { r.Retention = events.Duration(d) }
}
