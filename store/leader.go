package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/events"
)

// get reads key from kv. A KV get is a direct get, which any replica of a replicated bucket
// may answer, so a record written a moment ago (a run just started, a request just created)
// can be missing from a follower that has not applied the write yet. A "not found" is
// therefore confirmed by the stream's leader, which has every acknowledged write: reads see
// one's own writes, and only reads of missing keys pay a second round trip.
func (s *Store) get(ctx context.Context, kv jetstream.KeyValue, key string) ([]byte, uint64, error) {
	e, err := kv.Get(ctx, key)
	if err == nil {
		return e.Value(), e.Revision(), nil
	}
	if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, err
	}
	return s.leaderGet(ctx, kv.Bucket(), key)
}

// leaderGetTimeout bounds a leader read whose context has no deadline: JetStream's default.
const leaderGetTimeout = 5 * time.Second

// leaderGet asks the bucket stream's leader (the STREAM.MSG.GET API, never a direct get) for
// the key's last message.
func (s *Store) leaderGet(ctx context.Context, bucket, key string) ([]byte, uint64, error) {
	if _, ok := ctx.Deadline(); !ok { // as JetStream's own calls: an answer may never come
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, leaderGetTimeout)
		defer cancel()
	}
	req, _ := json.Marshal(map[string]string{"last_by_subj": "$KV." + bucket + "." + key})
	msg, err := s.js.Conn().RequestWithContext(ctx, apiPrefix(s.js)+"STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s from the leader: %w", key, err)
	}
	var resp struct {
		Message *struct {
			Seq  uint64 `json:"seq"`
			Hdrs []byte `json:"hdrs"`
			Data []byte `json:"data"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, 0, fmt.Errorf("read %s from the leader: %w", key, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return nil, 0, jetstream.ErrKeyNotFound
	case resp.Error != nil:
		return nil, 0, fmt.Errorf("read %s from the leader: %w", key, resp.Error)
	case resp.Message == nil:
		return nil, 0, fmt.Errorf("read %s from the leader: empty answer", key)
	}
	if h := string(resp.Message.Hdrs); strings.Contains(h, "KV-Operation: DEL") || strings.Contains(h, "KV-Operation: PURGE") {
		return nil, 0, jetstream.ErrKeyNotFound
	}
	return resp.Message.Data, resp.Message.Seq, nil
}

// RequestLatest is Request read from the stream's leader, never from a replica that may lag:
// for a read that must not be older than a change already announced elsewhere (a long-poll
// reads after it registers for changes; what it reads is what the changes start from).
func (s *Store) RequestLatest(ctx context.Context, id string) (*events.Request, uint64, error) {
	if !ValidID(id) {
		return nil, 0, fmt.Errorf("request %q: %w", id, ErrNotFound)
	}
	return decode[events.Request]("request", id)(s.leaderGet(ctx, s.b.Requests.Bucket(), id))
}

// RunLatest is Run read from the stream's leader; see RequestLatest.
func (s *Store) RunLatest(ctx context.Context, id string) (*Run, uint64, error) {
	if !ValidID(id) {
		return nil, 0, fmt.Errorf("run %q: %w", id, ErrNotFound)
	}
	return decode[Run]("run", id)(s.leaderGet(ctx, s.b.Runs.Bucket(), id))
}

// decode turns a read record into a T: what names the record in errors ("run", "request"),
// a missing key is ErrNotFound.
func decode[T any](what, id string) func(value []byte, rev uint64, err error) (*T, uint64, error) {
	return func(value []byte, rev uint64, err error) (*T, uint64, error) {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, 0, fmt.Errorf("%s %s: %w", what, id, ErrNotFound)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read %s %s: %w", what, id, err)
		}
		var v T
		if err := json.Unmarshal(value, &v); err != nil {
			return nil, 0, fmt.Errorf("decode %s %s: %w", what, id, err)
		}
		return &v, rev, nil
	}
}
