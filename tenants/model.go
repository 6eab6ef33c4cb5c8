// Package tenants owns Pier's domain model — tenants, their plans and limits,
// sites, immutable deployments, custom domains, API tokens, upload
// sessions and KV namespaces — and the Store interface that persists it. Implementations live in subpackages named for
// what they wrap (sqlitestore, pgstore) and pass one conformance suite
// (storetest).
//
// tenants imports only assets (for the Manifest type), internal/dnsname
// (the hostname rules) and the standard library; every other Pier package
// may import it.
package tenants

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strings"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/dnsname"
)

// Plan names. Unknown plan names are rejected by ValidatePlan.
const (
	PlanFree       = "free"
	PlanPro        = "pro"
	PlanEnterprise = "enterprise"
)

// Limits are a tenant's limits: the per-request limits its workers run
// under, the sizes its sites' git repositories may reach, and its Quotas.
// A zero field in an override means "use the plan's value".
type Limits struct {
	CPUMs int `json:"cpuMs,omitempty"`
	// CPUMsPerSecond is how much CPU time the tenant's workers together
	// may use per second on each node (a token bucket allowing a second's
	// worth at once): beyond it requests to its workers are answered 429.
	CPUMsPerSecond int `json:"cpuMsPerSecond,omitempty"`
	SubRequests    int `json:"subRequests,omitempty"`
	MemoryMB       int `json:"memoryMB,omitempty"`
	// GitRepoMB bounds a site's git repository (the sum of its stored
	// packs), GitPushMB the pack of one push (git's receive.maxInputSize).
	GitRepoMB int `json:"gitRepoMB,omitempty"`
	GitPushMB int `json:"gitPushMB,omitempty"`
	// KVOps bounds the KV operations (get, put, delete, list, compare
	// and swap) of one worker invocation; KVValueKB the largest KV value
	// a worker or the API may write.
	KVOps     int `json:"kvOps,omitempty"`
	KVValueKB int `json:"kvValueKB,omitempty"`
	Quotas
}

// Quotas are how fast a tenant's sites may be asked and how much the
// tenant may hold. Their JSON fields sit beside the other limits'.
type Quotas struct {
	// RequestsPerSecond refills, and RequestBurst sizes, a token bucket
	// per site on each node: visitor requests beyond it are answered 429.
	RequestsPerSecond int `json:"requestsPerSecond,omitempty"`
	RequestBurst      int `json:"requestBurst,omitempty"`
	Sites             int `json:"sites,omitempty"`   // sites of the tenant
	Domains           int `json:"domains,omitempty"` // custom domains claimed by its sites together
	// UploadSessions bounds the tenant's open upload sessions, and
	// UploadEntries their manifests' entries together.
	UploadSessions int `json:"uploadSessions,omitempty"`
	UploadEntries  int `json:"uploadEntries,omitempty"`
	StorageMB      int `json:"storageMB,omitempty"`    // the raw size of the tenant's unique blobs (br/gz variants not counted) and of its unexpired KV keys and values
	WorkerMB       int `json:"workerMB,omitempty"`     // one worker's wasm
	KVNamespaces   int `json:"kvNamespaces,omitempty"` // KV namespaces of the tenant
	// Deployments bounds the deployments a site holds at once. Retention
	// keeps the newest KeepDeployments and those younger than KeepDays
	// (and the active one and every branch alias's); it deletes the rest.
	Deployments     int `json:"deployments,omitempty"`
	KeepDeployments int `json:"keepDeployments,omitempty"`
	KeepDays        int `json:"keepDays,omitempty"`
}

