//go:build !linux

package main

import (
	"errors"
	"io/fs"
	"syscall"
)

func childAttr() *syscall.SysProcAttr { return nil }

func allocated(info fs.FileInfo) int64 { return info.Size() }

// procMemory needs /proc: `bench scale` measures memory on Linux only.
func procMemory(int) (rss, peak int64, err error) {
	return 0, 0, errors.New("process memory is read from /proc, on Linux only")
}
