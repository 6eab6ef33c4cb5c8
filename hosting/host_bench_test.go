package hosting

import "testing"

// BenchmarkHostRouting is the per-request host work of ServeHTTP: the
// Host header's canonical form, then the platform grammar.
func BenchmarkHostRouting(b *testing.B) {
	for _, bc := range []struct{ name, host string }{
		{"site", "blog.pier.test:8080"},
		{"preview", "abc123de--blog.pier.test"},
		{"custom", "www.example.com"},
		{"idn", "BÜCHER.example"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h, ok := normalizeHost(bc.host)
				if !ok {
					b.Fatal("malformed")
				}
				if _, ok := parseHost(h, ".pier.test"); !ok {
					customHost(h, ".pier.test")
				}
			}
		})
	}
}
