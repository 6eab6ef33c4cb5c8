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
// and every other byte itself. It never allocates and runs in time linear
// in len(s) for a given pattern, whatever the pattern: patterns come from
// tenants and paths from anonymous visitors, so matching must never
// backtrack. With "*" as the only wildcard, matching the literal chunks
// between stars leftmost-first is exact: the first chunk is a prefix, the
// last a suffix, and each middle chunk at its leftmost occurrence after
// the previous one leaves the most room for the rest. Each strings.Index
// starts where the previous match ended, so s is scanned once per chunk
// length at most.
func globMatch(pattern, s string) bool {
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return pattern == s
	}
	if !strings.HasPrefix(s, pattern[:star]) {
		return false
	}
	s = s[star:]
	last := strings.LastIndexByte(pattern, '*')
	suffix := pattern[last+1:]
	if len(s) < len(suffix) || !strings.HasSuffix(s, suffix) {
		return false
	}
	s = s[:len(s)-len(suffix)]
	for mid := pattern[star+1 : last+1]; mid != ""; {
		i := strings.IndexByte(mid, '*')
		chunk := mid[:i]
		mid = mid[i+1:]
		if chunk == "" {
			continue
		}
		j := strings.Index(s, chunk)
		if j < 0 {
			return false
		}
		s = s[j+len(chunk):]
	}
	return true
}
