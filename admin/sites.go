package admin

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pierhq/pier/internal/dnsname"
	"github.com/pierhq/pier/tenants"
)

// siteJSON is a Site as the API shows it: with its public URL and the
// owning tenant's hash salt, which clients need to compute content hashes
// (only ever shown to that tenant and to admins).
type siteJSON struct {
	tenants.Site
	URL      string `json:"url"`
	HashSalt string `json:"hash_salt"`
}

func (a *API) siteView(s tenants.Site, salt []byte) siteJSON {
	s.ProductionBranch = productionBranch(s)
	return siteJSON{Site: s, URL: a.SiteURL(s.Name), HashSalt: hex.EncodeToString(salt)}
}

// SiteURL returns the public URL of the site named name.
func (a *API) SiteURL(name string) string {
	return a.cfg.EdgeURL(dnsname.SiteHost(name, a.cfg.Domain))
}

// PreviewURL returns the public URL of deployment id of the site named
// site.
func (a *API) PreviewURL(site, id string) string {
	return a.cfg.EdgeURL(dnsname.PreviewHost(id, site, a.cfg.Domain))
}

// saltOf returns the hash salt of the tenant owning objects the principal
// may see, loading it only when it is not the principal's own tenant.
func (a *API) saltOf(ctx context.Context, p *principal, tenantID string) ([]byte, error) {
	if p.tenant.ID == tenantID {
		return p.tenant.Salt, nil
	}
	t, err := a.store.Tenant(ctx, tenantID)
	if err != nil {
		return nil, lookupErr("tenant", tenantID, err)
	}
	return t.Salt, nil
}

func (a *API) createSite(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := principalFrom(ctx)
	var req struct {
		Name   string `json:"name"`
		Tenant string `json:"tenant"`
	}
	if err := decodeJSON(w, r, maxMetadataBody, &req); err != nil {
		return err
	}
	if err := tenants.ValidateName("site", req.Name); err != nil {
		return invalidField("name", err)
	}
	var t tenants.Tenant
	switch {
	case req.Tenant != "":
		var err error
		if t, err = a.tenantFor(ctx, p, req.Tenant); err != nil {
			return err
		}
	case p.admin():
		return &FieldError{Field: "tenant", Msg: "an admin token must name the site's tenant"}
	default:
		t = p.tenant
	}
	s := tenants.Site{
		ID:       tenants.NewID("s_", 5),
		TenantID: t.ID,
		Name:     req.Name,
		Created:  a.now(),
		// Set explicitly so that every store writes the same default.
		ProductionBranch: tenants.DefaultProductionBranch,
	}
	if err := a.withCountQuota(ctx, t, "sites", func() error { return a.store.CreateSite(ctx, s) }); err != nil {
		return lookupErr("site", s.Name, err)
	}
	a.cfg.OnActivate(s)
	writeJSON(w, http.StatusCreated, a.siteView(s, t.Salt))
	return nil
}

// maxSiteSearch is the longest ?q= of a site listing: a site name's length.
const maxSiteSearch = 63

// errBadSiteSearch answers a ?q= that no part of a site name can be.
var errBadSiteSearch = &FieldError{Field: "q",
	Msg: fmt.Sprintf("q must be at most %d letters, digits and hyphens (part of a site name)", maxSiteSearch)}

// siteSearch reads ?q= of a site listing, lowercased: "" for none.
func siteSearch(r *http.Request) (string, error) {
	q := strings.ToLower(r.URL.Query().Get("q"))
	if len(q) > maxSiteSearch {
		return "", errBadSiteSearch
	}
	for _, c := range []byte(q) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return "", errBadSiteSearch
		}
	}
	return q, nil
}

func (a *API) listSites(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := principalFrom(ctx)
	if p.siteScoped() {
		return a.listOwnSite(w, r, p)
	}
	tenantID := p.token.TenantID // "" lists all for an admin
	if ref := r.URL.Query().Get("tenant"); ref != "" {
		t, err := a.tenantFor(ctx, p, ref)
		if err != nil {
			return err
		}
		tenantID = t.ID
	}
	search, err := siteSearch(r)
	if err != nil {
		return err
	}
	page, err := pageRequest(r)
	if err != nil {
		return err
	}
	list, next, err := a.store.SitesPage(ctx, tenants.SiteFilter{TenantID: tenantID, Search: search}, page)
	if err != nil {
		return pageErr("listing sites", err)
	}
	salts := map[string][]byte{}
	out := make([]siteJSON, 0, len(list))
	for _, s := range list {
		salt, ok := salts[s.TenantID]
		if !ok {
			if salt, err = a.saltOf(ctx, p, s.TenantID); err != nil {
				return err
			}
			salts[s.TenantID] = salt
		}
		out = append(out, a.siteView(s, salt))
	}
	writePage(w, "sites", out, next)
	return nil
}

// listOwnSite answers GET /sites for a site token: its one site (if it
// matches ?q=), on one page; a cursor can only have come from another
// listing. ?tenant= is refused as every tenant-wide question is.
func (a *API) listOwnSite(w http.ResponseWriter, r *http.Request, p *principal) error {
	if r.URL.Query().Get("tenant") != "" {
		return errSiteTokenForbidden
	}
	search, err := siteSearch(r)
	if err != nil {
		return err
	}
	page, err := pageRequest(r)
	if err != nil {
		return err
	}
	out := []siteJSON{}
	if page.Cursor != "" {
		if _, err := tenants.DecodeCursor(tenants.CursorSites, page.Cursor); err != nil {
			return pageErr("listing sites", err)
		}
	} else if strings.Contains(p.site.Name, search) {
		out = append(out, a.siteView(p.site, p.tenant.Salt))
	}
	writePage(w, "sites", out, "")
	return nil
}

func (a *API) getSite(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := principalFrom(ctx)
	s, err := a.siteFor(ctx, p, chi.URLParam(r, "site"))
	if err != nil {
		return err
	}
	salt, err := a.saltOf(ctx, p, s.TenantID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.siteView(s, salt))
	return nil
}

func (a *API) deleteSite(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	s, err := a.siteFor(ctx, principalFrom(ctx), chi.URLParam(r, "site"))
	if err != nil {
		return err
	}
	domains, err := a.store.Domains(ctx, s.ID)
	if err != nil {
		return fmt.Errorf("admin: listing domains of %s: %w", s.Name, err)
	}
	if err := a.store.DeleteSite(ctx, s.ID); err != nil {
		return lookupErr("site", s.Name, err)
	}
	for _, d := range domains {
		if d.Status == tenants.DomainActive {
			a.cfg.OnDomainChange(d.Hostname)
		}
	}
	a.sessions.dropWhere(func(idx *sessionIndex) bool { return idx.siteID == s.ID })
	a.cfg.OnActivate(s)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
