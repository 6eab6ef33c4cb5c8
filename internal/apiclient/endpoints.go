package apiclient

import (
	"context"
	"io"
	"net/http"
	"net/url"
)

// CreateTenant creates a tenant (admin only).
func (c *Client) CreateTenant(ctx context.Context, body CreateTenant) (*Tenant, error) {
	var t Tenant
	err := c.do(ctx, request{method: http.MethodPost, path: "/tenants", body: body, out: &t})
	return ret(&t, err)
}

// ListTenants lists tenants, only those carrying tag when tag is non-empty,
// reading every page.
// A tenant token sees only its own tenant.
func (c *Client) ListTenants(ctx context.Context, tag string) ([]Tenant, error) {
	var q url.Values
	if tag != "" {
		q = url.Values{"tag": {tag}}
	}
	return listAll[Tenant](ctx, c, "/tenants", q, "tenants")
}

// GetTenant returns a tenant by id or name.
func (c *Client) GetTenant(ctx context.Context, tenant string) (*Tenant, error) {
	var t Tenant
	err := c.do(ctx, request{method: http.MethodGet, path: "/tenants/" + esc(tenant), out: &t})
	return ret(&t, err)
}

// UpdateTenant changes the non-nil fields of body (admin only).
func (c *Client) UpdateTenant(ctx context.Context, tenant string, body UpdateTenant) (*Tenant, error) {
	var t Tenant
	err := c.do(ctx, request{method: http.MethodPatch, path: "/tenants/" + esc(tenant), body: body, out: &t})
	return ret(&t, err)
}

// BulkTenants is the body of BulkUpdateTenants: a change for every tenant
// carrying Tag.
type BulkTenants struct {
	Tag      string  `json:"tag"`
	Plan     *string `json:"plan,omitempty"`
	Disabled *bool   `json:"disabled,omitempty"`
}

// BulkResult is what a bulk change did: how many tenants carry the tag,
// and those that changed, as they are now.
type BulkResult struct {
	Tag     string   `json:"tag"`
	Matched int      `json:"matched"`
	Changed []Tenant `json:"changed"`
}

// BulkUpdateTenants changes every tenant carrying a tag at once, or none
// (admin only).
func (c *Client) BulkUpdateTenants(ctx context.Context, body BulkTenants) (*BulkResult, error) {
	var r BulkResult
	err := c.do(ctx, request{method: http.MethodPost, path: "/tenants/bulk", body: body, out: &r})
	return ret(&r, err)
}

// DeleteTenant deletes a tenant (admin only).
func (c *Client) DeleteTenant(ctx context.Context, tenant string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: "/tenants/" + esc(tenant)})
}

// CreateTenantToken creates a token scoped to tenant; the answer's Secret
// is the only time the secret is shown.
func (c *Client) CreateTenantToken(ctx context.Context, tenant, name string) (*Token, error) {
	var t Token
	err := c.do(ctx, request{method: http.MethodPost, path: "/tenants/" + esc(tenant) + "/tokens",
		body: map[string]string{"name": name}, out: &t})
	return ret(&t, err)
}

// ListTenantTokens lists the tokens of a tenant (never their secrets),
// reading every page.
func (c *Client) ListTenantTokens(ctx context.Context, tenant string) ([]Token, error) {
	return listAll[Token](ctx, c, "/tenants/"+esc(tenant)+"/tokens", nil, "tokens")
}

// CreateSiteToken creates a site token: the site's tenant restricted to
// site. The answer's Secret is the only time the secret is shown.
func (c *Client) CreateSiteToken(ctx context.Context, site, name string) (*Token, error) {
	var t Token
	err := c.do(ctx, request{method: http.MethodPost, path: "/sites/" + esc(site) + "/tokens",
		body: map[string]string{"name": name}, out: &t})
	return ret(&t, err)
}

// ListSiteTokens lists the tokens of a site (never their secrets),
// reading every page.
func (c *Client) ListSiteTokens(ctx context.Context, site string) ([]Token, error) {
	return listAll[Token](ctx, c, "/sites/"+esc(site)+"/tokens", nil, "tokens")
}

// CreateAdminToken creates a platform-wide token (admin only).
func (c *Client) CreateAdminToken(ctx context.Context, name string) (*Token, error) {
	var t Token
	err := c.do(ctx, request{method: http.MethodPost, path: "/tokens", body: map[string]string{"name": name}, out: &t})
	return ret(&t, err)
}

