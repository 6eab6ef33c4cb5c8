package siterules

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// patternRegexp translates a compiled pattern into an anchored regular
// expression for Go's regexp package, whose RE2 engine runs in time linear
// in its input: a placeholder is a non-empty run of non-slashes between
// its segment's literals, the splat any run.
func patternRegexp(p *pattern) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	write := func(tokens []token) {
		for _, t := range tokens {
			if t.capture < 0 {
				b.WriteString(regexp.QuoteMeta(t.lit))
				continue
			}
			b.WriteString(regexp.QuoteMeta(t.pre) + "([^/]+)" + regexp.QuoteMeta(t.post))
		}
	}
	write(p.head)
	if p.splat >= 0 {
		b.WriteString("(.*)")
		write(p.tail)
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// TestPatternAgreesWithRegexp: on random patterns and paths the matcher
// answers like the linear-time regular expression of the same pattern.
func TestPatternAgreesWithRegexp(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"/", "/", "a", "b", ".", ":x", ":y", ":z", "*"}
	pathPieces := []string{"/", "/", "a", "b", "."}
	build := func(alphabet []string, n int) string {
		var b strings.Builder
		b.WriteByte('/')
		for range r.IntN(n + 1) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	checked := 0
	for range 20_000 {
		p, err := compilePattern(build(pieces, 8))
		if err != nil {
			continue
		}
		re := patternRegexp(p)
		for range 10 {
			path := build(pathPieces, 10)
			var caps captures
			if got, want := p.match(path, &caps), re.MatchString(path); got != want {
				t.Fatalf("pattern %q (regexp %s) on %q: match = %v, regexp = %v", p.source, re, path, got, want)
			}
			checked++
		}
	}
	if checked < 50_000 {
		t.Fatalf("only %d pattern/path pairs were valid", checked)
	}
}

// adversarialRules are _redirects and _headers files at their limits whose
// every dynamic rule makes the matcher read the whole of a one-segment path
// before it fails: a placeholder's segment runs to the end of the path,
// where its literal suffix is missing.
func adversarialRules(t testing.TB) (*Redirects, *Headers) {
	var red, hdr strings.Builder
	for i := range MaxDynamicRedirects {
		fmt.Fprintf(&red, "/:a%d.html/:b/:c/:d/:e/:f/:g/:h/:i/:j/:k/:l/:m/:n/*/x/:p.html /to/:splat 301\n", i)
	}
	for i := range MaxHeaderRules {
		fmt.Fprintf(&hdr, "/a:b%d/:c/:d/*/x/:p.html\n  X-Rule: %d\n", i, i)
	}
	r, err := ParseRedirects(red.String())
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHeaders(hdr.String())
	if err != nil {
		t.Fatal(err)
	}
	return r, h
}

// adversarialPath is a path of n bytes that every adversarial rule reads
// to its end.
func adversarialPath(n int) string {
	return "/" + strings.Repeat("a", n-1)
}

// TestAdversarialRulesScaleLinearly is issue 11's attack on _redirects and
// _headers: rules at their limits against a 20,000-byte path. The matcher
// reads the path once per rule, so ten times the path costs about ten
// times the time; a backtracking matcher would cost a hundred times or
// more. The ratio of the best of several runs is compared, with a wide
// margin for a busy machine, never an absolute time.
func TestAdversarialRulesScaleLinearly(t *testing.T) {
	r, h := adversarialRules(t)
	run := func(path string) time.Duration {
		best := time.Duration(1 << 62)
		for range 7 {
			start := time.Now()
			for range 20 {
				if _, ok := r.Match(path, ""); ok {
					t.Fatal("an adversarial rule matched")
				}
				hdr := http.Header{}
				h.Apply(path, hdr)
				if len(hdr) != 0 {
					t.Fatalf("an adversarial header rule matched: %v", hdr)
				}
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	short, long := run(adversarialPath(2_000)), run(adversarialPath(20_000))
	t.Logf("2,000-byte path: %v, 20,000-byte path: %v (×%.1f) for 20 requests", short, long, float64(long)/float64(short))
	if long > 40*short {
		t.Errorf("a 10× longer path took %.0f× the time: matching is not linear in the path", float64(long)/float64(short))
	}
}

// BenchmarkAdversarialRules: one request's _redirects and _headers
// matching against the adversarial rules and a 20,000-byte path.
func BenchmarkAdversarialRules(b *testing.B) {
	r, h := adversarialRules(b)
	path := adversarialPath(20_000)
	b.ReportAllocs()
	for b.Loop() {
		r.Match(path, "")
		h.Apply(path, http.Header{})
	}
}
