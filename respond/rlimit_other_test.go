//go:build !unix

package respond_test

import "testing"

// raiseFileLimit: other systems have no such soft limit to raise.
func raiseFileLimit(*testing.T, uint64) {}
