// Package datadir owns the data directory's lock: one `pier serve` at a
// time uses a data directory, so that what it finds there at start-up
// from before it started (spool files and temporary blob files of
// unfinished uploads) belongs to no live process and can be removed.
// Only cmd/pier imports it.
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// LockFile is the lock's file name inside the data directory.
const LockFile = "pier.lock"

// ErrLocked is returned by Lock when another process holds the lock.
var ErrLocked = errors.New("another pier process is using this data directory")

// Lock takes the data directory's lock for as long as the process runs
// (the kernel releases it when the process exits, however it exits) or
// until release is called. It fails with ErrLocked when another process
// holds it.
func Lock(dir string) (release func() error, err error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("datadir: opening %s: %w", path, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("datadir: %s: %w", dir, err)
		}
		return nil, fmt.Errorf("datadir: locking %s: %w", path, err)
	}
	return f.Close, nil
}
