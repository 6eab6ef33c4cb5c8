package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// ignoreFile is the name of the file listing what a deploy leaves out.
const ignoreFile = ".assetsignore"

// alwaysIgnored are names a deploy never uploads, at any depth.
var alwaysIgnored = map[string]bool{
	".git":         true,
	".hg":          true,
	".svn":         true,
	"node_modules": true,
	".DS_Store":    true,
	projectFile:    true, // may hold vars that are not meant to be public
	ignoreFile:     true,
}

// secretNames are names (path.Match patterns, lower case, at any depth) a
// deploy never publishes, whatever .assetsignore says, with the reason it
// reports for skipping them. The list aims at files that are secret
// whatever project they are in; a file that is not secret but matches can
// be renamed.
var secretNames = []struct{ pattern, why string }{
	{".env", "an environment file, secret by convention"},
	{".env.*", "an environment file, secret by convention"},
	{"*.token", "a token file"},
	{".netrc", "a credentials file"},
	{".npmrc", "may hold a registry token"},
	{".pgpass", "a credentials file"},
	{".htpasswd", "a password file"},
	{"id_rsa", "a private key"},
	{"id_dsa", "a private key"},
	{"id_ecdsa", "a private key"},
	{"id_ed25519", "a private key"},
	{"*.pem", "a key or certificate file"},
	{"*.key", "a private key"},
	{"*.p12", "a key store"},
	{"*.pfx", "a key store"},
	{".ssh", "a directory of keys"},
	{".aws", "a directory of credentials"},
	{".gnupg", "a directory of keys"},
}

// dataDirMarkers are files of a Pier server's data directory (pier serve
// --data): a directory holding one is never published, nor is anything in
// it.
var dataDirMarkers = []string{"pier.db", "admin.token"}

// dataDirReason is the reason reported for a skipped data directory.
const dataDirReason = "a Pier server's data directory: it holds pier.db or admin.token"

// secretReason says why a file or directory with this name must never be
// published, or "" when nothing in its name says so. Names are compared
// ignoring case, as macOS and Windows file systems do: ADMIN.TOKEN is the
// same file as admin.token there.
func secretReason(name string) string {
	name = strings.ToLower(name)
	for _, s := range secretNames {
		if ok, _ := path.Match(s.pattern, name); ok {
			return s.why
		}
	}
	return ""
}

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

// ignoreRules is a parsed .assetsignore, with gitignore's syntax:
//
//   - blank lines and lines starting with # are skipped;
//   - a leading ! re-includes what an earlier pattern excluded;
//   - a trailing / matches only directories;
//   - a pattern with a / at its start or middle is anchored at the asset
//     directory, one without matches a name at any depth;
//   - * and ? match within one path segment, [a-z] a character class,
//     and ** any number of whole segments ("**/x", "x/**", "a/**/b").
//
// As in git, the last matching pattern wins, and a file inside an excluded
// directory cannot be re-included (the directory is not walked).
type ignoreRules []ignoreRule

type ignoreRule struct {
	negate  bool
	dirOnly bool
	segs    []string // pattern split on "/", "**" kept as a segment
	line    int
}

// parseIgnore parses the contents of an .assetsignore file.
func parseIgnore(data []byte) (ignoreRules, error) {
	var rules ignoreRules
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := ignoreRule{line: n}
		if strings.HasPrefix(line, "!") {
			r.negate = true
			line = line[1:]
		} else if strings.HasPrefix(line, `\`) {
			line = line[1:] // "\#file" or "\!file"
		}
		if strings.HasSuffix(line, "/") {
			r.dirOnly = true
			line = strings.TrimRight(line, "/")
		}
		anchored := strings.Contains(line, "/")
		line = strings.TrimPrefix(line, "/")
		if line == "" {
			continue
		}
		r.segs = strings.Split(line, "/")
		if !anchored && r.segs[0] != "**" {
			r.segs = append([]string{"**"}, r.segs...)
		}
		for _, s := range r.segs {
			if s == "**" {
				continue
			}
			if _, err := path.Match(s, ""); err != nil {
				return nil, fmt.Errorf("%s: line %d: bad pattern %q", ignoreFile, n, sc.Text())
			}
		}
		rules = append(rules, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", ignoreFile, err)
	}
	return rules, nil
}

// ignored reports whether rel (slash-separated, relative to the asset
// directory, no leading slash) is excluded.
func (rs ignoreRules) ignored(rel string, isDir bool) bool {
	segs := strings.Split(rel, "/")
	out := false
	for _, r := range rs {
		if r.dirOnly && !isDir {
			continue
		}
		if matchSegs(r.segs, segs) {
			out = !r.negate
		}
	}
	return out
}

// matchSegs matches path segments against pattern segments where "**"
// stands for zero or more segments (one or more when it ends the pattern,
// so "dir/**" matches what is inside dir but not dir itself).
func matchSegs(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			if len(rest) == 0 {
				return len(name) > 0
			}
			for i := 0; i <= len(name); i++ {
				if matchSegs(rest, name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}
