package admin

import (
	"context"
	"fmt"
	"math"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/pierhq/pier/tenants"
)

// tenantJSON is a Tenant as the API shows it (the salt is never shown).
type tenantJSON struct {
	tenants.Tenant
	EffectiveLimits tenants.Limits `json:"effective_limits"`
	// Usage is what the tenant uses of its quotas: only in the answers
	// about one tenant (GET and PATCH), not in listings.
	Usage *tenants.QuotaUsage `json:"usage,omitempty"`
}

func tenantView(t tenants.Tenant) tenantJSON {
	if t.Tags == nil {
		t.Tags = []string{}
	}
	return tenantJSON{Tenant: t, EffectiveLimits: t.EffectiveLimits()}
}

// maxLimit bounds every limit, far above any plan's, so that no limit
// overflows once converted (storageMB to bytes, cpuMs to a Duration,
// keepDays to a date): a huge keepDays would otherwise wrap to a date in
// the future and let retention delete recent deployments.
const maxLimit = math.MaxInt32

func validateLimits(l tenants.Limits) error {
	for _, f := range l.Fields() {
		switch {
		case f.Value < 0:
			return &FieldError{Field: "limits." + f.Name, Msg: "must not be negative (0 means the plan's)"}
		case f.Value > maxLimit:
			return &FieldError{Field: "limits." + f.Name, Msg: fmt.Sprintf("must be at most %d", maxLimit)}
		}
	}
	return nil
}

func (a *API) createTenant(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name   string         `json:"name"`
		Plan   string         `json:"plan"`
		Tags   []string       `json:"tags"`
		Limits tenants.Limits `json:"limits"`
	}
	if err := decodeJSON(w, r, maxMetadataBody, &req); err != nil {
		return err
	}
	if req.Plan == "" {
		req.Plan = tenants.PlanFree
	}
	if err := tenants.ValidateName("tenant", req.Name); err != nil {
		return invalidField("name", err)
	}
	if err := tenants.ValidatePlan(req.Plan); err != nil {
		return invalidField("plan", err)
	}
	if err := tenants.ValidateTags(req.Tags); err != nil {
		return invalidField("tags", err)
	}
	if err := validateLimits(req.Limits); err != nil {
		return err
	}
	t := tenants.Tenant{
		ID:      tenants.NewID("t_", 5),
		Name:    req.Name,
		Plan:    req.Plan,
		Limits:  req.Limits,
		Tags:    req.Tags,
		Salt:    tenants.NewSalt(),
		Created: a.now(),
	}
	if err := a.store.CreateTenant(r.Context(), t); err != nil {
		return lookupErr("tenant", t.Name, err)
	}
	writeJSON(w, http.StatusCreated, tenantView(t))
	return nil
}

func (a *API) listTenants(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	tag := r.URL.Query().Get("tag")
	if tag != "" {
		if err := tenants.ValidateTags([]string{tag}); err != nil {
			return invalidField("tag", err)
		}
	}
	page, err := pageRequest(r)
	if err != nil {
		return err
	}
	var (
		list []tenants.Tenant
		next string
	)
	if p.admin() {
		if list, next, err = a.store.TenantsPage(r.Context(), tenants.TenantFilter{Tag: tag}, page); err != nil {
			return pageErr("listing tenants", err)
		}
	} else {
		// A tenant sees one tenant, its own, on one page; a cursor can
		// only have come from another listing.
		if page.Cursor != "" {
			if _, err := tenants.DecodeCursor(tenants.CursorTenants, page.Cursor); err != nil {
				return pageErr("listing tenants", err)
			}
		} else if tag == "" || p.tenant.HasTag(tag) {
			list = []tenants.Tenant{p.tenant}
		}
	}
	out := make([]tenantJSON, 0, len(list))
	for _, t := range list {
		out = append(out, tenantView(t))
	}
	writePage(w, "tenants", out, next)
	return nil
}

