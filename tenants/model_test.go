package tenants

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/assets"
)

func TestValidateName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		ok    bool
	}{
		{"single letter", "a", true},
		{"single digit", "7", true},
		{"letters digits dash", "my-site-2", true},
		{"53 characters (the preview host still fits a DNS label)", strings.Repeat("a", 53), true},
		{"54 characters: <deployment>--<site> would exceed 63", strings.Repeat("a", 54), false},
		{"64 characters", strings.Repeat("a", 64), false},
		{"empty", "", false},
		{"uppercase", "MySite", false},
		{"leading dash", "-site", false},
		{"trailing dash", "site-", false},
		{"double dash is the preview separator", "a--b", false},
		{"triple dash", "a---b", false},
		{"underscore", "my_site", false},
		{"dot", "my.site", false},
		{"space", "my site", false},
		{"unicode", "caf\u00e9", false},
		{"punycode prefix", "xn--caf-dma", false},
	}
	if err := ValidateName("tenant", strings.Repeat("a", 63)); err != nil {
		t.Errorf("a 63-character tenant name: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateName("site", tc.input)
			if tc.ok && err != nil {
				t.Errorf("ValidateName(%q) = %v, want nil", tc.input, err)
			}
			if !tc.ok {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("ValidateName(%q) = %v, want ErrInvalid", tc.input, err)
				} else if !strings.Contains(err.Error(), "site name") {
					t.Errorf("error %q does not say which kind of name", err)
				}
			}
		})
	}
}

func TestValidateTags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tags []string
		ok   bool
	}{
		{"none", nil, true},
		{"one", []string{"env:prod"}, true},
		{"value with colon", []string{"url:http://x"}, true},
		{"eight", []string{"a:1", "b:1", "c:1", "d:1", "e:1", "f:1", "g:1", "h:1"}, true},
		{"nine", []string{"a:1", "b:1", "c:1", "d:1", "e:1", "f:1", "g:1", "h:1", "i:1"}, false},
		{"no colon", []string{"prod"}, false},
		{"empty key", []string{":prod"}, false},
		{"empty value", []string{"env:"}, false},
		{"space", []string{"env:my prod"}, false},
		{"comma", []string{"env:a,b"}, false},
		{"newline", []string{"env:a\nb"}, false},
		{"128 bytes", []string{"k:" + strings.Repeat("v", 126)}, true},
		{"129 bytes", []string{"k:" + strings.Repeat("v", 127)}, false},
		{"one bad among good", []string{"env:prod", "bad"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateTags(tc.tags)
			if tc.ok && err != nil {
				t.Errorf("ValidateTags(%q) = %v, want nil", tc.tags, err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalid) {
				t.Errorf("ValidateTags(%q) = %v, want ErrInvalid", tc.tags, err)
			}
		})
	}
}

func TestValidatePlan(t *testing.T) {
	t.Parallel()
	for _, p := range []string{PlanFree, PlanPro, PlanEnterprise} {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			if err := ValidatePlan(p); err != nil {
				t.Errorf("ValidatePlan(%q) = %v", p, err)
			}
		})
	}
	for _, p := range []string{"", "Free", "gold"} {
		t.Run("bad "+p, func(t *testing.T) {
			t.Parallel()
			if err := ValidatePlan(p); !errors.Is(err, ErrInvalid) {
				t.Errorf("ValidatePlan(%q) = %v, want ErrInvalid", p, err)
			}
		})
	}
}

func TestPlanLimits(t *testing.T) {
	t.Parallel()
	names := PlanNames()
	if want := []string{PlanFree, PlanPro, PlanEnterprise}; !slices.Equal(names, want) {
		t.Fatalf("PlanNames() = %v, want %v", names, want)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l, ok := PlanLimits(name)
			if !ok {
				t.Fatalf("PlanLimits(%q) not found", name)
			}
			for _, f := range l.Fields() {
				if f.Value <= 0 {
					t.Errorf("plan %s: %s = %d, want positive", name, f.Name, f.Value)
				}
			}
			if l.Deployments < l.KeepDeployments || l.RequestBurst < l.RequestsPerSecond {
				t.Errorf("plan %s: deployments %d < keepDeployments %d or burst %d < rate %d",
					name, l.Deployments, l.KeepDeployments, l.RequestBurst, l.RequestsPerSecond)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		t.Parallel()
		if l, ok := PlanLimits("gold"); ok || l != (Limits{}) {
			t.Errorf("PlanLimits(gold) = %+v, %v; want zero, false", l, ok)
		}
	})
	t.Run("names are a copy", func(t *testing.T) {
		t.Parallel()
		PlanNames()[0] = "gold"
		if _, ok := PlanLimits("gold"); ok || PlanNames()[0] != PlanFree {
			t.Error("changing PlanNames' result changed the plans")
		}
	})
}

