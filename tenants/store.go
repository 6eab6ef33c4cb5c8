package tenants

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors every Store returns (wrapped); callers test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
	ErrInvalid  = errors.New("invalid")
)

// TenantFilter selects tenants in Store.Tenants. Zero fields match all.
type TenantFilter struct {
	Tag string // "key:value"
}

// SiteFilter selects sites in Store.SitesPage. Zero fields match all.
type SiteFilter struct {
	TenantID string // only this tenant's sites
	// Search keeps the sites whose name contains it, case-insensitively
	// (site names are lowercase). LIKE wildcards in it match literally.
	Search string
}

// DeploymentSummary is a Deployment without its manifest, for listings.
type DeploymentSummary struct {
	ID      string    `json:"id"`
	SiteID  string    `json:"site_id"`
	Files   int       `json:"files"` // files published (assets.Manifest.Files)
	Bytes   int64     `json:"bytes"`
	Worker  string    `json:"worker,omitempty"`
	Source  Source    `json:"source"`
	Created time.Time `json:"created_at"`
}

// Store persists the domain model. Implementations are safe for concurrent
// use, return errors wrapping ErrNotFound / ErrConflict / ErrInvalid, and
// must pass storetest.Run.
//
// Lookups that take "ref" accept either the ID or the unique name.
//
// Paginated listings (the ...Page methods) return the rows of the
// unpaginated listing of the same name, in the same order, p.Size() at a
// time, and the cursor of the next page ("" on the last page). They use
// keyset pagination on a unique, immutable sort key (name, hostname, or
// creation time and insertion order), so a cursor stays valid while rows
// are added or deleted: no row present during the whole walk is skipped
// or repeated. A cursor they did not issue is an error wrapping
// ErrInvalidCursor.
type Store interface {
	CreateTenant(ctx context.Context, t Tenant) error // ErrConflict when the name is taken
	Tenant(ctx context.Context, ref string) (Tenant, error)
	Tenants(ctx context.Context, f TenantFilter) ([]Tenant, error) // ordered by name
	UpdateTenant(ctx context.Context, t Tenant) error              // plan, limits, tags, disabled
	DeleteTenant(ctx context.Context, id string) error             // and its sites, deployments, tokens, sessions (upload and console); its blobs and git packs are queued for deletion (LifecycleStore)
	// UpdateTenants updates every tenant of ts as UpdateTenant does, in
	// one transaction: all or none (the error names the first that failed).
	UpdateTenants(ctx context.Context, ts []Tenant) error
	// TenantsPage is Tenants one page at a time (see Paginated listings).
	TenantsPage(ctx context.Context, f TenantFilter, p PageRequest) (list []Tenant, next string, err error)

	CreateSite(ctx context.Context, s Site) error // ErrConflict when the name is taken platform-wide
	Site(ctx context.Context, ref string) (Site, error)
	Sites(ctx context.Context, tenantID string) ([]Site, error) // "" lists all; ordered by name
	DeleteSite(ctx context.Context, id string) error            // and its deployments, sessions, domains and site tokens; its git packs are queued for deletion (LifecycleStore)
	// SitesPage is Sites one page at a time (see Paginated listings),
	// filtered by f; a cursor stays valid with the same filter.
	SitesPage(ctx context.Context, f SiteFilter, p PageRequest) (list []Site, next string, err error)

	CreateDeployment(ctx context.Context, d Deployment) error
	Deployment(ctx context.Context, siteID, id string) (Deployment, error)
	Deployments(ctx context.Context, siteID string) ([]DeploymentSummary, error) // newest first
	DeploymentsPage(ctx context.Context, siteID string, p PageRequest) (list []DeploymentSummary, next string, err error)
	// Activate makes deployment id the site's live deployment in one atomic
	// update. ErrNotFound when the site or the deployment (of that site)
	// does not exist.
	Activate(ctx context.Context, siteID, id string) error

	// CreateToken stores a token: ErrConflict when its ID or hash exists,
	// ErrNotFound when its tenant or site does not, ErrInvalid when its
	// site belongs to another tenant.
	CreateToken(ctx context.Context, t Token) error
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// Tokens lists a tenant's tokens, its site tokens included ("" lists
	// admin tokens), oldest first.
	Tokens(ctx context.Context, tenantID string) ([]Token, error)
	TokensPage(ctx context.Context, tenantID string, p PageRequest) (list []Token, next string, err error)
	// SiteTokensPage lists one page of a site's tokens, oldest first (the
	// rows of Tokens of the site's tenant whose SiteID is siteID).
	SiteTokensPage(ctx context.Context, siteID string, p PageRequest) (list []Token, next string, err error)
	DeleteToken(ctx context.Context, id string) error // and the console sessions signed in with it

	CreateUploadSession(ctx context.Context, s UploadSession) error
	UploadSession(ctx context.Context, id string) (UploadSession, error) // ErrNotFound once expired
	DeleteUploadSession(ctx context.Context, id string) error
	DeleteExpiredUploadSessions(ctx context.Context, now time.Time) (int, error)

	// TenantUsage returns what tenant tenantID uses of its quotas now,
	// read in one snapshot (quota.go): its sites, its sites' domain
	// claims, its unexpired upload sessions and their entries, and the
	// raw size of its blobs in the blob index. An unknown tenant uses
	// nothing.
	TenantUsage(ctx context.Context, tenantID string) (QuotaUsage, error)

	// CreateConsoleSession stores a console session. ErrNotFound when its
	// token does not exist, ErrConflict when its hash does.
	CreateConsoleSession(ctx context.Context, s ConsoleSession) error
	// ConsoleSession returns the session whose secret hashes to hash, with
	// its token's hash filled in, whether or not it has expired (the
	// caller checks). ErrNotFound when it, or its token, is gone.
	ConsoleSession(ctx context.Context, hash string) (ConsoleSession, error)
	// TouchConsoleSession sets a session's idle expiry. ErrNotFound when
	// the session is gone.
	TouchConsoleSession(ctx context.Context, hash string, idleExpires time.Time) error
	// DeleteConsoleSession deletes a session (signing out). ErrNotFound
	// when it is gone.
	DeleteConsoleSession(ctx context.Context, hash string) error
	// DeleteExpiredConsoleSessions deletes the sessions whose idle or
	// absolute expiry is before now and returns how many it deleted.
	DeleteExpiredConsoleSessions(ctx context.Context, now time.Time) (int, error)

	// PutBlobs records blobs verified and stored for a tenant (upsert), so
	// publishing can answer "which hashes are missing" with one query.
	PutBlobs(ctx context.Context, tenantID string, blobs []Blob) error
	// Blobs returns the recorded blobs among hashes; absent ones, and
	// those queued for deletion (LifecycleStore), are omitted.
	Blobs(ctx context.Context, tenantID string, hashes []string) (map[string]Blob, error)

	// CreateDomain stores a site's claim on a hostname (TenantID may be
	// empty: it is the site's). ErrConflict when the site already claims
	// the hostname, ErrNotFound when the site does not exist. Other sites
	// may hold claims on the same hostname; at most one is active.
	CreateDomain(ctx context.Context, d Domain) error
	// Domain returns site siteID's claim on host.
	Domain(ctx context.Context, siteID, host string) (Domain, error)
	// Domains lists a site's claims ordered by hostname.
	Domains(ctx context.Context, siteID string) ([]Domain, error)
	DomainsPage(ctx context.Context, siteID string, p PageRequest) (list []Domain, next string, err error)
	// DomainClaims lists every site's claim on host, oldest first.
	DomainClaims(ctx context.Context, host string) ([]Domain, error)
	// ActiveDomain returns the active claim on host (ErrNotFound: none).
	ActiveDomain(ctx context.Context, host string) (Domain, error)
	// ActiveDomains lists the hostnames of every active claim of a tenant
	// that is not disabled.
	ActiveDomains(ctx context.Context) ([]string, error)
	// DomainsDue returns at most limit claims whose NextCheck is set and
	// not after now, earliest first.
	DomainsDue(ctx context.Context, now time.Time, limit int) ([]Domain, error)
	// DomainsNeedingAttention returns at most limit claims an operator
	// should look at, newest first: a failed certificate, a blocked
	// claim, or a pending claim whose last check failed.
	DomainsNeedingAttention(ctx context.Context, limit int) ([]Domain, error)
	// UpdateDomain writes a claim's status, token and verification fields
	// (identified by SiteID and Hostname); its certificate fields are left
	// as they are while it stays active. When it is not active its
	// certificate error and retry are cleared and its certificate status
	// is d.CertStatus when that is pending_validation, none otherwise (the
	// caller knows whether certificates are obtained at all).
	// Making a claim active atomically demotes any other site's active
	// claim on the hostname to moved (with an error saying so, no check
	// scheduled, and its certificate status pending_validation, or none
	// when it was none: certificates are not obtained), so the hostname
	// moves in one step. ErrNotFound when the claim is gone.
	UpdateDomain(ctx context.Context, d Domain) error
	// UpdateDomainCert writes the certificate fields of the active claim
	// on host. ErrNotFound when host has no active claim.
	UpdateDomainCert(ctx context.Context, host, status, certErr string, nextRetry time.Time) error
	// DeleteDomain deletes site siteID's claim on host.
	DeleteDomain(ctx context.Context, siteID, host string) error

	// AddUsage adds each row's counters to the stored minute row of its
	// (site, minute), creating it when absent, in one transaction: nodes
	// writing the same minute add up. At most one row per (site, minute)
	// in rows. Usage rows have no foreign keys: they outlive their site
	// until retention removes them.
	AddUsage(ctx context.Context, rows []UsageRow) error
	// UsageSeries returns q's non-empty buckets, oldest first.
	UsageSeries(ctx context.Context, q UsageQuery) ([]UsagePoint, error)
	// CompactUsage rolls the minute rows of the hour before now's and of
	// now's hour up into hourly rows (replacing them: it is idempotent, so
	// every node may run it, at once too; a store may skip a call while
	// another node's runs), then deletes minute rows older than
	// UsageMinuteRetention and hourly rows older than UsageHourRetention.
	CompactUsage(ctx context.Context, now time.Time) error

	// GitStore persists sites' git repositories (git.go).
	GitStore

	Close() error
}

