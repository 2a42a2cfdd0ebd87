package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/streams"
)

// HeaderSenderFinishes is set ("true") on the gate messages Gate publishes: whoever passes
// a response through Gate finishes the request right after (Respond, the Answerer), so the
// orchestrators' backstop does not race it for the request record. It is only a hint: a
// message without it, or whose sender died, is finished by the backstop all the same.
const HeaderSenderFinishes = "Hitl-Sender-Finishes"

var senderFinishes = nats.Header{HeaderSenderFinishes: []string{"true"}}

// Finished reads the resolved event of a request: the request as it was resolved, or
// ErrNotFound while there is none. FinishRequest publishes that event last, after every
// other step of a request's finish, so an event found here means the finish is complete:
// the orchestrators' backstop reads it instead of repeating the winner's finish. The read
// goes to the stream's leader, so an event just published is not missed.
func (s *Store) Finished(ctx context.Context, id string) (*events.Request, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("request %q: %w", id, ErrNotFound)
	}
	data, err := s.lastEvent(ctx, streams.SubjectResolved+id)
	if err != nil {
		return nil, err
	}
	_, r, err := events.DecodeAs[events.Request](data, events.TypeResolved)
	if err != nil {
		return nil, fmt.Errorf("resolved event of request %s: %w", id, err)
	}
	return &r, nil
}

// lastEvent reads the last message on subject of the events stream from the stream's leader
// (the STREAM.MSG.GET API, one round trip, no stream info first); ErrNotFound when the
// subject has none.
func (s *Store) lastEvent(ctx context.Context, subject string) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok { // as JetStream's own calls: an answer may never come
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, leaderGetTimeout)
		defer cancel()
	}
	req, _ := json.Marshal(map[string]string{"last_by_subj": subject})
	msg, err := s.js.Conn().RequestWithContext(ctx, apiPrefix(s.js)+"STREAM.MSG.GET."+streams.Stream, req)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", subject, err)
	}
	var resp struct {
		Message *struct {
			Data []byte `json:"data"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, fmt.Errorf("read %s: %w", subject, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return nil, fmt.Errorf("%s: %w", subject, ErrNotFound)
	case resp.Error != nil:
		return nil, fmt.Errorf("read %s: %w", subject, resp.Error)
	case resp.Message == nil:
		return nil, fmt.Errorf("read %s: empty answer", subject)
	}
	return resp.Message.Data, nil
}

// Resolve records resp, which won its gate, on the request record, as Finish does first, and
// returns the request as resolved (by resp, or by the response recorded before). known,
// read at rev, saves a read. The rest of the finish is left to whoever finishes the request.
func (s *Store) Resolve(ctx context.Context, resp events.Response, known *events.Request, rev uint64) (*events.Request, error) {
	r, _, _, err := s.markResolved(ctx, resp, known, rev)
	return r, err
}