func TestEffectiveLimits(t *testing.T) {
	t.Parallel()
	plan := func(name string, change func(*Limits)) Limits {
		l, _ := PlanLimits(name)
		if change != nil {
			change(&l)
		}
		return l
	}
	all := Limits{CPUMs: 1, CPUMsPerSecond: 17, SubRequests: 2, MemoryMB: 3, GitRepoMB: 4, GitPushMB: 5, KVOps: 18, KVValueKB: 19, Quotas: Quotas{
		RequestsPerSecond: 6, RequestBurst: 7, Sites: 8, Domains: 9, UploadSessions: 10, UploadEntries: 11,
		StorageMB: 12, WorkerMB: 13, KVNamespaces: 20, Deployments: 14, KeepDeployments: 15, KeepDays: 16,
	}}
	tests := []struct {
		name      string
		plan      string
		overrides Limits
		want      Limits
	}{
		{"free", PlanFree, Limits{}, Limits{CPUMs: 10, CPUMsPerSecond: 250, SubRequests: 5, MemoryMB: 64, GitRepoMB: 1024, GitPushMB: 256, KVOps: 50, KVValueKB: 1024, Quotas: Quotas{
			RequestsPerSecond: 100, RequestBurst: 200, Sites: 10, Domains: 10, UploadSessions: 10, UploadEntries: 200_000,
			StorageMB: 2048, WorkerMB: 16, KVNamespaces: 10, Deployments: 100, KeepDeployments: 20, KeepDays: 30,
		}}},
		{"one override", PlanFree, Limits{CPUMs: 30}, plan(PlanFree, func(l *Limits) { l.CPUMs = 30 })},
		{"one quota override", PlanPro, Limits{Quotas: Quotas{Sites: 3}}, plan(PlanPro, func(l *Limits) { l.Sites = 3 })},
		{"all overrides", PlanPro, all, all},
		{"override below plan", PlanEnterprise, Limits{SubRequests: 1}, plan(PlanEnterprise, func(l *Limits) { l.SubRequests = 1 })},
		{"negative is ignored", PlanFree, Limits{MemoryMB: -5, Quotas: Quotas{KeepDays: -1}}, plan(PlanFree, nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Tenant{Plan: tc.plan, Limits: tc.overrides}.EffectiveLimits()
			if got != tc.want {
				t.Errorf("EffectiveLimits = %+v, want %+v", got, tc.want)
			}
		})
	}
	t.Run("every field is overridable", func(t *testing.T) {
		t.Parallel()
		for _, f := range all.Fields() {
			if f.Value == 0 {
				t.Errorf("the test's all-overrides value leaves %s zero", f.Name)
			}
		}
		if len(all.Fields()) != 20 {
			t.Errorf("Limits has %d fields; update this test's all-overrides value", len(all.Fields()))
		}
	})
}

func TestDeploymentConfigNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		in                   DeploymentConfig
		wantHTML, wantNotFnd string
		ok                   bool
	}{
		{"defaults", DeploymentConfig{}, HTMLAutoTrailingSlash, NotFoundNone, true},
		{"force slash and spa", DeploymentConfig{HTMLHandling: HTMLForceTrailingSlash, NotFoundHandling: NotFoundSPA}, HTMLForceTrailingSlash, NotFoundSPA, true},
		{"drop slash and 404 page", DeploymentConfig{HTMLHandling: HTMLDropTrailingSlash, NotFoundHandling: NotFound404}, HTMLDropTrailingSlash, NotFound404, true},
		{"none and none", DeploymentConfig{HTMLHandling: HTMLNone, NotFoundHandling: NotFoundNone}, HTMLNone, NotFoundNone, true},
		{"bad html handling", DeploymentConfig{HTMLHandling: "auto"}, "", "", false},
		{"bad not found handling", DeploymentConfig{NotFoundHandling: "spa"}, "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.in
			err := c.Normalize()
			if !tc.ok {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("Normalize() = %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Normalize() = %v", err)
			}
			if c.HTMLHandling != tc.wantHTML || c.NotFoundHandling != tc.wantNotFnd {
				t.Errorf("Normalize() gave %q/%q, want %q/%q", c.HTMLHandling, c.NotFoundHandling, tc.wantHTML, tc.wantNotFnd)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prefix  string
		n       int
		wantLen int
	}{
		{"5 bytes", "", 5, 8},
		{"prefixed", "t", 10, 1 + 16},
		{"odd length", "d", 3, 1 + 5},
	}
	dnsSafe := regexp.MustCompile(`^[a-z2-7]+$`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seen := map[string]bool{}
			for range 1000 {
				id := NewID(tc.prefix, tc.n)
				if len(id) != tc.wantLen {
					t.Fatalf("NewID(%q, %d) = %q, %d characters, want %d", tc.prefix, tc.n, id, len(id), tc.wantLen)
				}
				if !strings.HasPrefix(id, tc.prefix) || !dnsSafe.MatchString(strings.TrimPrefix(id, tc.prefix)) {
					t.Fatalf("NewID(%q, %d) = %q, not prefix + lowercase base32", tc.prefix, tc.n, id)
				}
				if ValidateName("deployment", id) != nil {
					t.Fatalf("NewID(%q, %d) = %q is not a valid DNS label", tc.prefix, tc.n, id)
				}
				seen[id] = true
			}
			if tc.n >= 5 && len(seen) != 1000 {
				t.Errorf("1000 NewID calls gave %d distinct IDs", len(seen))
			}
		})
	}
}

func TestNewSalt(t *testing.T) {
	t.Parallel()
	a, b := NewSalt(), NewSalt()
	if len(a) != 16 || len(b) != 16 {
		t.Fatalf("salts of %d and %d bytes, want 16", len(a), len(b))
	}
	if string(a) == string(b) {
		t.Errorf("two salts are equal: %x", a)
	}
}

