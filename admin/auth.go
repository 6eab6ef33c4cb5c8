package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/pierhq/pier/tenants"
)

// TokenPrefix starts every token secret, so secrets are recognisable (and
// greppable by secret scanners).
const TokenPrefix = "pier_"

// maxSecretLen bounds the bearer secret accepted from a request.
const maxSecretLen = 256

// HashToken returns the hex SHA-256 of a token secret, the form in which
// tokens are stored (tenants.Token.Hash).
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewTokenSecret returns a fresh token secret: "pier_" followed by 32
// random bytes in URL-safe base64 without padding.
func NewTokenSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// principal is who a request acts as.
type principal struct {
	token  tenants.Token
	tenant tenants.Tenant // the token's tenant; zero for an admin token
	// site is the one site a site token may act on; zero for other tokens.
	site tenants.Site
	// session is the console session the request came with; nil for a
	// bearer token.
	session *tenants.ConsoleSession
}

func (p *principal) admin() bool { return p.token.Admin() }

// siteScoped reports whether the principal is a site token: its tenant
// restricted to p.site.
func (p *principal) siteScoped() bool { return p.token.SiteScoped() }

// owns reports whether the principal may see objects of tenantID (a site
// token may see only its site of them: see siteFor).
func (p *principal) owns(tenantID string) bool {
	return p.admin() || p.token.TenantID == tenantID
}

func principalFrom(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey).(*principal)
	if p == nil {
		// Only reachable if a route is mounted outside authenticate; act
		// as nobody rather than as an admin.
		return &principal{token: tenants.Token{TenantID: "\x00nobody"}}
	}
	return p
}

// authenticate resolves the request's credentials into a principal: the
// bearer token when there is an Authorization header, else the console
// session cookie. A missing or unknown token or session is 401; a
// disabled tenant's token or session may only read (403 tenant_disabled
// otherwise). Cookie-authenticated requests that change state must pass
// checkCSRF (403 csrf_refused); bearer requests need not, since browsers
// never attach a bearer token on their own.
func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var (
			p   *principal
			err error
		)
		if auth := r.Header.Get("Authorization"); auth != "" {
			scheme, secret, _ := strings.Cut(auth, " ")
			secret = strings.TrimSpace(secret)
			if !strings.EqualFold(scheme, "Bearer") || secret == "" || len(secret) > maxSecretLen {
				a.writeError(w, r, errUnauthorized)
				return
			}
			p, err = a.tokenPrincipal(ctx, HashToken(secret))
		} else if secret := a.sessionSecret(r); secret != "" {
			if !safeMethod(r.Method) {
				if err := a.checkCSRF(r); err != nil {
					a.writeError(w, r, err)
					return
				}
			}
			p, err = a.sessionPrincipal(ctx, secret)
		} else {
			err = errUnauthorized
		}
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if ri, ok := ctx.Value(requestInfoKey).(*requestInfo); ok {
			ri.tokenID = p.token.ID
		}
		if p.tenant.Disabled && r.Method != http.MethodGet && r.Method != http.MethodHead {
			a.writeError(w, r, errTenantDisabled)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, principalKey, p)))
	})
}

// tokenPrincipal resolves a token (by the hash of its secret) into a
// principal: errUnauthorized when the token or its tenant is gone.
func (a *API) tokenPrincipal(ctx context.Context, hash string) (*principal, error) {
	tok, err := a.store.TokenByHash(ctx, hash)
	if errors.Is(err, tenants.ErrNotFound) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("admin: looking up token: %w", err)
	}
	p := &principal{token: tok}
	if !tok.Admin() {
		t, err := a.store.Tenant(ctx, tok.TenantID)
		if errors.Is(err, tenants.ErrNotFound) {
			return nil, errUnauthorized // its tenant is gone
		}
		if err != nil {
			return nil, fmt.Errorf("admin: looking up the token's tenant: %w", err)
		}
		p.tenant = t
	}
	if tok.SiteScoped() {
		s, err := a.store.Site(ctx, tok.SiteID)
		if errors.Is(err, tenants.ErrNotFound) {
			return nil, errUnauthorized // its site is gone
		}
		if err != nil {
			return nil, fmt.Errorf("admin: looking up the token's site: %w", err)
		}
		p.site = s
	}
	return p, nil
}

// adminOnly answers 403 forbidden to tenant tokens.
func (a *API) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !principalFrom(r.Context()).admin() {
			a.writeError(w, r, errForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tenantLevel answers 403 site_token_forbidden to site tokens: it guards
// the routes that act on a tenant as a whole (its sites as a set, its
// tokens, its usage) rather than on one site.
func (a *API) tenantLevel(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if principalFrom(r.Context()).siteScoped() {
			a.writeError(w, r, errSiteTokenForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tenantFor loads the tenant ref (id or name) if p may see it, else
// reports it not found. A site token may not act on its tenant as a whole
// (errSiteTokenForbidden), whichever tenant ref names.
func (a *API) tenantFor(ctx context.Context, p *principal, ref string) (tenants.Tenant, error) {
	if p.siteScoped() {
		return tenants.Tenant{}, errSiteTokenForbidden
	}
	t, err := a.store.Tenant(ctx, ref)
	if err != nil {
		return tenants.Tenant{}, lookupErr("tenant", ref, err)
	}
	if !p.owns(t.ID) {
		return tenants.Tenant{}, notFound("tenant", ref)
	}
	return t, nil
}

// siteFor loads the site ref (id or name) if p may see it, else reports it
// not found: another tenant's site, and for a site token any site but its
// own, are not found.
func (a *API) siteFor(ctx context.Context, p *principal, ref string) (tenants.Site, error) {
	s, err := a.store.Site(ctx, ref)
	if err != nil {
		return tenants.Site{}, lookupErr("site", ref, err)
	}
	if !p.owns(s.TenantID) || p.siteScoped() && s.ID != p.token.SiteID {
		return tenants.Site{}, notFound("site", ref)
	}
	return s, nil
}
