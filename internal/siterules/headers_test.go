package siterules

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestParseHeadersErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		line int
		msg  string // substring of the message
	}{
		{"header before pattern", "# c\n  X-A: 1\n/a\n  X-B: 2\n", 2, "header line before any URL pattern"},
		{"removal before pattern", "! X-A\n", 1, "header line before any URL pattern"},
		{"pattern without slash", "a\n  X-A: 1\n", 1, "header line before any URL pattern"},
		{"absolute URL pattern", "https://example.com/*\n  X-A: 1\n", 1, "is an absolute URL"},
		{"host placeholder pattern", "https://:project.pages.dev/*\n  X-A: 1\n", 1, "is an absolute URL"},
		{"text after pattern", "/a /b\n  X-A: 1\n", 1, "unexpected text after URL pattern"},
		{"pattern with query", "/a?x=1\n  X-A: 1\n", 1, "query string"},
		{"two splats", "/*/*\n  X-A: 1\n", 1, "at most one *"},
		{"splat placeholder with splat", "/*/:splat\n  X-A: 1\n", 1, ":splat is the value of *"},
		{"empty block", "/a\n/b\n  X-A: 1\n", 1, "no header lines"},
		{"empty last block", "/a\n  X-A: 1\n/b\n# trailing comment\n", 3, "no header lines"},
		{"malformed line", "/a\n  X-A 1\n", 2, "malformed header line"},
		{"invalid name", "/a\n  X A: 1\n", 2, `invalid header name "X A"`},
		{"non-token name", "/a\n  X(A): 1\n", 2, "invalid header name"},
		{"missing name", "/a\n  : 1\n", 2, "missing header name"},
		{"empty value", "/a\n  X-A:   \n", 2, "empty value"},
		{"control character in value", "/a\n  X-A: a\x00b\n", 2, "control character"},
		{"DEL in value", "/a\n  X-A: a\x7fb\n", 2, "control character"},
		{"invalid removal", "/a\n  ! X A\n", 2, "invalid header name"},
		{"removal with value", "/a\n  ! X-A: 1\n", 2, "invalid header name"},
		{"empty removal", "/a\n  !\n", 2, "missing header name"},
		{"bad percent-encoding", "/a%4\n  X-A: 1\n", 1, "invalid percent-encoding"},
		{"server header", "/a\n  Content-Length: 5\n", 2, "managed by the server"},
		{"server header removal", "/a\n  ! transfer-encoding\n", 2, "managed by the server"},
		{"line too long", "/a\n  X-A: " + strings.Repeat("v", MaxLineLength) + "\n", 2, "longer than 2000 bytes"},
		{"too many rules", headerRules(MaxHeaderRules + 1), 2*MaxHeaderRules + 1, "too many header rules (limit 100)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := ParseHeaders(tt.text)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseHeaders() = %v, %v; want a *ParseError", h, err)
			}
			if pe.File != "_headers" || pe.Line != tt.line || !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("error = %q (file %q, line %d); want line %d containing %q", pe.Msg, pe.File, pe.Line, tt.line, tt.msg)
			}
			if want := fmt.Sprintf("_headers line %d: %s", pe.Line, pe.Msg); err.Error() != want {
				t.Errorf("Error() = %q; want %q", err.Error(), want)
			}
		})
	}
}

func headerRules(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "/p%d/*\n  X-Rule: %d\n", i, i)
	}
	return b.String()
}

func TestParseHeadersAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		len  int
	}{
		{"empty", "", 0},
		{"comments", "# a\n\n  # b\n", 0},
		{"unindented header lines", "/a\nX-A: 1\n! X-B\n", 1},
		{"CRLF and BOM", "\ufeff/a\r\n  X-A: 1\r\n", 1},
		{"tab in value", "/a\n  X-A: a\tb\n", 1},
		{"value with colons", "/a\n  Link: <https://example.com:8443/x>; rel=preload\n", 1},
		{"limit reached", headerRules(MaxHeaderRules), MaxHeaderRules},
		{"line at the limit", "/a\n  X-A: " + strings.Repeat("v", MaxLineLength-7) + "\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := ParseHeaders(tt.text)
			if err != nil {
				t.Fatalf("ParseHeaders() error = %v", err)
			}
			if h.Len() != tt.len {
				t.Errorf("Len() = %d; want %d", h.Len(), tt.len)
			}
		})
	}
}