func TestTenantHasTagAndTokenAdmin(t *testing.T) {
	t.Parallel()
	tn := Tenant{Tags: []string{"env:prod", "team:web"}}
	tests := []struct {
		tag  string
		want bool
	}{
		{"env:prod", true},
		{"team:web", true},
		{"env:dev", false},
		{"env", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run("tag "+tc.tag, func(t *testing.T) {
			t.Parallel()
			if got := tn.HasTag(tc.tag); got != tc.want {
				t.Errorf("HasTag(%q) = %v, want %v", tc.tag, got, tc.want)
			}
		})
	}
	t.Run("admin token", func(t *testing.T) {
		t.Parallel()
		if !(Token{}).Admin() || (Token{TenantID: "t1"}).Admin() {
			t.Error("Admin() must be true exactly when TenantID is empty")
		}
	})
}

const okHash = "0123456789abcdef"

func TestValidate(t *testing.T) {
	t.Parallel()
	sha := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		err  error
		ok   bool
	}{
		{"tenant ok", Tenant{ID: "t1", Name: "acme", Plan: PlanFree, Salt: make([]byte, 16)}.Validate(), true},
		{"tenant no salt ok", Tenant{ID: "t1", Name: "acme", Plan: PlanPro}.Validate(), true},
		{"tenant no id", Tenant{Name: "acme", Plan: PlanFree}.Validate(), false},
		{"tenant id with space", Tenant{ID: "t 1", Name: "acme", Plan: PlanFree}.Validate(), false},
		{"tenant id too long", Tenant{ID: strings.Repeat("x", 65), Name: "acme", Plan: PlanFree}.Validate(), false},
		{"tenant bad plan", Tenant{ID: "t1", Name: "acme", Plan: "x"}.Validate(), false},
		{"tenant bad salt", Tenant{ID: "t1", Name: "acme", Plan: PlanFree, Salt: make([]byte, 8)}.Validate(), false},
		{"tenant negative limit", Tenant{ID: "t1", Name: "acme", Plan: PlanFree, Limits: Limits{SubRequests: -1}}.Validate(), false},
		{"update ignores name", Tenant{ID: "t1", Name: "Not Valid", Plan: PlanFree}.ValidateUpdate(), true},
		{"update needs id", Tenant{Plan: PlanFree}.ValidateUpdate(), false},
		{"site ok", Site{ID: "s1", TenantID: "t1", Name: "blog"}.Validate(), true},
		{"site no tenant", Site{ID: "s1", Name: "blog"}.Validate(), false},
		{"site active", Site{ID: "s1", TenantID: "t1", Name: "blog", ActiveDeployment: "d1"}.Validate(), false},
		{"deployment ok", Deployment{ID: "d1", SiteID: "s1", Worker: okHash, Manifest: assets.Manifest{"/a": {Hash: okHash}}}.Validate(), true},
		{"deployment id not a label", Deployment{ID: "d_1", SiteID: "s1"}.Validate(), false},
		{"deployment bad worker", Deployment{ID: "d1", SiteID: "s1", Worker: "main.wasm"}.Validate(), false},
		{"deployment bad entry hash", Deployment{ID: "d1", SiteID: "s1", Manifest: assets.Manifest{"/a": {Hash: "ABC"}}}.Validate(), false},
		{"deployment negative size", Deployment{ID: "d1", SiteID: "s1", Manifest: assets.Manifest{"/a": {Hash: okHash, Size: -1}}}.Validate(), false},
		{"admin token ok", Token{ID: "k1", Name: "ci", Hash: sha}.Validate(), true},
		{"tenant token ok", Token{ID: "k1", TenantID: "t1", Name: "ci", Hash: sha}.Validate(), true},
		{"token no name", Token{ID: "k1", Hash: sha}.Validate(), false},
		{"token plaintext", Token{ID: "k1", Name: "ci", Hash: "pier_secret"}.Validate(), false},
		{"token uppercase hash", Token{ID: "k1", Name: "ci", Hash: strings.ToUpper(sha)}.Validate(), false},
		{"session ok", UploadSession{ID: "u1", SiteID: "s1", Expires: time.Now()}.Validate(), true},
		{"session no expiry", UploadSession{ID: "u1", SiteID: "s1"}.Validate(), false},
		{"session bad hash", UploadSession{ID: "u1", SiteID: "s1", Expires: time.Now(), Manifest: assets.Manifest{"/a": {}}}.Validate(), false},
		{"session worker ok", UploadSession{ID: "u1", SiteID: "s1", Expires: time.Now(), Worker: &WorkerBlob{Hash: okHash, Size: 8}}.Validate(), true},
		{"session worker bad hash", UploadSession{ID: "u1", SiteID: "s1", Expires: time.Now(), Worker: &WorkerBlob{Hash: "app.wasm", Size: 8}}.Validate(), false},
		{"session worker negative size", UploadSession{ID: "u1", SiteID: "s1", Expires: time.Now(), Worker: &WorkerBlob{Hash: okHash, Size: -1}}.Validate(), false},
		{"blob ok", Blob{Hash: okHash, Size: 1}.Validate(), true},
		{"blob bad hash", Blob{Hash: "zz", Size: 1}.Validate(), false},
		{"blob negative variant", Blob{Hash: okHash, GzSize: -1}.Validate(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.ok && tc.err != nil {
				t.Errorf("got %v, want nil", tc.err)
			}
			if !tc.ok && !errors.Is(tc.err, ErrInvalid) {
				t.Errorf("got %v, want ErrInvalid", tc.err)
			}
		})
	}
}

func TestDeploymentSummary(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := Deployment{
		ID: "d1", SiteID: "s1", TenantID: "t1", Worker: okHash,
		Manifest: assets.Manifest{"/a": {Hash: okHash, Size: 10}, "/b": {Hash: okHash, Size: 32}, "/empty": {Hash: okHash}},
		Source:   Source{Type: "git", Commit: "abc"},
		Created:  created,
	}
	want := DeploymentSummary{ID: "d1", SiteID: "s1", Files: 3, Bytes: 42, Worker: okHash, Source: Source{Type: "git", Commit: "abc"}, Created: created}
	if got := d.Summary(); got != want {
		t.Errorf("Summary() = %+v, want %+v", got, want)
	}
	if got := (Deployment{ID: "d2"}).Summary(); got.Files != 0 || got.Bytes != 0 {
		t.Errorf("Summary of an empty deployment = %+v", got)
	}
}