// Blob is the index record of a stored, verified blob of a tenant and of
// its pre-compressed variants (size 0 = no such variant).
type Blob struct {
	Hash   string `json:"hash"`
	Size   int64  `json:"size"`
	BrSize int64  `json:"br_size,omitempty"`
	GzSize int64  `json:"gz_size,omitempty"`
}

// Kinds of Change.
const (
	ChangeSite   = "site"   // Key: the site's name
	ChangeDomain = "domain" // Key: the hostname
	ChangeTenant = "tenant" // Key: the tenant's ID
	ChangeResync = "resync" // Key: ""; reload everything
	ChangeKV     = "kv"     // Key: KVChangeKey(namespace ID, key)
)

// Change says that state a node may cache changed, made by any node
// sharing the store. Writes fan out to what they affect, so a consumer
// never has to look up what is gone:
//
//   - ChangeSite: the site was created or deleted, a deployment of it was
//     activated (or rolled back to), or its tenant was disabled,
//     re-enabled or deleted.
//   - ChangeDomain: a claim on the hostname was created or deleted, or a
//     claim's status changed (it became active, moved to another site,
//     stopped being active); also for every claim of a deleted site or
//     tenant and every active claim of a tenant disabled or re-enabled.
//     Re-checks that leave the status as it was and certificate status
//     updates send nothing.
//   - ChangeTenant: the tenant was updated (plan, limits, tags, disabled)
//     or deleted; its sites and domains come as their own changes when
//     their serving state changed.
//   - ChangeResync: changes may have been missed (the feed just connected
//     or reconnected): reload every cache.
//
// Writes that change nothing a node caches send nothing: creating a
// tenant or a deployment (not live yet), tokens, upload sessions, blobs.
type Change struct {
	Kind string
	Key  string
	// Err, on a ChangeResync after a lost connection, is the last error
	// seen since the feed was last connected (for logging); nil on the
	// first one.
	Err error
}

// ChangeWatcher is implemented by stores several nodes share
// (pgstore), so each node can drop what it cached when another changes
// the registry. A store that does not implement it (sqlitestore) has a
// single process writing to it, whose own callbacks see every change.
type ChangeWatcher interface {
	// WatchChanges calls fn with each change committed by any client of
	// the store, including this process, until ctx ends, then returns
	// ctx.Err(). Delivery is at least once while the feed is connected and
	// in commit order; a consumer must treat changes as idempotent hints
	// (duplicates and changes that turn out to change nothing happen).
	// The first call of fn, and the first after every reconnection, is a
	// ChangeResync: whatever happened while the feed was not connected is
	// not replayed. Connection failures are retried with a capped
	// exponential backoff, never returned; a consumer keeps a slow
	// periodic reload as a fallback. fn is called from one goroutine at a
	// time and must not block for long: changes queue up behind it.
	WatchChanges(ctx context.Context, fn func(Change)) error
}
