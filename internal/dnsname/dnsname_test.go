package dnsname

import (
	"errors"
	"strings"
	"testing"
)

func TestValidNames(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", MaxLabelLen)
	tests := []struct {
		name, in                string
		label, site, deployment bool
	}{
		{"letters", "blog", true, true, true},
		{"digits", "2024", true, true, true},
		{"inner hyphen", "my-blog", true, true, false},
		{"double hyphen", "a--b", true, false, false},
		{"longest", long, true, true, true},
		{"too long", long + "a", false, false, false},
		{"empty", "", false, false, false},
		{"leading hyphen", "-a", false, false, false},
		{"trailing hyphen", "a-", false, false, false},
		{"upper case", "Blog", false, false, false},
		{"underscore", "a_b", false, false, false},
		{"dot", "a.b", false, false, false},
		{"non-ascii", "bü", false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := ValidLabel(tc.in); got != tc.label {
				t.Errorf("ValidLabel(%q) = %v, want %v", tc.in, got, tc.label)
			}
			if got := ValidSiteName(tc.in); got != tc.site {
				t.Errorf("ValidSiteName(%q) = %v, want %v", tc.in, got, tc.site)
			}
			if got := ValidDeploymentID(tc.in); got != tc.deployment {
				t.Errorf("ValidDeploymentID(%q) = %v, want %v", tc.in, got, tc.deployment)
			}
		})
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in                    string
		canonical, domainName, pdom bool
	}{
		{"two labels", "example.com", true, true, true},
		{"one label", "localhost", true, false, true},
		{"ipv4", "127.0.0.1", true, false, true},
		{"numeric inner label", "1.example", true, true, true},
		{"punycode", "xn--bcher-kva.example", true, true, true},
		{"trailing dot", "example.com.", false, false, false},
		{"empty label", "a..b", false, false, false},
		{"upper case", "Example.com", false, false, false},
		{"wildcard", "*.example.com", false, false, false},
		{"empty", "", false, false, false},
		{"253 bytes", strings.Repeat("abcdefghi.", 24) + strings.Repeat("a", 13), true, true, false},
		{"254 bytes", strings.Repeat("abcdefghi.", 24) + strings.Repeat("a", 14), false, false, false},
		{"200 bytes", strings.Repeat("abcdefghi.", 19) + strings.Repeat("a", 10), true, true, true},
		{"201 bytes", strings.Repeat("abcdefghi.", 19) + strings.Repeat("a", 11), true, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := IsCanonical(tc.in); got != tc.canonical {
				t.Errorf("IsCanonical(%q) = %v, want %v", tc.in, got, tc.canonical)
			}
			if got := IsDomainName(tc.in); got != tc.domainName {
				t.Errorf("IsDomainName(%q) = %v, want %v", tc.in, got, tc.domainName)
			}
			if got := ValidDomain(tc.in); got != tc.pdom {
				t.Errorf("ValidDomain(%q) = %v, want %v", tc.in, got, tc.pdom)
			}
		})
	}
}

func TestNormalizeHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"canonical", "site.localhost", "site.localhost", true},
		{"port", "site.localhost:8080", "site.localhost", true},
		{"trailing dot and port", "Site.Localhost.:443", "site.localhost", true},
		{"idn", "BÜCHER.example", "xn--bcher-kva.example", true},
		{"ipv6", "[::1]:8080", "[::1]", true},
		{"ipv6 bad port", "[::1]x", "", false},
		{"bad port", "site.localhost:http", "", false},
		{"empty", "", "", false},
		{"underscore", "a_b.localhost", "", false},
		{"invalid utf-8", "a\xff.localhost", "", false},
		{"idn label too long", strings.Repeat("ü", 60) + ".example", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := NormalizeHost(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("NormalizeHost(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestNormalizeASCII(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"canonical", "www.example.com", "www.example.com", true},
		{"upper case and dot", "WWW.Example.COM.", "www.example.com", true},
		{"one label", "localhost", "", false},
		{"ipv4", "127.0.0.1", "", false},
		{"idn", "bücher.example", "", false},
		{"kelvin sign folds to k only in Unicode", "\u212a.example", "", false},
		{"wildcard", "*.example.com", "", false},
		{"leading hyphen", "-a.example", "", false},
		{"too long", strings.Repeat("a.", 127) + "com", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := NormalizeASCII(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("NormalizeASCII(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		reason         string // "" when valid
	}{
		{"plain", " WWW.Example.com. ", "www.example.com", ""},
		{"idn", "bücher.example", "xn--bcher-kva.example", ""},
		{"empty", " ", "", "is empty"},
		{"ipv4", "192.0.2.1", "", "is an IP address, not a DNS name"},
		{"ipv6", "[2001:db8::1]", "", "is an IP address, not a DNS name"},
		{"wildcard", "*.example.com", "", "is not a valid DNS name"},
		{"invalid utf-8", "0\xc3.a", "", "is not a valid DNS name"},
		{"one label", "localhost", "", "needs at least two labels (like example.com)"},
		{"numeric last label", "1.2.3.4.5", "", "ends in a numeric label (an IP address is not a DNS name)"},
		{"too long", strings.Repeat("a.", 127) + "com", "", "is longer than 253 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Normalize(tc.in)
			if tc.reason == "" {
				if err != nil || got != tc.want {
					t.Fatalf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
				}
				return
			}
			var ne *NameError
			if !errors.As(err, &ne) || ne.Reason != tc.reason {
				t.Fatalf("Normalize(%q) = %q, %v; want reason %q", tc.in, got, err, tc.reason)
			}
		})
	}
	t.Run("long name is cut in the error", func(t *testing.T) {
		t.Parallel()
		_, err := Normalize(strings.Repeat("a", 300))
		var ne *NameError
		if !errors.As(err, &ne) || ne.Name != strings.Repeat("a", 64)+"…" {
			t.Fatalf("Normalize(300 × a) = %v", err)
		}
	})
}

func TestPlatformHosts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, host, site, deployment string
		ok, siteOf                   bool
	}{
		{"site", "blog.pier.test", "blog", "", true, true},
		{"preview", "abc123--blog.pier.test", "blog", "abc123", true, false},
		{"preview of hyphenated site", "d1--my-blog.pier.test", "my-blog", "d1", true, false},
		{"bare domain", "pier.test", "", "", false, false},
		{"empty label", ".pier.test", "", "", false, false},
		{"other domain", "blog.example.com", "", "", false, false},
		{"suffix without dot", "blogpier.test", "", "", false, false},
		{"deeper subdomain", "a.blog.pier.test", "", "", false, false},
		{"empty deployment", "--blog.pier.test", "", "", false, false},
		{"hyphen in deployment", "a-b--blog.pier.test", "", "", false, false},
		{"triple hyphen", "d1---blog.pier.test", "", "", false, false},
		{"two previews", "a--b--blog.pier.test", "", "", false, false},
		{"upper-case site", "Blog.pier.test", "", "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			site, dep, ok := ParseHost(tc.host, "pier.test")
			if site != tc.site || dep != tc.deployment || ok != tc.ok {
				t.Errorf("ParseHost(%q) = %q, %q, %v; want %q, %q, %v", tc.host, site, dep, ok, tc.site, tc.deployment, tc.ok)
			}
			wantSite := ""
			if tc.siteOf {
				wantSite = tc.site
			}
			if site, ok := SiteOf(tc.host, "pier.test"); site != wantSite || ok != tc.siteOf {
				t.Errorf("SiteOf(%q) = %q, %v; want %q, %v", tc.host, site, ok, wantSite, tc.siteOf)
			}
		})
	}
}

func TestParsePrefixHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, host, site, prefix string
		ok                       bool
	}{
		{"site", "blog.pier.test", "blog", "", true},
		{"preview", "abc123--blog.pier.test", "blog", "abc123", true},
		{"preview of hyphenated site", "d1--my-blog.pier.test", "my-blog", "d1", true},
		{"alias", "feature-x--blog.pier.test", "blog", "feature-x", true},
		{"alias of hyphenated site", "fix-1--my-blog.pier.test", "my-blog", "fix-1", true},
		{"alias with hash suffix", "abcd1234-0a1b2c--blog.pier.test", "blog", "abcd1234-0a1b2c", true},
		{"bare domain", "pier.test", "", "", false},
		{"other domain", "feature-x--blog.example.com", "", "", false},
		{"deeper subdomain", "a.feature-x--blog.pier.test", "", "", false},
		{"empty prefix", "--blog.pier.test", "", "", false},
		{"prefix starting with hyphen", "-x--blog.pier.test", "", "", false},
		{"triple hyphen", "feature---blog.pier.test", "", "", false},
		{"two separators", "a--b--blog.pier.test", "", "", false},
		{"upper-case alias", "Feature--blog.pier.test", "", "", false},
		{"underscore", "a_b--blog.pier.test", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			site, prefix, ok := ParsePrefixHost(tc.host, "pier.test")
			if site != tc.site || prefix != tc.prefix || ok != tc.ok {
				t.Errorf("ParsePrefixHost(%q) = %q, %q, %v; want %q, %q, %v", tc.host, site, prefix, ok, tc.site, tc.prefix, tc.ok)
			}
			// Every host ParseHost reads, ParsePrefixHost reads alike.
			if s, d, ok := ParseHost(tc.host, "pier.test"); ok && (s != site || d != prefix) {
				t.Errorf("ParseHost(%q) = %q, %q but ParsePrefixHost = %q, %q", tc.host, s, d, site, prefix)
			}
		})
	}
}

