package assets

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// Default manifest limits, used when a Limits field is zero.
const (
	DefaultMaxFiles    = 100_000
	DefaultMaxFileSize = 25 << 20 // 25 MiB
	// MaxPathLen is the longest manifest path, in bytes.
	MaxPathLen = 1024
)

// Manifest error codes, stable and snake_case: the admin API reports them
// as the error "code".
const (
	CodePathInvalid  = "path_invalid"
	CodeFileTooLarge = "file_too_large"
	CodeTooManyFiles = "too_many_files"
	CodeHashInvalid  = "hash_invalid"
	CodeSizeInvalid  = "size_invalid"
)

// ErrInvalidManifest is wrapped by every *ManifestError, so callers may
// test errors.Is(err, ErrInvalidManifest) before looking at the details.
var ErrInvalidManifest = errors.New("assets: invalid manifest")

// Limits bound a deployment's manifest. A zero field means the default.
type Limits struct {
	MaxFiles    int   // files per deployment; 0 = DefaultMaxFiles
	MaxFileSize int64 // bytes per file; 0 = DefaultMaxFileSize
}

func (l Limits) maxFiles() int {
	if l.MaxFiles <= 0 {
		return DefaultMaxFiles
	}
	return l.MaxFiles
}

func (l Limits) maxFileSize() int64 {
	if l.MaxFileSize <= 0 {
		return DefaultMaxFileSize
	}
	return l.MaxFileSize
}

// ManifestError says what is wrong with a manifest. Msg is safe to show
// the client (it names the path and the limit); Error adds the package
// prefix.
type ManifestError struct {
	Code  string // one of the Code* constants
	Path  string // the offending path; empty for too_many_files
	Limit int64  // the limit exceeded, when one was
	Msg   string // human readable, user-safe
}

func (e *ManifestError) Error() string { return "assets: " + e.Msg }

// Unwrap returns ErrInvalidManifest.
func (e *ManifestError) Unwrap() error { return ErrInvalidManifest }

// Validate checks m against l and the path rules of ValidatePath. It
// returns nil or a *ManifestError. The result is deterministic: with
// several bad entries it reports the lexically first bad path (and
// too_many_files before any path).
func (m Manifest) Validate(l Limits) error {
	if n := len(m); n > l.maxFiles() {
		return &ManifestError{
			Code:  CodeTooManyFiles,
			Limit: int64(l.maxFiles()),
			Msg:   fmt.Sprintf("manifest has %d files, more than the limit of %d", n, l.maxFiles()),
		}
	}
	maxSize := l.maxFileSize()
	var first *ManifestError
	for p, e := range m {
		if first != nil && p >= first.Path {
			continue // only the lexically first bad path is reported
		}
		if err := validateEntry(p, e, maxSize); err != nil {
			first = err
		}
	}
	if first == nil {
		return nil
	}
	return first
}

func validateEntry(p string, e Entry, maxSize int64) *ManifestError {
	if err := validatePath(p); err != nil {
		return err
	}
	switch {
	case !ValidHash(e.Hash):
		return &ManifestError{Code: CodeHashInvalid, Path: p,
			Msg: fmt.Sprintf("manifest path %q has an invalid hash %q (want %d lowercase hex characters)", p, e.Hash, HashLen)}
	case e.Size < 0:
		return &ManifestError{Code: CodeSizeInvalid, Path: p,
			Msg: fmt.Sprintf("manifest path %q has a negative size %d", p, e.Size)}
	case e.Size > maxSize:
		return &ManifestError{Code: CodeFileTooLarge, Path: p, Limit: maxSize,
			Msg: fmt.Sprintf("manifest path %q is %d bytes, larger than the limit of %d bytes", p, e.Size, maxSize)}
	}
	return nil
}

// ValidatePath checks one manifest path: non-empty, at most MaxPathLen
// bytes, valid UTF-8, absolute, clean (as path.Clean), no "." or ".."
// segment, no empty segment ("//"), no trailing slash, no backslash, no
// NUL, control character or DEL. It returns nil or a *ManifestError with
// code path_invalid.
func ValidatePath(p string) error {
	if err := validatePath(p); err != nil {
		return err
	}
	return nil
}

func validatePath(p string) *ManifestError {
	bad := func(limit int64, format string, args ...any) *ManifestError {
		return &ManifestError{Code: CodePathInvalid, Path: p, Limit: limit,
			Msg: fmt.Sprintf("manifest path %q ", p) + fmt.Sprintf(format, args...)}
	}
	switch {
	case p == "":
		return bad(0, "is empty")
	case len(p) > MaxPathLen:
		return bad(MaxPathLen, "is %d bytes, longer than the limit of %d bytes", len(p), MaxPathLen)
	case !utf8.ValidString(p):
		return bad(0, "is not valid UTF-8")
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c < 0x20 || c == 0x7f:
			return bad(0, "contains the control character %#02x at byte %d", c, i)
		case c == '\\':
			return bad(0, "contains a backslash")
		}
	}
	switch {
	case p[0] != '/':
		return bad(0, "is not absolute (must start with /)")
	case p == "/" || strings.HasSuffix(p, "/"):
		return bad(0, "ends with a slash (must name a file)")
	case strings.Contains(p, "//"):
		return bad(0, "contains an empty segment (//)")
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == ".." || seg == "." {
			return bad(0, "contains a %q segment", seg)
		}
	}
	if path.Clean(p) != p {
		return bad(0, "is not clean")
	}
	return nil
}
