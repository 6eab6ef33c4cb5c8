package storetest

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

func (h *harness) domain(t *testing.T, host, siteID string, created time.Time) tenants.Domain {
	t.Helper()
	d := tenants.Domain{
		Hostname: host, SiteID: siteID, Status: tenants.DomainPending, Token: "tok-" + siteID,
		CertStatus: tenants.CertNone, NextCheck: created.Add(time.Minute), Created: created,
	}
	mustNil(t, "CreateDomain("+host+")", h.s.CreateDomain(h.ctx, d))
	return d
}

func normDomain(d tenants.Domain) tenants.Domain {
	for _, p := range []*time.Time{&d.VerifiedAt, &d.CheckedAt, &d.NextCheck, &d.CertNextRetry, &d.Created} {
		if !p.IsZero() {
			*p = ms(*p)
		}
	}
	return d
}

func equalDomain(t *testing.T, what string, got, want tenants.Domain) {
	t.Helper()
	if g, w := normDomain(got), normDomain(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func hostnames(ds []tenants.Domain) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.Hostname+"@"+d.SiteID)
	}
	return out
}

func testDomainRoundTrip(t *testing.T, h *harness) {
	h.tenant(t, "ta", "acme")
	h.site(t, "sa", "ta", "blog")
	d := h.domain(t, "www.example.com", "sa", baseTime)
	d.TenantID = "ta"
	got, err := h.s.Domain(h.ctx, "sa", "www.example.com")
	mustNil(t, "Domain", err)
	equalDomain(t, "Domain", got, d)
	if !got.VerifiedAt.IsZero() || !got.CertNextRetry.IsZero() {
		t.Errorf("unset times came back set: %+v", got)
	}

	// Every mutable field round-trips.
	d.Status = tenants.DomainActive
	d.VerifiedAt = baseTime.Add(time.Second)
	d.CheckedAt = baseTime.Add(2 * time.Second)
	d.NextCheck = time.Time{}
	d.Error = "last check: nothing"
	// UpdateDomain leaves the certificate fields alone.
	upd := d
	upd.CertStatus, upd.CertError = tenants.CertActive, "ignored"
	mustNil(t, "UpdateDomain", h.s.UpdateDomain(h.ctx, upd))
	got, err = h.s.Domain(h.ctx, "sa", "www.example.com")
	mustNil(t, "Domain after update", err)
	equalDomain(t, "Domain after update", got, d)

	// UpdateDomainCert writes them, on the active claim only.
	d.CertStatus, d.CertError, d.CertNextRetry = tenants.CertFailed, "rate limited", baseTime.Add(time.Hour)
	mustNil(t, "UpdateDomainCert", h.s.UpdateDomainCert(h.ctx, "www.example.com", d.CertStatus, d.CertError, d.CertNextRetry))
	got, err = h.s.Domain(h.ctx, "sa", "www.example.com")
	mustNil(t, "Domain after UpdateDomainCert", err)
	equalDomain(t, "Domain after UpdateDomainCert", got, d)
	wantErr(t, "UpdateDomainCert of an unknown host", h.s.UpdateDomainCert(h.ctx, "nope.example.com", tenants.CertActive, "", time.Time{}), tenants.ErrNotFound)
	wantErr(t, "UpdateDomainCert with a bad status", h.s.UpdateDomainCert(h.ctx, "www.example.com", "issued", "", time.Time{}), tenants.ErrInvalid)
	active, err := h.s.ActiveDomain(h.ctx, "www.example.com")
	mustNil(t, "ActiveDomain", err)
	equalDomain(t, "ActiveDomain", active, d)
	hosts, err := h.s.ActiveDomains(h.ctx)
	mustNil(t, "ActiveDomains", err)
	if !slices.Equal(hosts, []string{"www.example.com"}) {
		t.Errorf("ActiveDomains = %v", hosts)
	}

	// Leaving active resets the certificate fields: the status to the
	// caller's when it is pending_validation, none otherwise.
	moved := d
	moved.Status = tenants.DomainMoved
	mustNil(t, "UpdateDomain to moved", h.s.UpdateDomain(h.ctx, moved))
	got, err = h.s.Domain(h.ctx, "sa", "www.example.com")
	mustNil(t, "Domain after moving", err)
	if got.CertStatus != tenants.CertNone || got.CertError != "" || !got.CertNextRetry.IsZero() {
		t.Errorf("certificate fields after leaving active with status %s: %+v", moved.CertStatus, got)
	}
	for _, st := range []string{tenants.CertPendingValidation, tenants.CertNone, tenants.CertPendingValidation} {
		moved.CertStatus = st
		mustNil(t, "UpdateDomain of a moved claim", h.s.UpdateDomain(h.ctx, moved))
		got, err = h.s.Domain(h.ctx, "sa", "www.example.com")
		mustNil(t, "Domain after updating a moved claim", err)
		if got.CertStatus != st || got.CertError != "" || !got.CertNextRetry.IsZero() {
			t.Errorf("certificate fields of a moved claim updated with %s: %+v", st, got)
		}
	}
	wantErr(t, "UpdateDomainCert of a moved claim", h.s.UpdateDomainCert(h.ctx, "www.example.com", tenants.CertActive, "", time.Time{}), tenants.ErrNotFound)

	mustNil(t, "DeleteDomain", h.s.DeleteDomain(h.ctx, "sa", "www.example.com"))
	_, err = h.s.Domain(h.ctx, "sa", "www.example.com")
	wantErr(t, "Domain after delete", err, tenants.ErrNotFound)
	wantErr(t, "DeleteDomain again", h.s.DeleteDomain(h.ctx, "sa", "www.example.com"), tenants.ErrNotFound)
	hosts, err = h.s.ActiveDomains(h.ctx)
	mustNil(t, "ActiveDomains after delete", err)
	nonNil(t, "ActiveDomains", hosts == nil)
	if len(hosts) != 0 {
		t.Errorf("ActiveDomains after delete = %v", hosts)
	}
}

