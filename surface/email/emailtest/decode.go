package emailtest

import (
	"encoding/base64"
	"io"
	"mime/quotedprintable"
)

func newQP(r io.Reader) io.Reader { return quotedprintable.NewReader(r) }

// newB64 decodes base64 broken into lines (the decoder skips \r and \n itself).
func newB64(r io.Reader) io.Reader { return base64.NewDecoder(base64.StdEncoding, r) }
