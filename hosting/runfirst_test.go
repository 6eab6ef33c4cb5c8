package hosting

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// backtrackGlob is the straightforward backtracking matcher globMatch
// replaced (O(len(pattern)·len(s)) per call): the reference it must agree
// with.
func backtrackGlob(pattern, s string) bool {
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

func TestGlobMatchAgreesWithBacktracking(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	word := func(alphabet string, n int) string {
		b := make([]byte, r.IntN(n+1))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 200_000 {
		p, s := word("ab/*", 8), word("ab/", 12)
		if got, want := globMatch(p, s), backtrackGlob(p, s); got != want {
			t.Fatalf("globMatch(%q, %q) = %v, want %v", p, s, got, want)
		}
	}
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"/api/*", "/api/", true}, {"/api/*", "/api", false}, {"*", "", true}, {"", "", true},
		{"a*a", "a", false}, {"a*a", "aa", true}, {"/*.js", "/x.js", true}, {"**", "x", true},
		{"/a*b*c", "/aXbYc", true}, {"/a*b*c", "/aXcYb", false},
	} {
		if got := globMatch(c.p, c.s); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}

// adversarialRunFirst is the attack of issue 11: 64 patterns of many
// stars that almost match, against a 16,000-byte path.
func adversarialRunFirst() (*runFirst, string) {
	return adversarialRunFirstN(16_000)
}

func adversarialRunFirstN(n int) (*runFirst, string) {
	var patterns []string
	for i := range 64 {
		patterns = append(patterns, "/"+strings.Repeat("*a", 60)+"*"+strings.Repeat("a", 30)+string(rune('b'+i%20))+"*")
	}
	return newRunFirst(patterns), "/" + strings.Repeat("a", n)
}

// TestRunFirstAdversarialScalesLinearly: ten times the path costs about
// ten times the time against the adversarial patterns (the backtracking
// matcher cost about a hundred times). Best of several runs, compared as a
// ratio with a wide margin, never as an absolute time.
func TestRunFirstAdversarialScalesLinearly(t *testing.T) {
	run := func(n int) time.Duration {
		rf, path := adversarialRunFirstN(n)
		best := time.Duration(1 << 62)
		for range 7 {
			start := time.Now()
			for range 5 {
				if rf.match(path) {
					t.Fatal("matched")
				}
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	short, long := run(2_000), run(20_000)
	t.Logf("2,000-byte path: %v, 20,000-byte path: %v (×%.1f) for 5 requests", short, long, float64(long)/float64(short))
	if long > 40*short {
		t.Errorf("a 10× longer path took %.0f× the time: matching is not linear in the path", float64(long)/float64(short))
	}
}

// BenchmarkRunFirstAdversarial: one request's run_worker_first check
// against the adversarial patterns (the backtracking matcher took ≈ 0.26 s
// of CPU per request); BenchmarkRunFirstTypical the common case.
func BenchmarkRunFirstAdversarial(b *testing.B) {
	rf, path := adversarialRunFirst()
	for b.Loop() {
		if rf.match(path) {
			b.Fatal("matched")
		}
	}
}

// BenchmarkRunFirstAdversarialBacktracking is the same check with the
// backtracking matcher, the baseline of the same run.
func BenchmarkRunFirstAdversarialBacktracking(b *testing.B) {
	rf, path := adversarialRunFirst()
	for b.Loop() {
		for _, q := range rf.include {
			if backtrackGlob(q, path) {
				b.Fatal("matched")
			}
		}
	}
}

func BenchmarkRunFirstTypical(b *testing.B) {
	rf := newRunFirst([]string{"/api/*", "!/api/static/*", "/auth/*"})
	for b.Loop() {
		rf.match("/api/v1/users/42")
	}
}
