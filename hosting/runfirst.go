package hosting

import "strings"

// runFirst is a deployment's compiled run_worker_first: the request paths
// the worker answers before any static asset or _redirects rule.
//
// Encoding (tenants.DeploymentConfig.RunWorkerFirst): a list of path
// patterns in Cloudflare's syntax. A pattern starts with "/" and matches
// the decoded request path; "*" matches any run of characters, "/"
// included ("/api/*" matches /api/ and /api/v1/users but not /api). A
// pattern starting with "!" excludes the paths it matches and wins over
// every positive pattern ("!/api/static/*"). pier.toml's
// run_worker_first = true is stored as ["/*"]; false or absent as an empty
// list.
type runFirst struct {
	include []string
	exclude []string
}

// newRunFirst compiles patterns; it returns nil when no path can match.
func newRunFirst(patterns []string) *runFirst {
	rf := &runFirst{}
	for _, p := range patterns {
		if q, ok := strings.CutPrefix(p, "!"); ok {
			rf.exclude = append(rf.exclude, q)
		} else if p != "" {
			rf.include = append(rf.include, p)
		}
	}
	if len(rf.include) == 0 {
		return nil
	}
	return rf
}

// match reports whether the worker runs first for decoded path p.
func (rf *runFirst) match(p string) bool {
	if rf == nil {
		return false
	}
	for _, q := range rf.exclude {
		if globMatch(q, p) {
			return false
		}
	}
	for _, q := range rf.include {
		if globMatch(q, p) {
			return true
		}
	}
	return false
}

// globMatch matches s against pattern, where "*" matches any run of bytes
// and every other byte itself. It runs in O(len(pattern)·len(s)) at worst
// and never allocates.
func globMatch(pattern, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(pattern) && pattern[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(pattern) && pattern[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}