// ListAdminTokens lists the platform-wide tokens (admin only; never their
// secrets), reading every page.
func (c *Client) ListAdminTokens(ctx context.Context) ([]Token, error) {
	return listAll[Token](ctx, c, "/tokens", nil, "tokens")
}

// DeleteToken revokes a token by id.
func (c *Client) DeleteToken(ctx context.Context, id string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: "/tokens/" + esc(id)})
}

// CreateSite creates a site of tenant (id or name; may be empty with a
// tenant token).
func (c *Client) CreateSite(ctx context.Context, name, tenant string) (*Site, error) {
	body := struct {
		Name   string `json:"name"`
		Tenant string `json:"tenant,omitempty"`
	}{name, tenant}
	var s Site
	err := c.do(ctx, request{method: http.MethodPost, path: "/sites", body: body, out: &s})
	return ret(&s, err)
}

// ListSites lists sites, only tenant's when tenant is non-empty, reading
// every page.
func (c *Client) ListSites(ctx context.Context, tenant string) ([]Site, error) {
	return c.SearchSites(ctx, tenant, "")
}

// SearchSites lists the sites whose name contains search
// (case-insensitively; at most 63 letters, digits and hyphens, or the
// API answers 400 naming q), only tenant's when tenant is non-empty,
// reading every page. An empty search lists all, as ListSites.
func (c *Client) SearchSites(ctx context.Context, tenant, search string) ([]Site, error) {
	q := url.Values{}
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	if search != "" {
		q.Set("q", search)
	}
	return listAll[Site](ctx, c, "/sites", q, "sites")
}

// GetSite returns a site by id or name, with its tenant's hash salt.
func (c *Client) GetSite(ctx context.Context, site string) (*Site, error) {
	var s Site
	err := c.do(ctx, request{method: http.MethodGet, path: "/sites/" + esc(site), out: &s})
	return ret(&s, err)
}

// SetProductionBranch sets the git branch whose pushes go live on site
// (PATCH /sites/{site}); the answer is the site.
func (c *Client) SetProductionBranch(ctx context.Context, site, branch string) (*Site, error) {
	body := struct {
		ProductionBranch string `json:"production_branch"`
	}{branch}
	var s Site
	err := c.do(ctx, request{method: http.MethodPatch, path: "/sites/" + esc(site), body: body, out: &s})
	return ret(&s, err)
}

// SiteGit returns a site's git remote, production branch and branches.
func (c *Client) SiteGit(ctx context.Context, site string) (*SiteGit, error) {
	var g SiteGit
	err := c.do(ctx, request{method: http.MethodGet, path: "/sites/" + esc(site) + "/git", out: &g})
	return ret(&g, err)
}

// DeleteSite deletes a site.
func (c *Client) DeleteSite(ctx context.Context, site string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: "/sites/" + esc(site)})
}

// CreateUpload opens an upload session for site with the manifest (path →
// hash and size) of the deployment to come; the answer lists the hashes
// the server lacks.
func (c *Client) CreateUpload(ctx context.Context, site string, manifest map[string]ManifestEntry) (*UploadSession, error) {
	return c.CreateWorkerUpload(ctx, site, manifest, nil)
}

// CreateWorkerUpload is CreateUpload for a deployment that also carries a
// worker (the compiled wasm's salted hash and size; nil for none): the
// answer's Missing includes the worker's hash if the server lacks it, to be
// sent with PutBlob like any blob.
func (c *Client) CreateWorkerUpload(ctx context.Context, site string, manifest map[string]ManifestEntry, worker *ManifestEntry) (*UploadSession, error) {
	body := struct {
		Manifest map[string]ManifestEntry `json:"manifest"`
		Worker   *ManifestEntry           `json:"worker,omitempty"`
	}{manifest, worker}
	var u UploadSession
	err := c.do(ctx, request{method: http.MethodPost, path: "/sites/" + esc(site) + "/uploads", body: body, out: &u})
	return ret(&u, err)
}

// PutBlob uploads the size bytes read from r as the blob with the given
// hash into an upload session. The body is streamed with a Content-Length;
// r is read once, so a retry needs a fresh reader.
func (c *Client) PutBlob(ctx context.Context, upload, hash string, r io.Reader, size int64) error {
	if size == 0 {
		r = http.NoBody
	}
	return c.do(ctx, request{method: http.MethodPut, path: "/uploads/" + esc(upload) + "/blobs/" + esc(hash),
		raw: io.NopCloser(io.LimitReader(r, size)), size: size})
}