func TestHeadersApply(t *testing.T) {
	t.Parallel()
	const rules = `
# every response
/*
  X-Frame-Options: DENY
  Link: </style.css>; rel=preload

/static/*
  Cache-Control: public, max-age=31536000, immutable
  Link: </font.woff2>; rel=preload

/static/private/*
  ! Cache-Control
  ! Link

/docs/:section/*
  X-Section: :section
  X-Rest: :splat

/secure/page
  X-Frame-Options: SAMEORIGIN
  Content-Security-Policy: default-src 'self'

/reset/*
  ! X-Frame-Options
  X-Frame-Options: SAMEORIGIN

/multi
  Vary: Cookie
  Vary: Accept-Language
/movies/:title
  X-Movie: You are watching :title
`
	h, err := ParseHeaders(rules)
	if err != nil {
		t.Fatal(err)
	}
	defaults := func() http.Header {
		return http.Header{
			"Cache-Control":          {"public, max-age=0, must-revalidate"},
			"X-Content-Type-Options": {"nosniff"},
			"Vary":                   {"Accept-Encoding"},
		}
	}
	tests := []struct {
		name string
		path string
		want http.Header // changes to defaults(); nil value = removed
	}{
		{"catch-all only", "/index.html", http.Header{
			"X-Frame-Options": {"DENY"},
			"Link":            {"</style.css>; rel=preload"},
		}},
		{"replaces default and joins values", "/static/app.js", http.Header{
			"X-Frame-Options": {"DENY"},
			"Cache-Control":   {"public, max-age=31536000, immutable"},
			"Link":            {"</style.css>; rel=preload, </font.woff2>; rel=preload"},
		}},
		{"removal of default and earlier values", "/static/private/a", http.Header{
			"X-Frame-Options": {"DENY"},
			"Cache-Control":   nil,
			"Link":            nil,
		}},
		{"placeholders and splat", "/docs/guide/a/b.html", http.Header{
			"X-Frame-Options": {"DENY"},
			"Link":            {"</style.css>; rel=preload"},
			"X-Section":       {"guide"},
			"X-Rest":          {"a/b.html"},
		}},
		{"values joined across blocks", "/secure/page", http.Header{
			"X-Frame-Options":         {"DENY, SAMEORIGIN"},
			"Link":                    {"</style.css>; rel=preload"},
			"Content-Security-Policy": {"default-src 'self'"},
		}},
		{"removal then set in one block", "/reset/x", http.Header{
			"X-Frame-Options": {"SAMEORIGIN"},
			"Link":            {"</style.css>; rel=preload"},
		}},
		{"same name twice in a block replaces default once", "/multi", http.Header{
			"X-Frame-Options": {"DENY"},
			"Link":            {"</style.css>; rel=preload"},
			"Vary":            {"Cookie, Accept-Language"},
		}},
		{"placeholder with spaces kept, controls escaped", "/movies/The Matrix\r\n100%", http.Header{
			"X-Frame-Options": {"DENY"},
			"Link":            {"</style.css>; rel=preload"},
			"X-Movie":         {"You are watching The Matrix%0D%0A100%25"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := defaults()
			for k, v := range tt.want {
				if v == nil {
					delete(want, k)
				} else {
					want[k] = v
				}
			}
			got := defaults()
			h.Apply(tt.path, got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Apply(%q):\n got %v\nwant %v", tt.path, got, want)
			}
		})
	}
}

// Blocks indexed under different segments still apply in file order.
func TestHeadersApplyOrderAcrossIndex(t *testing.T) {
	t.Parallel()
	h, err := ParseHeaders("/:l/docs/*\n  X-Order: 1\n/*\n  X-Order: 2\n/en/*\n  X-Order: 3\n/en/docs/a\n  X-Order: 4\n/:l/:s/a\n  X-Order: 5\n")
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{}
	h.Apply("/en/docs/a", hdr)
	if got, want := hdr.Get("X-Order"), "1, 2, 3, 4, 5"; got != want {
		t.Errorf("X-Order = %q; want %q", got, want)
	}
}

func TestHeadersApplyNoMatch(t *testing.T) {
	t.Parallel()
	h, err := ParseHeaders("/a\n  X-A: 1\n/b/*\n  X-B: 2\n")
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{"Cache-Control": {"no-cache"}}
	for _, path := range []string{"/", "/a/", "/b", "/A"} {
		t.Run(path, func(t *testing.T) {
			h.Apply(path, hdr)
			if want := (http.Header{"Cache-Control": {"no-cache"}}); !reflect.DeepEqual(hdr, want) {
				t.Errorf("Apply(%q) changed headers to %v", path, hdr)
			}
		})
	}
}

// Values are shared between requests; appending to one request's header
// must not show up in the next.
func TestHeadersApplySharedValues(t *testing.T) {
	t.Parallel()
	h, err := ParseHeaders("/a\n  X-A: 1\n")
	if err != nil {
		t.Fatal(err)
	}
	first := http.Header{}
	h.Apply("/a", first)
	first.Add("X-A", "2")
	second := http.Header{}
	h.Apply("/a", second)
	if got := second.Values("X-A"); !reflect.DeepEqual(got, []string{"1"}) {
		t.Errorf("second request X-A = %q; want [1]", got)
	}
}

func TestHeadersApplyMissDoesNotAllocate(t *testing.T) {
	h, err := ParseHeaders(headerRules(50) + "/:lang/docs/*\n  X-Lang: :lang\n/*.js\n  X-Js: 1\n")
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{"Cache-Control": {"no-cache"}}
	for _, path := range []string{"/", "/p1", "/en/doc/a", "/nothing/at/all.css"} {
		h.Apply(path, hdr)
		if len(hdr) != 1 {
			t.Fatalf("Apply(%q) matched: %v", path, hdr)
		}
		if n := testing.AllocsPerRun(100, func() { h.Apply(path, hdr) }); n != 0 {
			t.Errorf("Apply(%q) allocates %v times", path, n)
		}
	}
}

func TestHeadersNil(t *testing.T) {
	t.Parallel()
	var h *Headers
	hdr := http.Header{"A": {"b"}}
	h.Apply("/a", hdr)
	if len(hdr) != 1 || h.Len() != 0 {
		t.Errorf("nil Headers changed %v or Len %d", hdr, h.Len())
	}
	var zero Headers
	zero.Apply("/a", hdr)
	if len(hdr) != 1 || zero.Len() != 0 {
		t.Errorf("zero Headers changed %v or Len %d", hdr, zero.Len())
	}
}
