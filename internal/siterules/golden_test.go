package siterules

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGoldenRedirects runs every request of testdata/redirects.requests
// against testdata/_redirects and compares the answers with
// testdata/redirects.golden (go test -run Golden -update rewrites it).
func TestGoldenRedirects(t *testing.T) {
	t.Parallel()
	r, err := ParseRedirects(readTestdata(t, "_redirects"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, req := range requests(t, "redirects.requests") {
		path, query, _ := strings.Cut(req, "?")
		if m, ok := r.Match(path, query); ok {
			fmt.Fprintf(&out, "%s\n\t%d %s\n", req, m.Status, m.To)
		} else {
			fmt.Fprintf(&out, "%s\n\tno match\n", req)
		}
	}
	compareGolden(t, "redirects.golden", out.String())
}

// TestGoldenHeaders applies testdata/_headers to the edge's default headers
// for every path of testdata/headers.requests and compares the result with
// testdata/headers.golden.
func TestGoldenHeaders(t *testing.T) {
	t.Parallel()
	h, err := ParseHeaders(readTestdata(t, "_headers"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, path := range requests(t, "headers.requests") {
		hdr := http.Header{
			"Cache-Control":          {"public, max-age=0, must-revalidate"},
			"Content-Type":           {"text/html; charset=utf-8"},
			"X-Content-Type-Options": {"nosniff"},
		}
		h.Apply(path, hdr)
		fmt.Fprintf(&out, "%s\n", path)
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range hdr {
				if !yield(k) {
					return
				}
			}
		}) {
			for _, v := range hdr[k] {
				fmt.Fprintf(&out, "\t%s: %s\n", k, v)
			}
		}
	}
	compareGolden(t, "headers.golden", out.String())
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// requests returns the non-comment lines of a testdata file.
func requests(t *testing.T, name string) []string {
	var out []string
	for line := range strings.Lines(readTestdata(t, name)) {
		line = strings.TrimRight(line, "\n")
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readTestdata(t, name)
	if got == want {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(gl), len(wl)) {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s differs at line %d:\n got %q\nwant %q\n(run go test -run Golden -update to accept)", file, i+1, g, w)
		}
	}
}

// TestConcurrentUse runs the golden files from several goroutines; with
// -race it checks that matching and applying share no mutable state.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	r, err := ParseRedirects(readTestdata(t, "_redirects"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHeaders(readTestdata(t, "_headers"))
	if err != nil {
		t.Fatal(err)
	}
	paths := append(requests(t, "redirects.requests"), requests(t, "headers.requests")...)
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for _, p := range paths {
				path, query, _ := strings.Cut(p, "?")
				r.Match(path, query)
				hdr := http.Header{"Cache-Control": {"x"}}
				h.Apply(path, hdr)
				hdr.Add("Link", "<x>")
			}
		}()
	}
	for range 4 {
		<-done
	}
}