// plans are the plans and their limits, smallest first. It is read only
// (PlanLimits, PlanNames return copies).
var plans = [...]struct {
	name   string
	limits Limits
}{
	{PlanFree, Limits{CPUMs: 10, CPUMsPerSecond: 250, SubRequests: 5, MemoryMB: 64, GitRepoMB: 1024, GitPushMB: 256, KVOps: 50, KVValueKB: 1024, Quotas: Quotas{
		RequestsPerSecond: 100, RequestBurst: 200, Sites: 10, Domains: 10,
		UploadSessions: 10, UploadEntries: 200_000, StorageMB: 2048, WorkerMB: 16, KVNamespaces: 10,
		Deployments: 100, KeepDeployments: 20, KeepDays: 30,
	}}},
	{PlanPro, Limits{CPUMs: 20, CPUMsPerSecond: 1000, SubRequests: 20, MemoryMB: 128, GitRepoMB: 4096, GitPushMB: 1024, KVOps: 1000, KVValueKB: 1024, Quotas: Quotas{
		RequestsPerSecond: 1000, RequestBurst: 2000, Sites: 100, Domains: 100,
		UploadSessions: 25, UploadEntries: 1_000_000, StorageMB: 20480, WorkerMB: 24, KVNamespaces: 100,
		Deployments: 500, KeepDeployments: 50, KeepDays: 90,
	}}},
	{PlanEnterprise, Limits{CPUMs: 50, CPUMsPerSecond: 4000, SubRequests: 50, MemoryMB: 256, GitRepoMB: 16384, GitPushMB: 2048, KVOps: 1000, KVValueKB: 4096, Quotas: Quotas{
		RequestsPerSecond: 10000, RequestBurst: 20000, Sites: 1000, Domains: 1000,
		UploadSessions: 100, UploadEntries: 5_000_000, StorageMB: 204800, WorkerMB: 32, KVNamespaces: 1000,
		Deployments: 2000, KeepDeployments: 100, KeepDays: 365,
	}}},
}

// PlanLimits returns the limits of the plan called name; false for an
// unknown plan.
func PlanLimits(name string) (Limits, bool) {
	for _, p := range plans {
		if p.name == name {
			return p.limits, true
		}
	}
	return Limits{}, false
}

// PlanNames returns the names of the plans, smallest first, in a new slice.
func PlanNames() []string {
	names := make([]string, len(plans))
	for i, p := range plans {
		names[i] = p.name
	}
	return names
}

// ValidatePlan reports whether name is a known plan.
func ValidatePlan(name string) error {
	if _, ok := PlanLimits(name); !ok {
		return fmt.Errorf("%w: unknown plan %q (want free, pro or enterprise)", ErrInvalid, name)
	}
	return nil
}

// MaxTags is the most tags a tenant may carry.
const MaxTags = 8

// Tenant is a customer of the platform operator.
type Tenant struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"` // a DNS-label slug, unique
	Plan     string    `json:"plan"`
	Limits   Limits    `json:"limits"` // per-tenant overrides of the plan's limits
	Tags     []string  `json:"tags"`   // "key:value", at most MaxTags
	Salt     []byte    `json:"-"`      // 16 random bytes keying the content hash; never shown
	Disabled bool      `json:"disabled"`
	Created  time.Time `json:"created_at"`
}

// EffectiveLimits returns the plan's limits with the tenant's overrides applied.
func (t Tenant) EffectiveLimits() Limits {
	l, _ := PlanLimits(t.Plan)
	o := t.Limits
	dst, src := l.fields(), o.fields()
	for i := range dst {
		if *src[i].v > 0 {
			*dst[i].v = *src[i].v
		}
	}
	return l
}

// LimitField is one limit by its JSON name.
type LimitField struct {
	Name  string
	Value int
}

// Fields returns the limits by their JSON names, in declaration order,
// for validation and display.
func (l Limits) Fields() []LimitField {
	fs := l.fields()
	out := make([]LimitField, len(fs))
	for i, f := range fs {
		out[i] = LimitField{Name: f.name, Value: *f.v}
	}
	return out
}

type limitPtr struct {
	name string
	v    *int
}

// fields is the one list of the limits' names; every walk over the
// limits uses it, so that a new limit is added here once.
func (l *Limits) fields() []limitPtr {
	return []limitPtr{
		{"cpuMs", &l.CPUMs}, {"cpuMsPerSecond", &l.CPUMsPerSecond}, {"subRequests", &l.SubRequests}, {"memoryMB", &l.MemoryMB},
		{"gitRepoMB", &l.GitRepoMB}, {"gitPushMB", &l.GitPushMB},
		{"kvOps", &l.KVOps}, {"kvValueKB", &l.KVValueKB},
		{"requestsPerSecond", &l.RequestsPerSecond}, {"requestBurst", &l.RequestBurst},
		{"sites", &l.Sites}, {"domains", &l.Domains},
		{"uploadSessions", &l.UploadSessions}, {"uploadEntries", &l.UploadEntries},
		{"storageMB", &l.StorageMB}, {"workerMB", &l.WorkerMB}, {"kvNamespaces", &l.KVNamespaces},
		{"deployments", &l.Deployments}, {"keepDeployments", &l.KeepDeployments}, {"keepDays", &l.KeepDays},
	}
}