func (a *API) getTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenantFor(r.Context(), principalFrom(r.Context()), chi.URLParam(r, "tenant"))
	if err != nil {
		return err
	}
	return a.writeTenantWithUsage(w, r, t)
}

func (a *API) updateTenant(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	t, err := a.tenantFor(ctx, principalFrom(ctx), chi.URLParam(r, "tenant"))
	if err != nil {
		return err
	}
	var req struct {
		Plan     *string         `json:"plan"`
		Limits   *tenants.Limits `json:"limits"`
		Tags     *[]string       `json:"tags"`
		Disabled *bool           `json:"disabled"`
	}
	if err := decodeJSON(w, r, maxMetadataBody, &req); err != nil {
		return err
	}
	wasDisabled, wasLimits := t.Disabled, t.EffectiveLimits()
	if req.Plan != nil {
		if err := tenants.ValidatePlan(*req.Plan); err != nil {
			return invalidField("plan", err)
		}
		t.Plan = *req.Plan
	}
	if req.Limits != nil {
		if err := validateLimits(*req.Limits); err != nil {
			return err
		}
		t.Limits = *req.Limits
	}
	if req.Tags != nil {
		if err := tenants.ValidateTags(*req.Tags); err != nil {
			return invalidField("tags", err)
		}
		t.Tags = *req.Tags
	}
	if req.Disabled != nil {
		t.Disabled = *req.Disabled
	}
	if err := a.store.UpdateTenant(ctx, t); err != nil {
		return lookupErr("tenant", t.ID, err)
	}
	// What is served and the limits the edge applies (worker limits,
	// request rate) change at once, not at the routes' next revalidation.
	if t.Disabled != wasDisabled || t.EffectiveLimits() != wasLimits {
		a.invalidateSites(ctx, t.ID)
		a.quotas.forgetLimit(t.ID) // workers' KV writes on this node
	}
	return a.writeTenantWithUsage(w, r, t)
}

func (a *API) deleteTenant(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	t, err := a.tenantFor(ctx, principalFrom(ctx), chi.URLParam(r, "tenant"))
	if err != nil {
		return err
	}
	sites, err := a.store.Sites(ctx, t.ID)
	if err != nil {
		return err
	}
	var hosts []string // active custom domains, which stop with the tenant
	for _, s := range sites {
		ds, err := a.store.Domains(ctx, s.ID)
		if err != nil {
			return fmt.Errorf("admin: listing domains of %s: %w", s.Name, err)
		}
		for _, d := range ds {
			if d.Status == tenants.DomainActive {
				hosts = append(hosts, d.Hostname)
			}
		}
	}
	if err := a.store.DeleteTenant(ctx, t.ID); err != nil {
		return lookupErr("tenant", t.ID, err)
	}
	a.sessions.dropWhere(func(idx *sessionIndex) bool { return idx.tenantID == t.ID })
	for _, s := range sites {
		a.cfg.OnActivate(s)
	}
	for _, h := range hosts {
		a.cfg.OnDomainChange(h)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// invalidateSites tells the edge about every site of a tenant whose
// serving state or limits changed (e.g. it was disabled), and about their active
// custom domains. A listing failure is only
// logged: the change itself is stored.
func (a *API) invalidateSites(ctx context.Context, tenantID string) {
	sites, err := a.store.Sites(ctx, tenantID)
	if err != nil {
		a.log.ErrorContext(ctx, "listing sites to invalidate", "tenant_id", tenantID, "err", err)
		return
	}
	for _, s := range sites {
		a.cfg.OnActivate(s)
		domains, err := a.store.Domains(ctx, s.ID)
		if err != nil {
			a.log.ErrorContext(ctx, "listing domains to invalidate", "site", s.Name, "err", err)
			continue
		}
		for _, d := range domains {
			if d.Status == tenants.DomainActive {
				a.cfg.OnDomainChange(d.Hostname)
			}
		}
	}
}