func TestBranchHostRoundTrip(t *testing.T) {
	t.Parallel()
	for _, branch := range []string{"main", "feature/X", "release-2.0", "abcd1234", "--", strings.Repeat("long/", 40)} {
		t.Run(branch, func(t *testing.T) {
			t.Parallel()
			for _, site := range []string{"blog", strings.Repeat("s", MaxSiteNameLen)} {
				alias := BranchAlias(branch, site)
				if !ValidAlias(alias) || IsDeploymentIDShape(alias) {
					t.Fatalf("BranchAlias(%q, %q) = %q: not a valid alias", branch, site, alias)
				}
				h := BranchHost(alias, site, "pier.test")
				if s, p, ok := ParsePrefixHost(h, "pier.test"); !ok || s != site || p != alias {
					t.Errorf("ParsePrefixHost(%q) = %q, %q, %v", h, s, p, ok)
				}
			}
		})
	}
}

func TestInDomain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, host, domain string
		want               bool
	}{
		{"the domain", "pier.test", "pier.test", true},
		{"below", "a.b.pier.test", "pier.test", true},
		{"similar but not below", "notpier.test", "pier.test", false},
		{"above", "test", "pier.test", false},
		{"empty domain", "pier.test", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := InDomain(tc.host, tc.domain); got != tc.want {
				t.Errorf("InDomain(%q, %q) = %v, want %v", tc.host, tc.domain, got, tc.want)
			}
		})
	}
}

func TestBuilders(t *testing.T) {
	t.Parallel()
	if got := SiteHost("blog", "pier.test"); got != "blog.pier.test" {
		t.Errorf("SiteHost = %q", got)
	}
	if got := PreviewHost("abc123", "blog", "pier.test"); got != "abc123--blog.pier.test" {
		t.Errorf("PreviewHost = %q", got)
	}
	if MaxSiteNameLen != 53 {
		t.Errorf("MaxSiteNameLen = %d, want 53 (63 - 8 - 2)", MaxSiteNameLen)
	}
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		h, ok := NormalizeHost("abc123--blog.pier.test:8080")
		if !ok {
			t.Fatal("NormalizeHost refused")
		}
		if _, _, ok := ParseHost(h, "pier.test"); !ok {
			t.Fatal("ParseHost refused")
		}
		if _, _, ok := ParsePrefixHost("feature-x--blog.pier.test", "pier.test"); !ok {
			t.Fatal("ParsePrefixHost refused")
		}
		if _, ok := NormalizeASCII("www.example.com"); !ok {
			t.Fatal("NormalizeASCII refused")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations, want 0", allocs)
	}
}

// FuzzHostGrammar builds site and preview hosts from arbitrary parts and
// parses them back: whatever the builders make of valid parts, ParseHost
// and SiteOf return those parts; whatever ParseHost accepts, the builders
// make again.
func FuzzHostGrammar(f *testing.F) {
	f.Add("blog", "abc123", "pier.test")
	f.Add("my-blog", "d1", "localhost")
	f.Add("a--b", "x", "pier.test")
	f.Add("blog", "a-b", "example.com")
	f.Add("-blog", "", "pier.test")
	f.Fuzz(func(t *testing.T, site, id, domain string) {
		if ValidSiteName(site) && ValidDomain(domain) {
			h := SiteHost(site, domain)
			if IsCanonical(h) {
				if s, d, ok := ParseHost(h, domain); !ok || s != site || d != "" {
					t.Fatalf("ParseHost(SiteHost(%q, %q)) = %q, %q, %v", site, domain, s, d, ok)
				}
				if s, ok := SiteOf(h, domain); !ok || s != site {
					t.Fatalf("SiteOf(SiteHost(%q, %q)) = %q, %v", site, domain, s, ok)
				}
			}
			if ValidDeploymentID(id) {
				p := PreviewHost(id, site, domain)
				if IsCanonical(p) {
					if s, d, ok := ParseHost(p, domain); !ok || s != site || d != id {
						t.Fatalf("ParseHost(PreviewHost(%q, %q, %q)) = %q, %q, %v", id, site, domain, s, d, ok)
					}
					if s, ok := SiteOf(p, domain); ok {
						t.Fatalf("SiteOf(PreviewHost(%q, %q, %q)) = %q, want no site", id, site, domain, s)
					}
				}
			}
		}
		if ValidSiteName(site) && ValidDomain(domain) && ValidAlias(id) {
			p := BranchHost(id, site, domain)
			if IsCanonical(p) {
				if s, a, ok := ParsePrefixHost(p, domain); !ok || s != site || a != id {
					t.Fatalf("ParsePrefixHost(BranchHost(%q, %q, %q)) = %q, %q, %v", id, site, domain, s, a, ok)
				}
			}
		}
		// Read the other way: the parts of any host ParseHost accepts build
		// that host again.
		host := site
		if s, a, ok := ParsePrefixHost(host, domain); ok {
			again := SiteHost(s, domain)
			if a != "" {
				again = BranchHost(a, s, domain)
			}
			if again != host || !ValidSiteName(s) || a != "" && !ValidAlias(a) {
				t.Fatalf("ParsePrefixHost(%q, %q) = %q, %q: builds %q", host, domain, s, a, again)
			}
		}
		if s, d, ok := ParseHost(host, domain); ok {
			again := SiteHost(s, domain)
			if d != "" {
				again = PreviewHost(d, s, domain)
			}
			if again != host || !ValidSiteName(s) || d != "" && !ValidDeploymentID(d) {
				t.Fatalf("ParseHost(%q, %q) = %q, %q: builds %q", host, domain, s, d, again)
			}
		}
	})
}

