// Package idempotency implements the Idempotency-Key header (IETF httpapi
// draft-ietf-httpapi-idempotency-key-header) for the creating endpoints: POST /v1/runs,
// POST /v1/requests and POST /start_job.
//
// A key is remembered in the hitl_idempotency bucket for streams.IdempotencyTTL (24 h),
// scoped to the endpoint and the caller (a hash of the bearer token), with the fingerprint
// of the body it came with. The id of the resource is derived from the scope, the key and
// the fingerprint, so the creation itself is idempotent: a retry after a crash between
// recording the key and creating the resource, or a concurrent duplicate, creates the very
// same resource again (which the store's create calls accept as a no-op) and never a second.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	// Header is the request header that carries the key.
	Header = "Idempotency-Key"
	// ReplayedHeader is set to "true" on an answer that returns a resource an earlier call
	// with the same key created (or began to create).
	ReplayedHeader = "Idempotent-Replayed"
	// MaxKeyLen caps a key, in bytes.
	MaxKeyLen = 255
)

var (
	// ErrInvalidKey: the header is repeated, empty, too long, or has characters outside
	// visible ASCII.
	ErrInvalidKey = errors.New("invalid Idempotency-Key")
	// ErrKeyReused: the key was used by this caller on this endpoint with a different body.
	ErrKeyReused = errors.New("the Idempotency-Key was used with a different body")
	// ErrInFlight: the key is recorded but its record could not be read back yet (a replica
	// that has not applied a concurrent first call's write). The draft's answer: 409, retry.
	ErrInFlight = errors.New("a request with this Idempotency-Key is in progress")
)

// FromRequest returns the request's key, "" when it has none. The draft's form is a
// structured-field string ("abc"); a bare token (abc) is accepted too, as most clients send
// it. Either way the key is 1 to MaxKeyLen visible ASCII characters.
func FromRequest(r *http.Request) (string, error) {
	vs := r.Header.Values(Header)
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", fmt.Errorf("%w: the header is given %d times", ErrInvalidKey, len(vs))
	}
	k := strings.TrimSpace(vs[0])
	if len(k) >= 2 && k[0] == '"' && k[len(k)-1] == '"' {
		k = k[1 : len(k)-1]
	}
	if k == "" {
		return "", fmt.Errorf("%w: it is empty", ErrInvalidKey)
	}
	if len(k) > MaxKeyLen {
		return "", fmt.Errorf("%w: it is longer than %d bytes", ErrInvalidKey, MaxKeyLen)
	}
	for i := range len(k) {
		if c := k[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return "", fmt.Errorf("%w: only visible ASCII characters, without quotes or backslashes, are allowed", ErrInvalidKey)
		}
	}
	return k, nil
}

// Scope names the caller a key belongs to: a hash of the bearer token, so that two tokens'
// keys never collide, or "anonymous" without one (`hitl dev`). The request must have been
// authenticated already.
func Scope(r *http.Request) string {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return "anonymous"
	}
	h := sha256.Sum256([]byte("hitl-idempotency-scope\x00" + tok))
	return "token:" + hex.EncodeToString(h[:16])
}

// record is what the bucket keeps per key.
type record struct {
	Endpoint    string    `json:"endpoint"`
	Fingerprint string    `json:"fingerprint"` // hex SHA-256 of the decoded body, re-encoded
	ID          string    `json:"id"`          // of the run or request created for the key
	At          time.Time `json:"at"`
}

// namespace of the derived resource ids (a UUIDv5 namespace of our own).
var namespace = uuid.MustParse("6f1d7c2a-8a43-4a8e-9a59-5c3e3c0b7e21")

// Claim records the key and returns the id of the resource to create for it. replayed is
// true when the key was recorded before with the same body: the caller creates (or finds)
// the same resource again, which is a no-op when it exists. body is the decoded request
// body; its JSON encoding, keys sorted, is the fingerprint, so whitespace and key order do
// not matter.
// A different body with the key is ErrKeyReused. Other errors are JetStream's.
func Claim(ctx context.Context, kv jetstream.KeyValue, endpoint, scope, key string, body any) (id string, replayed bool, err error) {
	enc, err := canonical(body)
	if err != nil {
		return "", false, fmt.Errorf("fingerprint body: %w", err)
	}
	sum := sha256.Sum256(enc)
	fp := hex.EncodeToString(sum[:])
	scoped := endpoint + "\x00" + scope + "\x00" + key
	// The fingerprint is part of the id: once the key has expired, the same key with another
	// body makes a new resource rather than finding the old one.
	id = uuid.NewSHA1(namespace, []byte(scoped+"\x00"+fp)).String()
	kh := sha256.Sum256([]byte(scoped))
	k := hex.EncodeToString(kh[:])
	rec, _ := json.Marshal(record{Endpoint: endpoint, Fingerprint: fp, ID: id, At: time.Now().UTC()})
	for attempt := 0; ; attempt++ {
		if _, err = kv.Create(ctx, k, rec); err == nil {
			return id, false, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return "", false, fmt.Errorf("record %s: %w", Header, err)
		}
		e, err := readBack(ctx, kv, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			if attempt < 2 {
				continue // expired between the two calls: record it anew
			}
			return "", false, ErrInFlight
		}
		if err != nil {
			return "", false, fmt.Errorf("read %s: %w", Header, err)
		}
		var had record
		if err := json.Unmarshal(e.Value(), &had); err != nil {
			return "", false, fmt.Errorf("decode %s record: %w", Header, err)
		}
		if had.Fingerprint != fp {
			return "", false, ErrKeyReused
		}
		return had.ID, true, nil
	}
}

// readBack reads a record that Create just said exists. A KV get may be answered by a
// replica that has not applied the write yet, so "not found" is retried for a moment
// (about 1 s in all) before it is believed.
func readBack(ctx context.Context, kv jetstream.KeyValue, k string) (jetstream.KeyValueEntry, error) {
	wait := 20 * time.Millisecond
	for {
		e, err := kv.Get(ctx, k)
		if !errors.Is(err, jetstream.ErrKeyNotFound) || wait > 400*time.Millisecond {
			return e, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// canonical is body's JSON with every object's keys sorted, nested raw JSON included, and
// numbers as written.
func canonical(body any) ([]byte, error) {
	enc, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(enc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}
