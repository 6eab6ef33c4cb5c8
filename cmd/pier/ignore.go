package main

import (
	"io/fs"
	"strings"

	"github.com/pierhq/pier/internal/project"
)

// ignoreFile is the name of the file listing what a deploy leaves out.
const ignoreFile = project.IgnoreFile

// dataDirMarkers are files of a Pier server's data directory (pier serve
// --data): a directory holding one is never published, nor is anything in
// it.
var dataDirMarkers = []string{"pier.db", "admin.token"}

// dataDirReason is the reason reported for a skipped data directory.
const dataDirReason = "a Pier server's data directory: it holds pier.db or admin.token"

// dataDirMarker returns the name among names, a directory's entries, that
// makes it a Pier server's data directory (one of dataDirMarkers, compared
// ignoring case), or "".
func dataDirMarker(names []string) string {
	for _, m := range dataDirMarkers {
		for _, n := range names {
			if strings.EqualFold(n, m) {
				return n
			}
		}
	}
	return ""
}

// probeDataDir returns the name that makes a directory a data directory,
// or "": dataDirMarker of what list returns or, when the directory cannot
// be listed (search permission only), the first of dataDirMarkers lstat
// finds under its exact name.
func probeDataDir(list func() ([]string, error), lstat func(name string) error) string {
	if names, err := list(); err == nil {
		return dataDirMarker(names)
	}
	for _, m := range dataDirMarkers {
		if lstat(m) == nil {
			return m
		}
	}
	return ""
}

func entryNames(entries []fs.DirEntry) []string {
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}

// skippedFile is a file or directory a deploy left out because it looks
// secret. Path is a manifest path; a directory's ends in "/".
type skippedFile struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}
