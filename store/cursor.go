package store

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// A cursor is where a listing goes on from: the stream position and a hash of the query it
// belongs to (filters and order, not the limit), so that a cursor is not silently applied to
// another query, whose stream or order it may not fit. It is opaque to clients:
// base64url (no padding) of a version byte, the position (8 bytes, big-endian) and the
// first 8 bytes of the query's SHA-256.
const (
	cursorVersion = 1
	cursorLen     = 1 + 8 + 8
)

// ErrBadQuery: a listing's query is invalid (a *QueryError says which field and why).
var ErrBadQuery = errors.New("invalid listing query")

// QueryError is an invalid field of a listing query.
type QueryError struct {
	Field, Message string
}

func (e *QueryError) Error() string { return e.Field + ": " + e.Message }

// Is makes every QueryError match ErrBadQuery.
func (e *QueryError) Is(target error) bool { return target == ErrBadQuery }

// queryHash identifies a query by its parts, each length-prefixed so that no two queries
// share a spelling.
func queryHash(parts ...string) [8]byte {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%d:%s;", len(p), p)
	}
	sum := sha256.Sum256([]byte(b.String()))
	var h [8]byte
	copy(h[:], sum[:8])
	return h
}

func encodeCursor(pos uint64, h [8]byte) string {
	var b [cursorLen]byte
	b[0] = cursorVersion
	binary.BigEndian.PutUint64(b[1:9], pos)
	copy(b[9:], h[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// decodeCursor returns the position of a cursor made for the query hashed h. An empty
// cursor is the start (0). Anything else that is not such a cursor is a *QueryError.
func decodeCursor(c string, h [8]byte) (uint64, error) {
	if c == "" {
		return 0, nil
	}
	bad := func(msg string) error { return &QueryError{Field: "cursor", Message: msg} }
	if len(c) > 64 {
		return 0, bad("is not a cursor of this listing")
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(c)
	if err != nil || len(b) != cursorLen || b[0] != cursorVersion || strings.ContainsAny(c, "\r\n") {
		return 0, bad("is not a cursor of this listing")
	}
	pos := binary.BigEndian.Uint64(b[1:9])
	if pos == 0 {
		return 0, bad("is not a cursor of this listing")
	}
	if [8]byte(b[9:]) != h {
		return 0, bad("belongs to a listing with other filters or another order: start again without it")
	}
	return pos, nil
}
