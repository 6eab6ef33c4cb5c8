package tlspolicy

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/certs"
	"github.com/pierhq/pier/internal/testenv"
	"github.com/pierhq/pier/tenants"
)

// fakeStore is a Store over fakeDomains and fakeSites.
type fakeStore struct {
	*fakeDomains
	*fakeSites
}

// fakeCerts records what the policy asks of the certificate manager.
type fakeCerts struct {
	mu        sync.Mutex
	have      map[string]bool
	obtained  []string
	forgotten []string
	changed   chan string
}

func newFakeCerts() *fakeCerts {
	return &fakeCerts{have: map[string]bool{}, changed: make(chan string, 64)}
}

func (f *fakeCerts) Obtain(host string) error {
	f.mu.Lock()
	f.obtained = append(f.obtained, host)
	f.mu.Unlock()
	f.changed <- "obtain " + host
	return nil
}

func (f *fakeCerts) Forget(host string) {
	f.mu.Lock()
	f.forgotten = append(f.forgotten, host)
	f.mu.Unlock()
	f.changed <- "forget " + host
}

// give puts host's certificate in memory.
func (f *fakeCerts) give(host string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.have[host] = true
}

func (f *fakeCerts) HasCertificate(host string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.have[host]
}

// next waits for the policy's next request to the manager.
func (f *fakeCerts) next(t *testing.T) string {
	t.Helper()
	select {
	case s := <-f.changed:
		return s
	case <-time.After(testenv.Patience):
		t.Fatal("the policy asked nothing of the certificate manager")
		return ""
	}
}

func newTestPolicy(t *testing.T, mode Mode) (*Policy, *fakeStore) {
	t.Helper()
	st := &fakeStore{
		fakeDomains: &fakeDomains{},
		fakeSites: &fakeSites{
			tenants: []tenants.Tenant{{ID: "t1"}, {ID: "t2", Disabled: true}},
			sites:   []tenants.Site{{Name: "blog", TenantID: "t1"}, {Name: "shop", TenantID: "t2"}},
		},
	}
	st.set(tenants.Domain{Hostname: "www.example.com", SiteID: "s1", TenantID: "t1", Status: tenants.DomainActive})
	p := New(st, Config{Domain: "pier.test", Mode: mode})
	if err := p.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p, st
}

func TestAllow(t *testing.T) {
	t.Parallel()
	hosts := []string{"www.example.com", "other.example.com", "blog.pier.test", "shop.pier.test", "nosuch.pier.test", "abc--blog.pier.test", "a.blog.pier.test"}
	tests := []struct {
		mode Mode
		want []bool
	}{
		{Off, []bool{true, false, false, false, false, false, false}},
		{Wildcard, []bool{true, false, false, false, false, false, false}}, // the wildcard is served without asking
		{PerSite, []bool{true, false, true, false, false, false, false}},   // shop's tenant is disabled
		{Internal, []bool{true, false, true, true, true, true, true}},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode)+"_mode", func(t *testing.T) {
			t.Parallel()
			p, _ := newTestPolicy(t, tt.mode)
			for i, h := range hosts {
				if got := p.Allow(h); got != tt.want[i] {
					t.Errorf("Allow(%q) = %v, want %v", h, got, tt.want[i])
				}
			}
		})
	}
}

func TestTenantOf(t *testing.T) {
	t.Parallel()
	p, _ := newTestPolicy(t, PerSite)
	for host, want := range map[string]string{
		"www.example.com":     "t1", // a custom domain: from the store
		"blog.pier.test":      "t1", // a site: from memory
		"abc--blog.pier.test": "",   // previews are not ordered per name
		"unknown.example.com": "",
	} {
		if got := p.TenantOf(host); got != want {
			t.Errorf("TenantOf(%q) = %q, want %q", host, got, want)
		}
	}
	w, _ := newTestPolicy(t, Wildcard)
	if got := w.TenantOf("blog.pier.test"); got != "" {
		t.Errorf("wildcard mode charged a site's tenant: %q", got)
	}
}

// TestSiteChanged: per site, a deleted site's certificate is forgotten
// once Run's reload sees it gone, even when changes race with the reload;
// a new or deployed site orders nothing until its first handshake.
func TestSiteChanged(t *testing.T) {
	t.Parallel()
	p, st := newTestPolicy(t, PerSite)
	c := newFakeCerts()
	p.UseCertificates(c)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	st.fakeSites.mu.Lock()
	st.fakeSites.sites = append(st.fakeSites.sites, tenants.Site{Name: "new", TenantID: "t1"})
	st.fakeSites.mu.Unlock()
	p.SiteChanged("new")
	waitAllowed := func(host string, want bool) {
		t.Helper()
		testenv.WaitFor(t, testenv.Patience, func() error {
			if p.Allow(host) != want {
				return fmt.Errorf("Allow(%s) is not %v", host, want)
			}
			return nil
		})
	}
	waitAllowed("new.pier.test", true)

	st.fakeSites.mu.Lock()
	st.fakeSites.sites = st.fakeSites.sites[:1]
	st.fakeSites.mu.Unlock()
	for range 5 { // a burst, as when a tenant with several sites is deleted
		p.SiteChanged("new")
	}
	if got := c.next(t); got != "forget new.pier.test" {
		t.Fatalf("after deleting a site: %s, want its certificate forgotten", got)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.obtained) != 0 {
		t.Errorf("site changes ordered %v", c.obtained)
	}
}

