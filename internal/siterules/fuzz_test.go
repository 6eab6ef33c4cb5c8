package siterules

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedFuzz adds the golden-test files and a few tricky lines as seeds.
func seedFuzz(f *testing.F, file string, extra ...string) {
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b))
	for _, s := range extra {
		f.Add(s)
	}
}

// checkParseError fails unless err is nil or a *ParseError for file with a
// line inside text.
func checkParseError(t *testing.T, err error, file, text string) {
	t.Helper()
	if err == nil {
		return
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *ParseError", err, err)
	}
	if pe.File != file || pe.Line < 1 || pe.Line > strings.Count(text, "\n")+1 || pe.Msg == "" {
		t.Fatalf("bad ParseError %+v for %d-line input", pe, strings.Count(text, "\n")+1)
	}
}

func FuzzParseRedirects(f *testing.F) {
	seedFuzz(f, "_redirects",
		"/a /b 301\n/b /a\n",
		"/:a/*/:b /:b/:splat/:a 308\n",
		"/*.html /:splat 200\n/p-:id.x /q/:id?x=1#f\n",
		"/a https://x:8080/:y\n\ufeff\r\n# c\n/a /b # c\n",
	)
	f.Fuzz(func(t *testing.T, text string) {
		r, err := ParseRedirects(text)
		checkParseError(t, err, "_redirects", text)
		if err != nil {
			if r != nil {
				t.Fatal("non-nil Redirects with an error")
			}
			return
		}
		// Every line's source, used as a request path, must match without
		// panicking and answer a valid rule.
		for line := range strings.Lines(text) {
			source, _, _ := strings.Cut(strings.TrimSpace(line), " ")
			m, ok := r.Match(source, "q=1")
			if !ok {
				continue
			}
			switch m.Status {
			case 200:
				if !strings.HasPrefix(m.To, "/") || strings.HasPrefix(m.To, "//") {
					t.Fatalf("rewrite %q → %q is not site-relative", source, m.To)
				}
			case 301, 302, 303, 307, 308:
			default:
				t.Fatalf("status %d", m.Status)
			}
			if strings.ContainsAny(m.To, " \r\n\x00") {
				t.Fatalf("destination %q contains a space or control character", m.To)
			}
		}
	})
}

func FuzzParseHeaders(f *testing.F) {
	seedFuzz(f, "_headers",
		"/a\n  X-A: 1\n/b\n",
		"/:a/*\n  X-A: :a :splat\n  ! X-B\n",
		"  X-A: 1\n",
		"/a\nX-A: b\r\n! X-A\n!X: y\n",
	)
	f.Fuzz(func(t *testing.T, text string) {
		h, err := ParseHeaders(text)
		checkParseError(t, err, "_headers", text)
		if err != nil {
			if h != nil {
				t.Fatal("non-nil Headers with an error")
			}
			return
		}
		for line := range strings.Lines(text) {
			path := strings.TrimSpace(line)
			hdr := http.Header{"Cache-Control": {"x"}}
			h.Apply(path+"\r\n\"é", hdr)
			h.Apply(path, hdr)
			for k, vs := range hdr {
				for _, v := range vs {
					for i := 0; i < len(v); i++ {
						if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
							t.Fatalf("header %s value %q has a control character", k, v)
						}
					}
				}
			}
		}
	})
}
