package admin

import (
	"net/http"
	"slices"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/pierhq/pier/tenants"
)

// tokenJSON is a Token as the API shows it; Secret is set only in the
// answer that creates it, Site (the site's name) only in the answers
// about one site's tokens.
type tokenJSON struct {
	tenants.Token
	Site   string `json:"site,omitempty"`
	Secret string `json:"token,omitempty"`
}

const maxTokenName = 200

// newToken creates a token of tenantID ("": an admin token), restricted to
// site when its ID is set.
func (a *API) newToken(w http.ResponseWriter, r *http.Request, tenantID string, site tenants.Site) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, maxMetadataBody, &req); err != nil {
		return err
	}
	if req.Name == "" || len(req.Name) > maxTokenName || !utf8.ValidString(req.Name) {
		return &FieldError{Field: "name", Msg: "a token needs a name of 1-200 bytes of UTF-8"}
	}
	secret := NewTokenSecret()
	t := tenants.Token{
		ID:       tenants.NewID("tok_", 5),
		TenantID: tenantID,
		SiteID:   site.ID,
		Name:     req.Name,
		Hash:     HashToken(secret),
		Created:  a.now(),
	}
	if err := a.store.CreateToken(r.Context(), t); err != nil {
		return lookupErr("token", t.ID, err)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, tokenJSON{Token: t, Site: site.Name, Secret: secret})
	return nil
}

// listTokens answers one page of the tokens of tenantID ("": admin
// tokens).
func (a *API) listTokens(w http.ResponseWriter, r *http.Request, tenantID string) error {
	page, err := pageRequest(r)
	if err != nil {
		return err
	}
	list, next, err := a.store.TokensPage(r.Context(), tenantID, page)
	if err != nil {
		return pageErr("listing tokens", err)
	}
	out := make([]tokenJSON, 0, len(list))
	for _, t := range list {
		out = append(out, tokenJSON{Token: t})
	}
	writePage(w, "tokens", out, next)
	return nil
}

func (a *API) createTenantToken(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenantFor(r.Context(), principalFrom(r.Context()), chi.URLParam(r, "tenant"))
	if err != nil {
		return err
	}
	return a.newToken(w, r, t.ID, tenants.Site{})
}

func (a *API) listTenantTokens(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	t, err := a.tenantFor(ctx, principalFrom(ctx), chi.URLParam(r, "tenant"))
	if err != nil {
		return err
	}
	return a.listTokens(w, r, t.ID)
}

func (a *API) createAdminToken(w http.ResponseWriter, r *http.Request) error {
	return a.newToken(w, r, "", tenants.Site{})
}

// createSiteToken creates a site token: its tenant restricted to the site
// (POST /api/v1/sites/{site}/tokens, admin or the site's tenant).
func (a *API) createSiteToken(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	s, err := a.siteFor(ctx, principalFrom(ctx), chi.URLParam(r, "site"))
	if err != nil {
		return err
	}
	return a.newToken(w, r, s.TenantID, s)
}

// listSiteTokens answers one page of a site's tokens, oldest first.
func (a *API) listSiteTokens(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	s, err := a.siteFor(ctx, principalFrom(ctx), chi.URLParam(r, "site"))
	if err != nil {
		return err
	}
	page, err := pageRequest(r)
	if err != nil {
		return err
	}
	list, next, err := a.store.SiteTokensPage(ctx, s.ID, page)
	if err != nil {
		return pageErr("listing tokens", err)
	}
	out := make([]tokenJSON, 0, len(list))
	for _, t := range list {
		out = append(out, tokenJSON{Token: t, Site: s.Name})
	}
	writePage(w, "tokens", out, next)
	return nil
}

func (a *API) listAdminTokens(w http.ResponseWriter, r *http.Request) error {
	return a.listTokens(w, r, "")
}

// deleteToken deletes any token for an admin, and only its own tenant's
// tokens (its site tokens included) for a tenant token: others are not
// found. Site tokens may not delete tokens (the route is tenantLevel).
func (a *API) deleteToken(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := principalFrom(ctx)
	id := chi.URLParam(r, "token")
	if !p.admin() {
		own, err := a.store.Tokens(ctx, p.token.TenantID)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(own, func(t tenants.Token) bool { return t.ID == id }) {
			return notFound("token", id)
		}
	}
	if err := a.store.DeleteToken(ctx, id); err != nil {
		return lookupErr("token", id, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
