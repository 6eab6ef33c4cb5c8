package tenants

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateCustomHostname(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 63)
	tests := []struct {
		name, in string
		want     string // "" = invalid
		mention  string // a word the error must contain
	}{
		{"plain", "www.example.com", "www.example.com", ""},
		{"apex", "example.com", "example.com", ""},
		{"uppercase and trailing dot", "WWW.Example.COM.", "www.example.com", ""},
		{"IDN to punycode", "bücher.example", "xn--bcher-kva.example", ""},
		{"single label", "localhost2", "", "two labels"},
		{"IPv4", "192.0.2.1", "", "IP"},
		{"IPv6", "[2001:db8::1]", "", "IP"},
		{"numeric TLD", "1.2.3.4.5", "", "numeric"},
		{"empty", "", "", "empty"},
		{"wildcard", "*.example.com", "", "DNS name"},
		{"underscore", "a_b.example.com", "", ""},
		{"leading hyphen", "-a.example.com", "", ""},
		{"empty label", "a..example.com", "", ""},
		{"label too long", long + "a.example.com", "", ""},
		{"too long", strings.Repeat(long+".", 4) + "com", "", "253"},
		{"platform domain", "pier.example", "", "platform domain"},
		{"below platform domain", "blog.pier.example", "", "platform domain"},
		{"below platform domain, other case", "Blog.PIER.example", "", "platform domain"},
		{"similar but not below", "notpier.example", "notpier.example", ""},
		{"space", "a b.example.com", "", ""},
		{"port", "example.com:443", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ValidateCustomHostname(tc.in, "pier.example")
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("ValidateCustomHostname(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateCustomHostname(%q) = %q, want an error", tc.in, got)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if tc.mention != "" && !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
}

func TestDomainValidate(t *testing.T) {
	t.Parallel()
	ok := Domain{Hostname: "example.com", SiteID: "s1", Status: DomainPending, Token: NewDomainToken(), CertStatus: CertNone}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid domain: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*Domain)
	}{
		{"no site", func(d *Domain) { d.SiteID = "" }},
		{"not canonical", func(d *Domain) { d.Hostname = "Example.com" }},
		{"bad status", func(d *Domain) { d.Status = "verified" }},
		{"bad cert status", func(d *Domain) { d.CertStatus = "" }},
		{"bad token", func(d *Domain) { d.Token = "a b" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := ok
			tc.mod(&d)
			if err := d.Validate(); !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate() = %v, want ErrInvalid", err)
			}
		})
	}
}
