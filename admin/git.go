package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/httperr"
	"github.com/pierhq/pier/tenants"
)

// What another publisher (internal/gitserve, the git push server) needs of
// the API besides the publish pipeline: the same authentication and
// scoping, the same user-safe errors, and the same change callback.

// ErrGitUnauthorized is AuthorizeGit's error for a missing or unknown
// token: git answers 401 with a WWW-Authenticate challenge.
var ErrGitUnauthorized = errUnauthorized

// AuthorizeGit resolves a token secret (a git password) into the site ref
// (id or name) it may reach and the site's tenant, as the API scopes
// tokens: ErrGitUnauthorized (wrapped) for a missing, malformed or unknown
// token; an error wrapping tenants.ErrNotFound for a site the token may
// not see (another tenant's, or for a site token any but its own); 403
// tenant_disabled when write is set and the tenant is disabled.
func (a *API) AuthorizeGit(ctx context.Context, secret, siteRef string, write bool) (GitGrant, error) {
	if secret == "" || len(secret) > maxSecretLen {
		return GitGrant{}, errUnauthorized
	}
	p, err := a.tokenPrincipal(ctx, HashToken(secret))
	if err != nil {
		return GitGrant{}, err
	}
	s, err := a.siteFor(ctx, p, siteRef)
	if err != nil {
		return GitGrant{}, err
	}
	t := p.tenant
	if p.admin() {
		if t, err = a.store.Tenant(ctx, s.TenantID); err != nil {
			return GitGrant{}, lookupErr("tenant", s.TenantID, err)
		}
	}
	if write && t.Disabled {
		return GitGrant{}, errTenantDisabled
	}
	return GitGrant{Site: s, Tenant: t, SiteToken: p.siteScoped()}, nil
}

// GitGrant is what AuthorizeGit found a token may act on.
type GitGrant struct {
	Site   tenants.Site
	Tenant tenants.Tenant
	// SiteToken: the token is a site token; its pushes deploy with
	// DeployRequest.SiteToken.
	SiteToken bool
}

// PublicError is the user-safe form of err as the API would answer it:
// status, code, message and details (field, line, path, limit…).
// Errors the client cannot act on come back as a 500 or 503 whose
// message says nothing of the cause.
func PublicError(err error) *httperr.Error {
	var he *httperr.Error
	if errors.As(toHTTP(err), &he) {
		return he
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return httperr.New(http.StatusServiceUnavailable, "timeout", "the operation was cancelled or took too long")
	}
	return httperr.New(http.StatusInternalServerError, "internal", "internal error")
}

// SiteChanged tells the node's followers (the edge's route cache, the TLS
// policy) that site's serving state changed outside the API's own calls:
// a git push moved a branch alias or activated a deployment.
func (a *API) SiteChanged(site tenants.Site) { a.cfg.OnActivate(site) }

// Limits are the deployment limits StartUpload enforces (files, bytes per
// file), so another publisher can refuse a manifest before it reads and
// hashes its files.
func (a *API) Limits() assets.Limits { return a.cfg.Limits }