func testDomainErrors(t *testing.T, h *harness) {
	h.tenant(t, "ta", "acme")
	h.tenant(t, "tb", "bob")
	h.site(t, "sa", "ta", "blog")
	h.domain(t, "example.com", "sa", baseTime)
	valid := tenants.Domain{Hostname: "a.example.org", SiteID: "sa", Status: tenants.DomainPending, Token: "t1", CertStatus: tenants.CertNone}
	with := func(f func(*tenants.Domain)) tenants.Domain { d := valid; f(&d); return d }
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"same site claims twice", h.s.CreateDomain(h.ctx, with(func(d *tenants.Domain) { d.Hostname = "example.com" })), tenants.ErrConflict},
		{"unknown site", h.s.CreateDomain(h.ctx, with(func(d *tenants.Domain) { d.SiteID = "s9" })), tenants.ErrNotFound},
		{"tenant mismatch", h.s.CreateDomain(h.ctx, with(func(d *tenants.Domain) { d.TenantID = "tb" })), tenants.ErrInvalid},
		{"uppercase hostname", h.s.CreateDomain(h.ctx, with(func(d *tenants.Domain) { d.Hostname = "A.example.org" })), tenants.ErrInvalid},
		{"IP hostname", h.s.CreateDomain(h.ctx, with(func(d *tenants.Domain) { d.Hostname = "192.0.2.1" })), tenants.ErrInvalid},
		{"bad status", h.s.CreateDomain(h.ctx, with(func(d *tenants.Domain) { d.Status = "live" })), tenants.ErrInvalid},
		{"bad cert status", h.s.CreateDomain(h.ctx, with(func(d *tenants.Domain) { d.CertStatus = "ok" })), tenants.ErrInvalid},
		{"no token", h.s.CreateDomain(h.ctx, with(func(d *tenants.Domain) { d.Token = "" })), tenants.ErrInvalid},
		{"update missing claim", h.s.UpdateDomain(h.ctx, valid), tenants.ErrNotFound},
		{"get missing", func() error { _, err := h.s.Domain(h.ctx, "sa", "nope.example"); return err }(), tenants.ErrNotFound},
		{"no active claim", func() error { _, err := h.s.ActiveDomain(h.ctx, "example.com"); return err }(), tenants.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.err, tc.want) })
	}
}