func TestSiteChangedOutsidePerSite(t *testing.T) {
	t.Parallel()
	p, _ := newTestPolicy(t, Wildcard)
	c := newFakeCerts()
	p.UseCertificates(c)
	p.SiteChanged("blog")
	p.DomainChanged("www.example.com")
	if got := c.next(t); got != "obtain www.example.com" {
		t.Fatalf("a site change in wildcard mode asked %q of the manager", got)
	}
}

func TestDomainChangedAndRedirect(t *testing.T) {
	t.Parallel()
	p, st := newTestPolicy(t, Off)
	c := newFakeCerts()
	if p.RedirectToHTTPS("www.example.com") {
		t.Fatal("redirected to HTTPS with no certificate manager")
	}
	p.UseCertificates(c)
	if p.RedirectToHTTPS("www.example.com") {
		t.Fatal("redirected to HTTPS before the certificate is in memory")
	}
	c.give("www.example.com")
	if !p.RedirectToHTTPS("www.example.com") {
		t.Fatal("an active domain with its certificate is not redirected")
	}
	st.set() // the domain is removed
	p.DomainChanged("www.example.com")
	if p.Allow("www.example.com") || p.RedirectToHTTPS("www.example.com") {
		t.Fatal("a removed domain is still allowed or redirected")
	}
	if got := c.next(t); got != "forget www.example.com" {
		t.Fatalf("after removing a domain: %s, want it forgotten", got)
	}
}

func TestObtainAll(t *testing.T) {
	t.Parallel()
	p, _ := newTestPolicy(t, PerSite)
	c := newFakeCerts()
	p.UseCertificates(c)
	if err := p.ObtainAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(c.obtained) != 1 || c.obtained[0] != "www.example.com" {
		t.Fatalf("ObtainAll requested %v, want the active custom domain only", c.obtained)
	}
}

func TestPlatformSite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		host, site string
		ok         bool
	}{
		{"blog.pier.test", "blog", true},
		{"abc--blog.pier.test", "", false}, // preview: never per-name
		{"a.blog.pier.test", "", false},
		{"pier.test", "", false},
		{".pier.test", "", false},
		{"blog.other.test", "", false},
		{"blogpier.test", "", false},
	} {
		site, ok := PlatformSite(tc.host, "pier.test")
		if site != tc.site || ok != tc.ok {
			t.Errorf("PlatformSite(%q) = %q, %v; want %q, %v", tc.host, site, ok, tc.site, tc.ok)
		}
	}
}

func TestEdgeURL(t *testing.T) {
	t.Parallel()
	const site, preview = "blog.pier.test", "abc123--blog.pier.test"
	for _, tc := range []struct {
		mode               Mode
		wantSite, wantPrev string
	}{
		{Off, "http://blog.pier.test:8080/", "http://abc123--blog.pier.test:8080/"},
		{PerSite, "https://blog.pier.test:8443/", "http://abc123--blog.pier.test:8080/"},
		{Wildcard, "https://blog.pier.test:8443/", "https://abc123--blog.pier.test:8443/"},
		{Internal, "https://blog.pier.test:8443/", "https://abc123--blog.pier.test:8443/"},
	} {
		u := New(&fakeStore{&fakeDomains{}, &fakeSites{}}, Config{Domain: "pier.test", Mode: tc.mode}).EdgeURL(":8080", ":8443")
		if got := u(site); got != tc.wantSite {
			t.Errorf("%q: site URL %s, want %s", tc.mode, got, tc.wantSite)
		}
		if got := u(preview); got != tc.wantPrev {
			t.Errorf("%q: preview URL %s, want %s", tc.mode, got, tc.wantPrev)
		}
	}
	u := New(&fakeStore{&fakeDomains{}, &fakeSites{}}, Config{Domain: "pier.test", Mode: Wildcard}).EdgeURL("", "")
	if got := u(site); got != "https://blog.pier.test/" {
		t.Errorf("default ports: %s", got)
	}
}

