package admin

import (
	"net/http"

	"github.com/pierhq/pier/tenants"
)

// bulkTenants applies one change — a plan, or disabled/enabled — to every
// tenant with a tag, atomically (POST /api/v1/tenants/bulk, admin only):
// Workers for Platforms' "tags for bulk operations". It answers how many
// tenants had the tag and which of them changed; a tenant already in the
// asked state is matched but not changed.
func (a *API) bulkTenants(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		Tag      string  `json:"tag"`
		Plan     *string `json:"plan"`
		Disabled *bool   `json:"disabled"`
	}
	if err := decodeJSON(w, r, maxMetadataBody, &req); err != nil {
		return err
	}
	if req.Tag == "" {
		return &FieldError{Field: "tag", Msg: "name the tag (key:value) whose tenants change"}
	}
	if err := tenants.ValidateTags([]string{req.Tag}); err != nil {
		return invalidField("tag", err)
	}
	if req.Plan == nil && req.Disabled == nil {
		return &FieldError{Field: "plan", Msg: "nothing to change: give plan, disabled or both"}
	}
	if req.Plan != nil {
		if err := tenants.ValidatePlan(*req.Plan); err != nil {
			return invalidField("plan", err)
		}
	}
	matched, err := a.store.Tenants(ctx, tenants.TenantFilter{Tag: req.Tag})
	if err != nil {
		return err
	}
	var changed []tenants.Tenant
	var toggled []string // tenants whose serving state or limits changed
	for _, t := range matched {
		u := t
		if req.Plan != nil {
			u.Plan = *req.Plan
		}
		if req.Disabled != nil {
			u.Disabled = *req.Disabled
		}
		if u.Plan == t.Plan && u.Disabled == t.Disabled {
			continue
		}
		changed = append(changed, u)
		// A change of what is served or of the limits the edge applies
		// (worker limits, request rate) reaches the edge at once.
		if u.Disabled != t.Disabled || u.EffectiveLimits() != t.EffectiveLimits() {
			toggled = append(toggled, u.ID)
		}
	}
	if err := a.store.UpdateTenants(ctx, changed); err != nil {
		return lookupErr("tenant", req.Tag, err)
	}
	for _, id := range toggled {
		a.invalidateSites(ctx, id)
	}
	out := make([]tenantJSON, 0, len(changed))
	for _, t := range changed {
		out = append(out, tenantView(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tag": req.Tag, "matched": len(matched), "changed": out})
	return nil
}