// CreateDeployment creates a deployment of site from a complete upload
// session.
func (c *Client) CreateDeployment(ctx context.Context, site string, body CreateDeployment) (*Deployment, error) {
	var d Deployment
	err := c.do(ctx, request{method: http.MethodPost, path: "/sites/" + esc(site) + "/deployments", body: body, out: &d})
	return ret(&d, err)
}

// ListDeployments lists the deployments of site, newest first, reading
// every page.
func (c *Client) ListDeployments(ctx context.Context, site string) ([]Deployment, error) {
	return listAll[Deployment](ctx, c, "/sites/"+esc(site)+"/deployments", nil, "deployments")
}

// GetDeployment returns one deployment of site with its manifest.
func (c *Client) GetDeployment(ctx context.Context, site, id string) (*Deployment, error) {
	var d Deployment
	err := c.do(ctx, request{method: http.MethodGet, path: "/sites/" + esc(site) + "/deployments/" + esc(id), out: &d})
	return ret(&d, err)
}

// ActivateDeployment makes deployment id the live one of site (a rollback
// when it is older than the current one).
func (c *Client) ActivateDeployment(ctx context.Context, site, id string) (*Deployment, error) {
	var d Deployment
	err := c.do(ctx, request{method: http.MethodPost, path: "/sites/" + esc(site) + "/deployments/" + esc(id) + "/activate", out: &d})
	return ret(&d, err)
}

// CreateDomain claims hostname for site; the answer lists the DNS records
// to create.
func (c *Client) CreateDomain(ctx context.Context, site, hostname string) (*Domain, error) {
	body := struct {
		Hostname string `json:"hostname"`
	}{hostname}
	var d Domain
	err := c.do(ctx, request{method: http.MethodPost, path: "/sites/" + esc(site) + "/domains", body: body, out: &d})
	return ret(&d, err)
}

// ListDomains lists site's custom domains, reading every page.
func (c *Client) ListDomains(ctx context.Context, site string) ([]Domain, error) {
	return listAll[Domain](ctx, c, "/sites/"+esc(site)+"/domains", nil, "domains")
}

// GetDomain returns site's custom domain hostname.
func (c *Client) GetDomain(ctx context.Context, site, hostname string) (*Domain, error) {
	var d Domain
	err := c.do(ctx, request{method: http.MethodGet, path: "/sites/" + esc(site) + "/domains/" + esc(hostname), out: &d})
	return ret(&d, err)
}

// VerifyDomain checks site's custom domain hostname now and returns it
// after the check.
func (c *Client) VerifyDomain(ctx context.Context, site, hostname string) (*Domain, error) {
	var d Domain
	err := c.do(ctx, request{method: http.MethodPost, path: "/sites/" + esc(site) + "/domains/" + esc(hostname) + "/verify", out: &d})
	return ret(&d, err)
}

// BlockDomain blocks site's claim on hostname (operator tokens only): it
// is never checked and, if active, stops being served at once.
func (c *Client) BlockDomain(ctx context.Context, site, hostname string) (*Domain, error) {
	return c.domainAction(ctx, site, hostname, "block")
}

// UnblockDomain puts a blocked claim back to pending (operator tokens
// only).
func (c *Client) UnblockDomain(ctx context.Context, site, hostname string) (*Domain, error) {
	return c.domainAction(ctx, site, hostname, "unblock")
}

func (c *Client) domainAction(ctx context.Context, site, hostname, action string) (*Domain, error) {
	var d Domain
	err := c.do(ctx, request{method: http.MethodPost, path: "/sites/" + esc(site) + "/domains/" + esc(hostname) + "/" + action, out: &d})
	return ret(&d, err)
}

// DeleteDomain removes site's custom domain hostname.
func (c *Client) DeleteDomain(ctx context.Context, site, hostname string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: "/sites/" + esc(site) + "/domains/" + esc(hostname)})
}

// OpenAPI returns the server's OpenAPI document (no token needed).
func (c *Client) OpenAPI(ctx context.Context) (map[string]any, error) {
	var doc map[string]any
	err := c.do(ctx, request{method: http.MethodGet, path: "/openapi.json", out: &doc})
	return doc, err
}

func ret[T any](v *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return v, nil
}