// HasTag reports whether the tenant carries tag ("key:value").
func (t Tenant) HasTag(tag string) bool {
	for _, x := range t.Tags {
		if x == tag {
			return true
		}
	}
	return false
}

// Site is one website of a tenant, served at <name>.<platform domain>.
type Site struct {
	ID               string `json:"id"`
	TenantID         string `json:"tenant_id"`
	Name             string `json:"name"` // a DNS label, unique platform-wide, never containing "--"
	ActiveDeployment string `json:"active_deployment,omitempty"`
	// ProductionBranch is the git branch whose pushes go live; pushes to
	// other branches deploy as previews behind a branch alias. Stores
	// return DefaultProductionBranch for a site created without one.
	ProductionBranch string    `json:"production_branch"`
	Created          time.Time `json:"created_at"`
}

// DefaultProductionBranch is a new site's production branch.
const DefaultProductionBranch = "main"

// HTML handling modes (Cloudflare static assets semantics).
const (
	HTMLAutoTrailingSlash  = "auto-trailing-slash"
	HTMLForceTrailingSlash = "force-trailing-slash"
	HTMLDropTrailingSlash  = "drop-trailing-slash"
	HTMLNone               = "none"
)

// Not-found handling modes.
const (
	NotFoundNone = "none"
	NotFound404  = "404-page"
	NotFoundSPA  = "single-page-application"
)

// DeploymentConfig is the serving configuration frozen into a deployment.
type DeploymentConfig struct {
	HTMLHandling     string            `json:"html_handling"`
	NotFoundHandling string            `json:"not_found_handling"`
	RunWorkerFirst   []string          `json:"run_worker_first,omitempty"`
	Vars             map[string]string `json:"vars,omitempty"`
	// Headers and Redirects are the raw text of the deployment's _headers
	// and _redirects files, validated at deploy time. The edge parses them
	// once when it loads the deployment.
	Headers   string `json:"headers,omitempty"`
	Redirects string `json:"redirects,omitempty"`
	// KV binds the tenant's namespaces to names the worker uses; the
	// publish path sets each NamespaceID at deploy time.
	KV []KVBinding `json:"kv,omitempty"`
}

// Normalize fills defaults and validates the enumerations.
func (c *DeploymentConfig) Normalize() error {
	switch c.HTMLHandling {
	case "":
		c.HTMLHandling = HTMLAutoTrailingSlash
	case HTMLAutoTrailingSlash, HTMLForceTrailingSlash, HTMLDropTrailingSlash, HTMLNone:
	default:
		return fmt.Errorf("%w: html_handling %q (want auto-trailing-slash, force-trailing-slash, drop-trailing-slash or none)", ErrInvalid, c.HTMLHandling)
	}
	switch c.NotFoundHandling {
	case "":
		c.NotFoundHandling = NotFoundNone
	case NotFoundNone, NotFound404, NotFoundSPA:
	default:
		return fmt.Errorf("%w: not_found_handling %q (want none, 404-page or single-page-application)", ErrInvalid, c.NotFoundHandling)
	}
	return nil
}

// Source says where a deployment came from.
type Source struct {
	Type   string `json:"type"` // cli, api, ui, git: a label the client sets (the CLI sends cli, the console ui); git only from a push
	Commit string `json:"commit,omitempty"`
	Branch string `json:"branch,omitempty"`
	// Tree is the git tree a push deployed (Pier sets it, clients
	// cannot): a later push of a commit with the same tree reuses the
	// deployment (Store.DeploymentByTree).
	Tree string `json:"tree,omitempty"`
}

// Deployment is an immutable snapshot of a site: its files, optional worker
// and configuration. Activating one is a single atomic pointer swap on the
// site; rollback activates an older one.
type Deployment struct {
	ID       string           `json:"id"` // short, DNS-safe
	SiteID   string           `json:"site_id"`
	TenantID string           `json:"tenant_id"`
	Manifest assets.Manifest  `json:"manifest"`
	Worker   string           `json:"worker,omitempty"` // content hash of the wasm blob
	Config   DeploymentConfig `json:"config"`
	Source   Source           `json:"source"`
	Created  time.Time        `json:"created_at"`
}