// testDomainMove checks that several sites may claim a hostname, only one
// claim is active, and activating another claim moves the hostname.
func testDomainMove(t *testing.T, h *harness) {
	h.tenant(t, "ta", "acme")
	h.tenant(t, "tb", "bob")
	h.site(t, "sa", "ta", "blog")
	h.site(t, "sb", "tb", "shop")
	a := h.domain(t, "www.example.com", "sa", baseTime)
	b := h.domain(t, "www.example.com", "sb", baseTime.Add(time.Second))
	claims, err := h.s.DomainClaims(h.ctx, "www.example.com")
	mustNil(t, "DomainClaims", err)
	if got := hostnames(claims); !slices.Equal(got, []string{"www.example.com@sa", "www.example.com@sb"}) {
		t.Errorf("DomainClaims = %v", got)
	}

	// A pending claim keeps the pending_validation its caller writes.
	b.CertStatus = tenants.CertPendingValidation
	mustNil(t, "recheck b", h.s.UpdateDomain(h.ctx, b))
	if got, err := h.s.Domain(h.ctx, "sb", "www.example.com"); err != nil || got.CertStatus != tenants.CertPendingValidation {
		t.Errorf("pending claim written with pending_validation = %+v, %v", got, err)
	}

	a.Status, a.VerifiedAt = tenants.DomainActive, baseTime
	mustNil(t, "activate a", h.s.UpdateDomain(h.ctx, a))
	mustNil(t, "certificate of a", h.s.UpdateDomainCert(h.ctx, a.Hostname, tenants.CertFailed, "rate limited", baseTime.Add(time.Hour)))
	b.Status = tenants.DomainActive
	mustNil(t, "activate b", h.s.UpdateDomain(h.ctx, b))

	active, err := h.s.ActiveDomain(h.ctx, "www.example.com")
	mustNil(t, "ActiveDomain", err)
	if active.SiteID != "sb" || active.TenantID != "tb" {
		t.Errorf("active claim is %s/%s, want sb/tb", active.SiteID, active.TenantID)
	}
	old, err := h.s.Domain(h.ctx, "sa", "www.example.com")
	mustNil(t, "old claim", err)
	if old.Status != tenants.DomainMoved || old.Error == "" || !old.NextCheck.IsZero() ||
		old.CertStatus != tenants.CertPendingValidation || old.CertError != "" || !old.CertNextRetry.IsZero() {
		t.Errorf("old claim after the move = %+v, want moved with an error, no check scheduled, certificate pending_validation", old)
	}
	// Without certificates (status none) the demoted claim stays at none.
	mustNil(t, "UpdateDomainCert of b", h.s.UpdateDomainCert(h.ctx, b.Hostname, tenants.CertNone, "", time.Time{}))
	a.Status = tenants.DomainActive
	mustNil(t, "activate a again", h.s.UpdateDomain(h.ctx, a))
	if old, err := h.s.Domain(h.ctx, "sb", "www.example.com"); err != nil || old.Status != tenants.DomainMoved || old.CertStatus != tenants.CertNone {
		t.Errorf("claim demoted with certificate status none = %+v, %v", old, err)
	}
	b.Status = tenants.DomainActive
	mustNil(t, "activate b again", h.s.UpdateDomain(h.ctx, b))
	hosts, err := h.s.ActiveDomains(h.ctx)
	mustNil(t, "ActiveDomains", err)
	if !slices.Equal(hosts, []string{"www.example.com"}) {
		t.Errorf("ActiveDomains = %v", hosts)
	}

	// A disabled tenant's domains are not listed.
	tb, err := h.s.Tenant(h.ctx, "tb")
	mustNil(t, "Tenant", err)
	tb.Disabled = true
	mustNil(t, "UpdateTenant", h.s.UpdateTenant(h.ctx, tb))
	hosts, err = h.s.ActiveDomains(h.ctx)
	mustNil(t, "ActiveDomains with the owner disabled", err)
	if len(hosts) != 0 {
		t.Errorf("ActiveDomains with the owner disabled = %v", hosts)
	}
}

