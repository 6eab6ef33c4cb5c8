package siterules

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// benchRedirects is a file at both limits: 2,000 static and 100 dynamic
// rules, the dynamic ones sharing prefixes so the matcher has to look
// beyond the first byte.
func benchRedirects(b *testing.B) *Redirects {
	var s strings.Builder
	for i := range MaxStaticRedirects {
		fmt.Fprintf(&s, "/old/page-%d.html /new/page-%d/ 301\n", i, i)
	}
	for i := range MaxDynamicRedirects {
		fmt.Fprintf(&s, "/section-%d/:year/:slug /s/%d/:year/:slug 301\n", i, i)
	}
	r, err := ParseRedirects(s.String())
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func BenchmarkRedirectsMatchStatic(b *testing.B) {
	r := benchRedirects(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := r.Match("/old/page-1999.html", "utm=1"); !ok {
			b.Fatal("no match")
		}
	}
}

func BenchmarkRedirectsMatchDynamic(b *testing.B) {
	r := benchRedirects(b)
	b.ReportAllocs()
	for b.Loop() {
		// The last dynamic rule: every other one is tried first.
		if _, ok := r.Match("/section-99/2024/hello-world", ""); !ok {
			b.Fatal("no match")
		}
	}
}

func BenchmarkRedirectsMatchMiss(b *testing.B) {
	r := benchRedirects(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := r.Match("/section-5/2024/hello/world.html", "v=1"); ok {
			b.Fatal("match")
		}
	}
}

func BenchmarkParseRedirects(b *testing.B) {
	var s strings.Builder
	for i := range MaxStaticRedirects {
		fmt.Fprintf(&s, "/old/page-%d.html /new/page-%d/ 301\n", i, i)
	}
	for i := range MaxDynamicRedirects {
		fmt.Fprintf(&s, "/section-%d/:year/:slug /s/%d/:year/:slug 301\n", i, i)
	}
	text := s.String()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRedirects(text); err != nil {
			b.Fatal(err)
		}
	}
}

// benchHeaders is a realistic file: a catch-all, an asset rule and 98
// rules that do not match the benchmarked paths.
func benchHeaders(b *testing.B) *Headers {
	h, err := ParseHeaders(benchHeadersText())
	if err != nil {
		b.Fatal(err)
	}
	return h
}

func BenchmarkHeadersApply(b *testing.B) {
	h := benchHeaders(b)
	hdr := http.Header{}
	cacheControl := []string{"public, max-age=0, must-revalidate"}
	b.ReportAllocs()
	for b.Loop() {
		hdr["Cache-Control"] = cacheControl
		h.Apply("/assets/app.3f2a.js", hdr)
	}
}

// BenchmarkHeadersApplyMiss is benchHeaders without the catch-all, for a
// path no rule matches.
func BenchmarkHeadersApplyMiss(b *testing.B) {
	h, err := ParseHeaders(strings.TrimPrefix(benchHeadersText(), "/*\n  X-Frame-Options: DENY\n  Referrer-Policy: no-referrer\n"))
	if err != nil {
		b.Fatal(err)
	}
	hdr := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		h.Apply("/index.html", hdr)
	}
}

// benchHeadersText is the file of benchHeaders.
func benchHeadersText() string {
	var s strings.Builder
	s.WriteString("/*\n  X-Frame-Options: DENY\n  Referrer-Policy: no-referrer\n")
	s.WriteString("/assets/*\n  Cache-Control: public, max-age=31536000, immutable\n")
	for i := range MaxHeaderRules - 2 {
		fmt.Fprintf(&s, "/section-%d/:page\n  X-Section: %d :page\n", i, i)
	}
	return s.String()
}

// BenchmarkRedirectsMatchMissUnindexed is the worst case for a miss: 100
// dynamic rules starting with a placeholder, which the first-segment index
// cannot narrow, so every one is tried.
func BenchmarkRedirectsMatchMissUnindexed(b *testing.B) {
	var s strings.Builder
	for i := range MaxDynamicRedirects {
		fmt.Fprintf(&s, "/:lang/section-%d/* /s/%d/:lang/:splat 301\n", i, i)
	}
	r, err := ParseRedirects(s.String())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := r.Match("/en/docs/getting-started/install.html", ""); ok {
			b.Fatal("match")
		}
	}
}