// FuzzNormalize checks that the three normalisers return canonical names
// and are idempotent.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"site.localhost:8080", "BÜCHER.example.", "[::1]:80", "a..b", "xn--bcher-kva.example", "WWW.Example.COM.", " a.b ", "\xff", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if h, ok := NormalizeHost(raw); ok && !strings.HasPrefix(h, "[") {
			if !IsCanonical(h) {
				t.Fatalf("NormalizeHost(%q) = %q, not canonical", raw, h)
			}
			if again, ok := NormalizeHost(h); !ok || again != h {
				t.Fatalf("NormalizeHost not idempotent: %q → %q → %q, %v", raw, h, again, ok)
			}
		}
		if h, ok := NormalizeASCII(raw); ok {
			if !IsDomainName(h) {
				t.Fatalf("NormalizeASCII(%q) = %q, not a domain name", raw, h)
			}
			if again, ok := NormalizeASCII(h); !ok || again != h {
				t.Fatalf("NormalizeASCII not idempotent: %q → %q → %q, %v", raw, h, again, ok)
			}
		}
		if h, err := Normalize(raw); err == nil {
			if !IsDomainName(h) {
				t.Fatalf("Normalize(%q) = %q, not a domain name", raw, h)
			}
			if again, err := Normalize(h); err != nil || again != h {
				t.Fatalf("Normalize not idempotent: %q → %q → %q, %v", raw, h, again, err)
			}
			if again, ok := NormalizeASCII(h); !ok || again != h {
				t.Fatalf("NormalizeASCII(Normalize(%q) = %q) = %q, %v", raw, h, again, ok)
			}
		}
	})
}

func BenchmarkNormalizeHost(b *testing.B) {
	for b.Loop() {
		NormalizeHost("abc123--blog.pier.test:8080")
	}
}

func BenchmarkParseHost(b *testing.B) {
	for b.Loop() {
		ParseHost("abc123--blog.pier.test", "pier.test")
	}
}

func TestBranchAlias(t *testing.T) {
	long := strings.Repeat("x", 70)
	site53 := strings.Repeat("s", MaxSiteNameLen)
	cases := []struct{ branch, site, want string }{
		{"main", "blog", "main"},
		{"feature/New-Thing", "blog", "feature-new-thing"},
		{"--a__b--", "blog", "a-b"},
		{"release-1.2", "blog", "release-1-2"},
	}
	for _, c := range cases {
		if got := BranchAlias(c.branch, c.site); got != c.want {
			t.Errorf("BranchAlias(%q) = %q, want %q", c.branch, got, c.want)
		}
	}
	for _, branch := range []string{"main", "abcdefgh", "abc12345", "...", long, "feature/" + long, "a-b", "x"} {
		for _, site := range []string{"blog", site53} {
			for n := 0; n < 3; n++ {
				a := BranchAliasSuffixed(branch, site, n)
				if !ValidLabel(a) || strings.Contains(a, PreviewSep) || IsDeploymentIDShape(a) {
					t.Errorf("alias(%q, %q, %d) = %q: not a label, contains --, or id-shaped", branch, site, n, a)
				}
				if label := a + PreviewSep + site; !ValidLabel(label) {
					t.Errorf("alias(%q, %q, %d): %q is not a label", branch, site, n, label)
				}
				if s, prefix, ok := ParseHost(a+PreviewSep+site+".example.net", "example.net"); n == 0 && (!ok || s != site || prefix != a) && !strings.Contains(a, "-") {
					t.Errorf("ParseHost of alias %q = %q, %q, %v", a, s, prefix, ok)
				}
			}
		}
	}
	if a, b := BranchAlias("abcdefgh", "blog"), BranchAliasSuffixed("abcdefgh", "blog", 1); a == b || !strings.HasPrefix(a, "abcdefgh-") {
		t.Errorf("id-shaped slug: %q, suffixed %q", a, b)
	}
}
