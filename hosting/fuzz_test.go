package hosting

import (
	"net/url"
	"strings"
	"testing"
)

func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"site.localhost:8080", "BÜCHER.example.", "[::1]:80", "a..b", "xn--bcher-kva.example", "\xff", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		h, ok := normalizeHost(raw)
		if !ok {
			return
		}
		if strings.HasPrefix(h, "[") {
			return
		}
		if !canonicalASCII(h) {
			t.Fatalf("normalizeHost(%q) = %q, not canonical", raw, h)
		}
		if again, ok := normalizeHost(h); !ok || again != h {
			t.Fatalf("not idempotent: %q → %q → %q, %v", raw, h, again, ok)
		}
	})
}

func FuzzRequestPath(f *testing.F) {
	for _, s := range []string{"/", "//a//b/", "/a/../b", "/%2e%2e/x", "/a b/ü", "/a\x00b", "/[x]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, ok := requestPath(raw)
		if !ok {
			return
		}
		if !strings.HasPrefix(p, "/") || strings.Contains(p, "//") {
			t.Fatalf("requestPath(%q) = %q", raw, p)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("requestPath(%q) = %q keeps a dot segment", raw, p)
			}
		}
		for i := 0; i < len(p); i++ {
			if p[i] < 0x20 || p[i] == 0x7f {
				t.Fatalf("requestPath(%q) = %q keeps a control byte", raw, p)
			}
		}
		enc := encodePath(p)
		dec, err := url.PathUnescape(enc)
		if err != nil || dec != p {
			t.Fatalf("encodePath(%q) = %q does not decode back (%q, %v)", p, enc, dec, err)
		}
		if encodePath(dec) != enc {
			t.Fatalf("encodePath not stable on %q", p)
		}
	})
}

func FuzzHeaderParsing(f *testing.F) {
	f.Add("gzip, deflate, br;q=0.5", `W/"a", "b"`)
	f.Add("*;q=0, identity;q=1.000", "*")
	f.Fuzz(func(t *testing.T, accept, inm string) {
		v := negotiate([]string{accept}, true, true)
		if v < identity || v >= numVariants {
			t.Fatalf("negotiate(%q) = %d", accept, v)
		}
		if negotiate([]string{accept}, false, false) != identity {
			t.Fatalf("negotiate(%q) picked a variant that does not exist", accept)
		}
		etagMatch([]string{inm}, `"0123456789abcdef"`)
	})
}
