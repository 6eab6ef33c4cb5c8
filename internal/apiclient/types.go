package apiclient

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/tenants"
)

// Tenant is the API's view of a tenant (the hash salt is never shown).
type Tenant struct {
	ID              string         `json:"id"`
	Name            string         `json:"name"`
	Plan            string         `json:"plan"`
	Limits          tenants.Limits `json:"limits"`
	EffectiveLimits tenants.Limits `json:"effective_limits"`
	// Usage is what the tenant uses of its quotas: set by GetTenant and
	// UpdateTenant, not in listings.
	Usage     *tenants.QuotaUsage `json:"usage,omitempty"`
	Tags      []string            `json:"tags"`
	Disabled  bool                `json:"disabled"`
	CreatedAt time.Time           `json:"created_at"`
}

// CreateTenant is the body of POST /tenants.
type CreateTenant struct {
	Name   string          `json:"name"`
	Plan   string          `json:"plan,omitempty"` // the server defaults to "free"
	Tags   []string        `json:"tags,omitempty"`
	Limits *tenants.Limits `json:"limits,omitempty"`
}

// UpdateTenant is the body of PATCH /tenants/{tenant}; nil fields are left
// unchanged.
type UpdateTenant struct {
	Plan     *string         `json:"plan,omitempty"`
	Limits   *tenants.Limits `json:"limits,omitempty"`
	Tags     *[]string       `json:"tags,omitempty"`
	Disabled *bool           `json:"disabled,omitempty"`
}

// Site is the API's view of a site.
type Site struct {
	ID               string    `json:"id"`
	TenantID         string    `json:"tenant_id"`
	Name             string    `json:"name"`
	ActiveDeployment string    `json:"active_deployment"`
	ProductionBranch string    `json:"production_branch"` // the git branch whose pushes go live
	URL              string    `json:"url"`
	HashSalt         string    `json:"hash_salt"` // the owning tenant's salt, hex
	CreatedAt        time.Time `json:"created_at"`
}

// Salt decodes HashSalt.
func (s Site) Salt() ([]byte, error) {
	b, err := hex.DecodeString(s.HashSalt)
	if err != nil {
		return nil, fmt.Errorf("apiclient: site %s: bad hash_salt %q: %w", s.Name, s.HashSalt, err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("apiclient: site %s: the server sent no hash_salt", s.Name)
	}
	return b, nil
}

// DeploymentConfig is the serving configuration sent with a new deployment
// and reported back by the server (which fills in the defaults).
type DeploymentConfig struct {
	HTMLHandling     string            `json:"html_handling,omitempty"`
	NotFoundHandling string            `json:"not_found_handling,omitempty"`
	RunWorkerFirst   []string          `json:"run_worker_first,omitempty"`
	Vars             map[string]string `json:"vars,omitempty"`
	// KV binds the tenant's namespaces by name; the server resolves each
	// to its NamespaceID (a client's is ignored).
	KV []tenants.KVBinding `json:"kv,omitempty"`
}

// Source says where a deployment came from.
type Source struct {
	Type   string `json:"type"` // cli, api, ui, git
	Commit string `json:"commit,omitempty"`
	Branch string `json:"branch,omitempty"`
	Tree   string `json:"tree,omitempty"` // the git tree a push deployed (set by the server)
}

// SiteGit is GET /sites/{site}/git: how to push to a site and its
// branches.
type SiteGit struct {
	// Remote is the clone URL of the site's repository; "" when the
	// server does not accept git pushes.
	Remote           string      `json:"remote,omitempty"`
	ProductionBranch string      `json:"production_branch"`
	Branches         []GitBranch `json:"branches"`
}

// GitBranch is one branch of a site's repository.
type GitBranch struct {
	Name       string `json:"name"` // without refs/heads/
	Commit     string `json:"commit"`
	Deployment string `json:"deployment"` // what its latest push deployed
	Alias      string `json:"alias,omitempty"`
	// URL is the branch alias's address (<alias>--<site>.<domain>); ""
	// for a branch without an alias (the production branch).
	URL        string `json:"url"`
	Production bool   `json:"production"`
}

// Deployment is the API's view of a deployment. Manifest is only filled by
// GetDeployment.
type Deployment struct {
	ID         string           `json:"id"`
	SiteID     string           `json:"site_id"`
	Files      int              `json:"files"` // files published (assets.Manifest.Files): no rules file, no worker
	Bytes      int64            `json:"bytes"` // their total size
	Worker     string           `json:"worker,omitempty"`
	Config     DeploymentConfig `json:"config"`
	Source     Source           `json:"source"`
	Active     bool             `json:"active"`
	URL        string           `json:"url"`
	PreviewURL string           `json:"preview_url"`
	CreatedAt  time.Time        `json:"created_at"`
	Manifest   assets.Manifest  `json:"manifest,omitempty"`
}

// CreateDeployment is the body of POST /sites/{site}/deployments.
type CreateDeployment struct {
	Upload string           `json:"upload"`
	Config DeploymentConfig `json:"config"`
	Source Source           `json:"source"`
	// Activate makes the deployment live; nil means the server's default (true).
	Activate *bool `json:"activate,omitempty"`
}

// Token is an API token. Secret is only set in the answer that created it.
type Token struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id,omitempty"`
	SiteID    string    `json:"site_id,omitempty"` // set for a site token
	Site      string    `json:"site,omitempty"`    // its site's name, in the answers about one site's tokens
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	Secret    string    `json:"token,omitempty"`
}

// ManifestEntry is one file of an upload session's manifest.
type ManifestEntry struct {
	Hash string `json:"hash"`
	Size int64  `json:"size"`
}

// UploadSession is the answer to creating an upload session: the hashes
// the server lacks and must be sent with PutBlob.
type UploadSession struct {
	ID        string    `json:"id"`
	Missing   []string  `json:"missing"`
	ExpiresAt time.Time `json:"expires_at"`
}

// DNSRecord is a DNS record to create for a custom domain.
type DNSRecord struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Domain is a site's custom hostname with its verification and
// certificate state and the records to create.
type Domain struct {
	Hostname      string      `json:"hostname"`
	Site          string      `json:"site"`
	SiteID        string      `json:"site_id"`
	TenantID      string      `json:"tenant_id"`
	Status        string      `json:"status"` // pending, active, moved, blocked
	Token         string      `json:"token"`
	VerifiedAt    time.Time   `json:"verified_at,omitzero"`
	CheckedAt     time.Time   `json:"checked_at,omitzero"`
	NextCheck     time.Time   `json:"next_check,omitzero"`
	Error         string      `json:"error,omitempty"`
	CertStatus    string      `json:"cert_status"`
	CertError     string      `json:"cert_error,omitempty"`
	CertNextRetry time.Time   `json:"cert_next_retry,omitzero"`
	Records       []DNSRecord `json:"records"`
	HTTPProof     string      `json:"http_proof"`
	CreatedAt     time.Time   `json:"created_at"`
}