// Token is an API bearer token. Only the SHA-256 of the secret is stored.
// A token is an admin token (no TenantID), a tenant token, or a site
// token (TenantID and SiteID): its tenant restricted to that one site, so
// a CI job can deploy one site without power over the tenant's others.
// Deleting the site deletes its tokens.
type Token struct {
	ID       string    `json:"id"`
	TenantID string    `json:"tenant_id,omitempty"` // empty for an admin token
	SiteID   string    `json:"site_id,omitempty"`   // set for a site token
	Name     string    `json:"name"`
	Hash     string    `json:"-"` // hex SHA-256 of the secret
	Created  time.Time `json:"created_at"`
}

// Admin reports whether the token is platform-wide.
func (t Token) Admin() bool { return t.TenantID == "" }

// SiteScoped reports whether the token acts on one site only.
func (t Token) SiteScoped() bool { return t.SiteID != "" }

// UploadSession is the first step of publishing: the manifest a client
// intends to deploy, kept until it is deployed or expires.
type UploadSession struct {
	ID       string          `json:"id"`
	SiteID   string          `json:"site_id"`
	TenantID string          `json:"tenant_id"`
	Manifest assets.Manifest `json:"manifest"`
	Worker   *WorkerBlob     `json:"worker,omitempty"` // the compiled worker to deploy, if any
	Expires  time.Time       `json:"expires_at"`
	Created  time.Time       `json:"created_at"`
}

// WorkerBlob names the compiled WebAssembly worker of an upload session:
// a blob of the tenant like any asset, hashed with the tenant's salt.
type WorkerBlob struct {
	Hash string `json:"hash"`
	Size int64  `json:"size"`
}

// MaxSiteNameLen keeps the preview hostname <deployment>--<site> (an
// 8-character deployment id and "--") within DNS's 63-byte label limit.
const MaxSiteNameLen = dnsname.MaxSiteNameLen

// ValidateName checks a tenant or site name: a lowercase DNS label that
// does not contain "--" (reserved for preview hostnames), of 1–63
// characters for a tenant and 1–MaxSiteNameLen for a site.
func ValidateName(kind, name string) error {
	max := dnsname.MaxLabelLen
	if kind == "site" {
		max = MaxSiteNameLen
	}
	if !dnsname.ValidSiteName(name) || len(name) > max {
		shown := name
		if len(shown) > 70 {
			shown = shown[:64] + "…"
		}
		return fmt.Errorf("%w: %s name %q must be a lowercase DNS label (a-z, 0-9, '-', 1-%d characters, no leading/trailing '-' and no '--')", ErrInvalid, kind, shown, max)
	}
	return nil
}

// ValidateTags checks tags are "key:value" and at most MaxTags.
func ValidateTags(tags []string) error {
	if len(tags) > MaxTags {
		return fmt.Errorf("%w: %d tags (limit %d)", ErrInvalid, len(tags), MaxTags)
	}
	for _, t := range tags {
		k, v, ok := strings.Cut(t, ":")
		if !ok || k == "" || v == "" || len(t) > 128 || strings.ContainsAny(t, " \t\r\n,") {
			return fmt.Errorf("%w: tag %q must be key:value (≤128 bytes, no spaces or commas)", ErrInvalid, t)
		}
	}
	return nil
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a random, lowercase, DNS-safe identifier of n bytes of
// entropy (n=5 gives 8 characters), optionally prefixed.
func NewID(prefix string, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return prefix + idEncoding.EncodeToString(b)
}

// NewSalt returns a fresh 16-byte hash salt.
func NewSalt() []byte {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// ConsoleSession is a signed-in browser session of the web console,
// created from a token (POST /api/v1/session). Only the SHA-256 of its
// secret (the cookie's value) is stored. It is bound to its token:
// deleting the token (or its tenant) deletes the session.
type ConsoleSession struct {
	Hash    string // hex SHA-256 of the session secret
	TokenID string // the token it was signed in with
	// TokenHash is the hash of that token, filled in by lookups (it is the
	// token's, not stored with the session), so the caller resolves the
	// session's principal exactly as it resolves the token's.
	TokenHash   string
	Created     time.Time
	IdleExpires time.Time // extended by TouchConsoleSession while in use
	Expires     time.Time // absolute: never extended
}
