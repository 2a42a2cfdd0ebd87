package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Batch direct gets: one request on core NATS ($JS.API.DIRECT.GET.<stream>) answered by a
// run of messages on an inbox, ended by a "204 EOB" status message. They read a page of a
// stream by subject filter, from a sequence or a time, or the last message of many subjects
// at once (multi_last), without creating a consumer: the cost is one round trip and the
// messages returned. Any replica of a stream with AllowDirect may answer, so a batch can lag
// the leader by what it has not applied yet; listings accept that (docs/design.md, Listing).

// Limits of the server's direct get (nats-server stream.go, getDirectMulti).
const (
	// MaxMultiLast is how many messages one multi_last batch may match; past it the server
	// answers 413 and returns nothing.
	MaxMultiLast = 1024
)

// directMaxBytes caps one batch's payload (the server's own default is its MaxPending,
// 64 MiB): a batch stops after the message that reaches it. A variable for tests.
var directMaxBytes = 8 << 20

// Headers of direct get answers (the server's; nats.go keeps its own copies unexported).
const (
	hdrStatus      = "Status"
	hdrDescription = "Description"
	hdrNumPending  = "Nats-Num-Pending"
)

// directRequest is the body of a direct get (JSApiMsgGetRequest).
type directRequest struct {
	Seq        uint64     `json:"seq,omitempty"`
	NextBySubj string     `json:"next_by_subj,omitempty"`
	Batch      int        `json:"batch,omitempty"`
	MaxBytes   int        `json:"max_bytes,omitempty"`
	StartTime  *time.Time `json:"start_time,omitempty"`
	MultiLast  []string   `json:"multi_last,omitempty"`
	UpToSeq    uint64     `json:"up_to_seq,omitempty"`
}

// directMsg is one message of a batch.
type directMsg struct {
	Subject string
	Seq     uint64
	Time    time.Time
	Header  nats.Header
	Data    []byte
}

// deleted reports whether a KV message is a delete or purge marker, or the marker the
// server leaves when a key's TTL ran out.
func (m *directMsg) deleted() bool {
	op := m.Header.Get("KV-Operation")
	return op == "DEL" || op == "PURGE" || m.Header.Get(jetstream.MarkerReasonHeader) != ""
}

// directBatch is what one batch returned.
type directBatch struct {
	Msgs []directMsg
	// NumPending is how many messages matching the filter follow the last one returned, as
	// the server counted them (its EOB header); 0 at the end of the stream.
	NumPending uint64
}

// errDirectStatus is a status the server answered a direct get with, other than a message,
// EOB or "no results".
type errDirectStatus struct {
	Code, Description string
}

func (e *errDirectStatus) Error() string {
	return fmt.Sprintf("direct get: status %s %s", e.Code, e.Description)
}

// apiPrefix is the JetStream API prefix js sends its requests to: APIPrefix if set, the
// domain's, or $JS.API.
func apiPrefix(js jetstream.JetStream) string {
	o := js.Options()
	switch {
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "."
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	}
	return jetstream.DefaultAPIPrefix
}

// directTimeout bounds a batch whose context has no deadline: JetStream's default.
const directTimeout = 5 * time.Second

// direct sends one direct get to stream and collects its answer. A batch that matches
// nothing returns no messages and no error; a stream without AllowDirect has nobody
// listening, which is nats.ErrNoResponders.
func (s *Store) direct(ctx context.Context, stream string, req directRequest) (directBatch, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, directTimeout)
		defer cancel()
	}
	if req.MaxBytes <= 0 {
		req.MaxBytes = directMaxBytes
	}
	body, err := json.Marshal(req)
	if err != nil {
		return directBatch{}, err
	}
	nc := s.js.Conn()
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return directBatch{}, fmt.Errorf("direct get %s: %w", stream, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(apiPrefix(s.js)+"DIRECT.GET."+stream, inbox, body); err != nil {
		return directBatch{}, fmt.Errorf("direct get %s: %w", stream, err)
	}
	var out directBatch
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return directBatch{}, fmt.Errorf("direct get %s: %w", stream, err)
		}
		status := m.Header.Get(hdrStatus)
		switch status {
		case "":
		case "204": // EOB
			out.NumPending, _ = strconv.ParseUint(m.Header.Get(hdrNumPending), 10, 64)
			return out, nil
		case "404": // nothing matches
			return out, nil
		case "503":
			return directBatch{}, fmt.Errorf("direct get %s (is AllowDirect on?): %w", stream, nats.ErrNoResponders)
		default:
			return directBatch{}, fmt.Errorf("%s: %w", stream, &errDirectStatus{Code: status, Description: m.Header.Get(hdrDescription)})
		}
		dm := directMsg{Subject: m.Header.Get(jetstream.SubjectHeader), Header: m.Header, Data: m.Data}
		dm.Seq, err = strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil || dm.Subject == "" {
			return directBatch{}, fmt.Errorf("direct get %s: a message without subject or sequence", stream)
		}
		dm.Time, _ = time.Parse(time.RFC3339Nano, m.Header.Get(jetstream.TimeStampHeaer))
		out.Msgs = append(out.Msgs, dm)
		if req.Batch == 0 && len(req.MultiLast) == 0 {
			return out, nil // a single get has no EOB
		}
	}
}

// isDirectStatus reports whether err is the server refusing a direct get with code.
func isDirectStatus(err error, code string) bool {
	var ds *errDirectStatus
	return errors.As(err, &ds) && ds.Code == code
}