func testDomainsListAndDue(t *testing.T, h *harness) {
	h.tenant(t, "ta", "acme")
	h.site(t, "sa", "ta", "blog")
	h.site(t, "sb", "ta", "shop")
	h.domain(t, "b.example.com", "sa", baseTime.Add(3*time.Minute))
	h.domain(t, "a.example.com", "sa", baseTime.Add(2*time.Minute))
	h.domain(t, "c.example.com", "sb", baseTime)
	idle := h.domain(t, "d.example.com", "sb", baseTime.Add(-time.Hour))
	idle.NextCheck = time.Time{}
	mustNil(t, "UpdateDomain idle", h.s.UpdateDomain(h.ctx, idle))

	list, err := h.s.Domains(h.ctx, "sa")
	mustNil(t, "Domains", err)
	if got := hostnames(list); !slices.Equal(got, []string{"a.example.com@sa", "b.example.com@sa"}) {
		t.Errorf("Domains(sa) = %v", got)
	}
	empty, err := h.s.Domains(h.ctx, "s9")
	mustNil(t, "Domains(unknown)", err)
	nonNil(t, "Domains", empty == nil)

	tests := []struct {
		name  string
		now   time.Time
		limit int
		want  []string
	}{
		{"none due yet", baseTime, 10, []string{}},
		{"earliest first", baseTime.Add(time.Hour), 10, []string{"c.example.com@sb", "a.example.com@sa", "b.example.com@sa"}},
		{"bounded", baseTime.Add(time.Hour), 2, []string{"c.example.com@sb", "a.example.com@sa"}},
		{"exactly due", baseTime.Add(3 * time.Minute), 10, []string{"c.example.com@sb", "a.example.com@sa"}},
		{"zero limit", baseTime.Add(time.Hour), 0, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			due, err := h.s.DomainsDue(h.ctx, tc.now, tc.limit)
			mustNil(t, "DomainsDue", err)
			nonNil(t, "DomainsDue", due == nil)
			if got := hostnames(due); !slices.Equal(got, tc.want) {
				t.Errorf("DomainsDue = %v, want %v", got, tc.want)
			}
		})
	}

	// Deleting a site deletes its claims.
	mustNil(t, "DeleteSite", h.s.DeleteSite(h.ctx, "sa"))
	_, err = h.s.Domain(h.ctx, "sa", "a.example.com")
	wantErr(t, "Domain of a deleted site", err, tenants.ErrNotFound)
}

// testDomainsNeedingAttention: failed certificates, blocked claims and
// pending claims whose check failed, newest first, up to the limit; a
// healthy active claim and a pending one not yet checked are left out.
func testDomainsNeedingAttention(t *testing.T, h *harness) {
	h.tenant(t, "ta", "acme")
	h.site(t, "sa", "ta", "blog")
	h.domain(t, "fresh.example.com", "sa", baseTime) // pending, never checked
	failing := h.domain(t, "failing.example.com", "sa", baseTime.Add(time.Minute))
	failing.Error, failing.CheckedAt = "no TXT record at _pier-challenge.failing.example.com", baseTime.Add(2*time.Minute)
	mustNil(t, "UpdateDomain failing", h.s.UpdateDomain(h.ctx, failing))
	blocked := h.domain(t, "blocked.example.com", "sa", baseTime.Add(2*time.Minute))
	blocked.Status = tenants.DomainBlocked
	mustNil(t, "UpdateDomain blocked", h.s.UpdateDomain(h.ctx, blocked))
	for _, host := range []string{"good.example.com", "badcert.example.com"} {
		d := h.domain(t, host, "sa", baseTime.Add(3*time.Minute))
		d.Status, d.VerifiedAt = tenants.DomainActive, baseTime.Add(5*time.Minute)
		mustNil(t, "UpdateDomain "+host, h.s.UpdateDomain(h.ctx, d))
	}
	mustNil(t, "UpdateDomainCert good", h.s.UpdateDomainCert(h.ctx, "good.example.com", tenants.CertActive, "", time.Time{}))
	mustNil(t, "UpdateDomainCert badcert", h.s.UpdateDomainCert(h.ctx, "badcert.example.com", tenants.CertFailed, "rate limited", baseTime.Add(time.Hour)))

	got, err := h.s.DomainsNeedingAttention(h.ctx, 10)
	mustNil(t, "DomainsNeedingAttention", err)
	var hosts []string
	for _, d := range got {
		hosts = append(hosts, d.Hostname)
	}
	want := []string{"badcert.example.com", "blocked.example.com", "failing.example.com"}
	if !slices.Equal(hosts, want) {
		t.Errorf("DomainsNeedingAttention = %v, want %v", hosts, want)
	}
	if len(got) > 0 && got[0].TenantID != "ta" {
		t.Errorf("a claim without its tenant: %+v", got[0])
	}
	got, err = h.s.DomainsNeedingAttention(h.ctx, 1)
	mustNil(t, "DomainsNeedingAttention limit 1", err)
	if len(got) != 1 {
		t.Errorf("limit 1 returned %d claims", len(got))
	}
}
