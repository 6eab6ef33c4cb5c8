//go:build !unix

package datadir

import "os"

// lockFile does not lock where flock is missing: start-up then removes
// only debris older than an hour.
func lockFile(*os.File) error { return nil }
