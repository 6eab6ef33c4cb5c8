package main

import (
	"bufio"
	"bytes"
	"fmt"
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
	".env":         true, // secrets by convention; never meant to be served
	projectFile:    true, // may hold vars that are not meant to be public
	ignoreFile:     true,
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