func TestChallengeLookup(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := map[string]int{}
	now := time.Unix(1_700_000_000, 0)
	c := newChallengeLookup(func(_ context.Context, h string) bool {
		mu.Lock()
		calls[h]++
		mu.Unlock()
		return h == "www.example.com"
	})
	c.now = func() time.Time { return now }
	if !c.allow("www.example.com") || c.allow("junk.example.com") {
		t.Fatal("answers do not follow the store")
	}
	// Answers are kept for a while: no second lookup.
	for range 5 {
		c.allow("www.example.com")
		c.allow("junk.example.com")
	}
	if calls["www.example.com"] != 1 || calls["junk.example.com"] != 1 {
		t.Errorf("lookups %v, want one per name while the answer is fresh", calls)
	}
	// A flood of distinct names is cut off at the burst; time refills it.
	for i := range 1000 {
		c.allow(fmt.Sprintf("n%d.example.com", i))
	}
	if total := len(calls); total > challengeLookupBurst+2 {
		t.Errorf("%d lookups for a flood of 1,000 names, want at most the burst (%d)", total, challengeLookupBurst)
	}
	now = now.Add(time.Second)
	before := len(calls)
	for i := range 100 {
		c.allow(fmt.Sprintf("m%d.example.com", i))
	}
	if got := len(calls) - before; got != challengeLookupsPerSecond {
		t.Errorf("%d lookups one second later, want %d", got, challengeLookupsPerSecond)
	}
	// Expired answers are looked up again.
	now = now.Add(challengeAnswerTTL)
	c.allow("www.example.com")
	if calls["www.example.com"] != 2 {
		t.Errorf("www.example.com looked up %d times after its answer expired, want 2", calls["www.example.com"])
	}
}

func TestDomainCertStatus(t *testing.T) {
	t.Parallel()
	retry := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   certs.Status
		want CertStatus
		ok   bool
	}{
		{"unknown", certs.Status{State: certs.StateNone}, CertStatus{}, false},
		{"pending", certs.Status{State: certs.StatePending}, CertStatus{Status: tenants.CertPendingIssuance}, true},
		{"active", certs.Status{State: certs.StateActive}, CertStatus{Status: tenants.CertActive}, true},
		{"active_renewal_failed", certs.Status{State: certs.StateActive, Reason: "x"}, CertStatus{Status: tenants.CertActive, Err: "x"}, true},
		{"failed", certs.Status{State: certs.StateFailed, Reason: "refused", NextRetry: retry}, CertStatus{Status: tenants.CertFailed, Err: "refused", NextRetry: retry}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := DomainCertStatus(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("DomainCertStatus(%+v) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestStatusWriterCoalesces: marks made before and while the writer runs
// are written with the manager's status at the time of writing, once per
// burst, and unknown names are skipped.
func TestStatusWriterCoalesces(t *testing.T) {
	t.Parallel()
	w := NewStatusWriter()
	var mu sync.Mutex
	state := map[string]string{"a.example.com": certs.StatePending}
	status := func(h string) certs.Status {
		mu.Lock()
		defer mu.Unlock()
		if s, ok := state[h]; ok {
			return certs.Status{State: s}
		}
		return certs.Status{State: certs.StateNone}
	}
	type rec struct{ host, status string }
	got := make(chan rec, 16)
	set := func(_ context.Context, host, status, _ string, _ time.Time) error {
		got <- rec{host, status}
		return nil
	}
	for range 3 {
		w.Changed("a.example.com") // a burst before Run: one write
	}
	w.Changed("unknown.example.com")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx, status, set, nil); close(done) }()
	defer func() { cancel(); <-done }()
	if r := <-got; r != (rec{"a.example.com", tenants.CertPendingIssuance}) {
		t.Fatalf("first write %+v", r)
	}
	mu.Lock()
	state["a.example.com"] = certs.StateActive
	mu.Unlock()
	w.Changed("a.example.com")
	select {
	case r := <-got:
		if r != (rec{"a.example.com", tenants.CertActive}) {
			t.Fatalf("second write %+v", r)
		}
	case <-time.After(testenv.Patience):
		t.Fatal("a change while running was never written")
	}
	select {
	case r := <-got:
		t.Fatalf("unexpected extra write %+v", r)
	default:
	}
}

// TestConsoleHost: the console host gets a certificate in every mode,
// charged to no tenant, requested at start-up, and plain HTTP for it is
// redirected once the certificate is in memory.
func TestConsoleHost(t *testing.T) {
	t.Parallel()
	st := &fakeStore{fakeDomains: &fakeDomains{}, fakeSites: &fakeSites{}}
	p := New(st, Config{Domain: "pier.test", Mode: Off, ConsoleHost: "console.example.net"})
	if err := p.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !p.Allow("console.example.net") || p.Allow("other.example.net") {
		t.Fatal("Allow does not follow the console host")
	}
	if got := p.TenantOf("console.example.net"); got != "" {
		t.Errorf("the console host is charged to %q", got)
	}
	c := newFakeCerts()
	p.UseCertificates(c)
	if err := p.ObtainAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(c.obtained) != 1 || c.obtained[0] != "console.example.net" {
		t.Errorf("ObtainAll requested %v, want the console host", c.obtained)
	}
	if p.RedirectToHTTPS("console.example.net") {
		t.Error("redirected before the certificate is in memory")
	}
	c.give("console.example.net")
	if !p.RedirectToHTTPS("console.example.net") {
		t.Error("not redirected with the certificate in memory")
	}
	if New(st, Config{Domain: "pier.test"}).Allow("") {
		t.Error("an empty name is allowed without a console host")
	}
}
