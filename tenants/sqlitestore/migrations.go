package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migration is one step of the schema. Migrations are applied in order,
// each in its own transaction, and never edited once released: a change
// to the schema is a new migration appended to the list.
type migration struct {
	version int
	sql     string
}

var migrations = []migration{
	{1, `
CREATE TABLE tenants (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE,
	plan         TEXT NOT NULL,
	cpu_ms       INTEGER NOT NULL DEFAULT 0,
	sub_requests INTEGER NOT NULL DEFAULT 0,
	memory_mb    INTEGER NOT NULL DEFAULT 0,
	tags         TEXT NOT NULL DEFAULT '[]', -- JSON array of "key:value"
	salt         BLOB NOT NULL CHECK (length(salt) = 16),
	disabled     INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL -- Unix milliseconds
) STRICT;

CREATE TABLE sites (
	id                TEXT PRIMARY KEY,
	tenant_id         TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	name              TEXT NOT NULL UNIQUE,
	active_deployment TEXT, -- checked by Activate, not a foreign key
	created_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX sites_tenant ON sites(tenant_id);

CREATE TABLE deployments (
	seq           INTEGER PRIMARY KEY, -- insertion order, breaks created_at ties
	id            TEXT NOT NULL UNIQUE,
	site_id       TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
	manifest      TEXT NOT NULL, -- JSON assets.Manifest
	files         INTEGER NOT NULL,
	bytes         INTEGER NOT NULL,
	worker        TEXT NOT NULL DEFAULT '',
	config        TEXT NOT NULL, -- JSON tenants.DeploymentConfig
	source_type   TEXT NOT NULL DEFAULT '',
	source_commit TEXT NOT NULL DEFAULT '',
	source_branch TEXT NOT NULL DEFAULT '',
	created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX deployments_site ON deployments(site_id, created_at DESC, seq DESC);

CREATE TABLE tokens (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	tenant_id  TEXT REFERENCES tenants(id) ON DELETE CASCADE, -- NULL: admin token
	name       TEXT NOT NULL,
	hash       TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX tokens_tenant ON tokens(tenant_id);

CREATE TABLE upload_sessions (
	id         TEXT PRIMARY KEY,
	site_id    TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
	manifest   TEXT NOT NULL,
	expires_at INTEGER NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX upload_sessions_site ON upload_sessions(site_id);
CREATE INDEX upload_sessions_expires ON upload_sessions(expires_at);

CREATE TABLE blobs (
	tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	hash      TEXT NOT NULL,
	size      INTEGER NOT NULL,
	br_size   INTEGER NOT NULL DEFAULT 0,
	gz_size   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (tenant_id, hash)
) STRICT, WITHOUT ROWID;
`},
	{2, `
-- The compiled worker an upload session carries ('' = none).
ALTER TABLE upload_sessions ADD COLUMN worker_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE upload_sessions ADD COLUMN worker_size INTEGER NOT NULL DEFAULT 0;
`},
	{3, `
-- Custom domains: one row per (hostname, site) claim; at most one active
-- claim per hostname. Times are Unix milliseconds, 0 = unset.
CREATE TABLE domains (
	hostname        TEXT NOT NULL,
	site_id         TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
	status          TEXT NOT NULL,
	token           TEXT NOT NULL,
	verified_at     INTEGER NOT NULL DEFAULT 0,
	checked_at      INTEGER NOT NULL DEFAULT 0,
	next_check      INTEGER NOT NULL DEFAULT 0,
	error           TEXT NOT NULL DEFAULT '',
	cert_status     TEXT NOT NULL,
	cert_error      TEXT NOT NULL DEFAULT '',
	cert_next_retry INTEGER NOT NULL DEFAULT 0,
	created_at      INTEGER NOT NULL,
	PRIMARY KEY (hostname, site_id)
) STRICT;
CREATE UNIQUE INDEX domains_active ON domains(hostname) WHERE status = 'active';
CREATE INDEX domains_site ON domains(site_id, hostname);
CREATE INDEX domains_due ON domains(next_check) WHERE next_check > 0;
`},
	{4, `
-- Console sessions (web console sign-in): only the SHA-256 of the cookie's
-- secret is stored; a session ends with the token it was signed in with.
-- Times are Unix milliseconds.
CREATE TABLE console_sessions (
	hash            TEXT PRIMARY KEY,
	token_id        TEXT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
	idle_expires_at INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL,
	created_at      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX console_sessions_token ON console_sessions(token_id);
CREATE INDEX console_sessions_idle ON console_sessions(idle_expires_at);
CREATE INDEX console_sessions_expires ON console_sessions(expires_at);
`},
	{5, `
-- Keyset pagination: each listing walks an index in its own order.
CREATE INDEX sites_tenant_name ON sites(tenant_id, name);
DROP INDEX sites_tenant;
CREATE INDEX tokens_tenant_created ON tokens(tenant_id, created_at, seq);
DROP INDEX tokens_tenant;
`},
	{6, `
CREATE TABLE usage_minutes (
	site_id   TEXT NOT NULL, -- no foreign key: usage outlives its site until retention
	tenant_id TEXT NOT NULL,
	minute INTEGER NOT NULL, -- Unix seconds, start of the minute
	r1xx INTEGER NOT NULL DEFAULT 0,
	r2xx INTEGER NOT NULL DEFAULT 0,
	r3xx INTEGER NOT NULL DEFAULT 0,
	r4xx INTEGER NOT NULL DEFAULT 0,
	r5xx INTEGER NOT NULL DEFAULT 0,
	bytes_out INTEGER NOT NULL DEFAULT 0,
	inv_ok INTEGER NOT NULL DEFAULT 0,
	inv_exception INTEGER NOT NULL DEFAULT 0,
	inv_exceeded_cpu INTEGER NOT NULL DEFAULT 0,
	inv_exceeded_subrequests INTEGER NOT NULL DEFAULT 0,
	inv_exceeded_memory INTEGER NOT NULL DEFAULT 0,
	inv_response_too_large INTEGER NOT NULL DEFAULT 0,
	inv_request_too_large INTEGER NOT NULL DEFAULT 0,
	inv_canceled INTEGER NOT NULL DEFAULT 0,
	inv_other INTEGER NOT NULL DEFAULT 0,
	cpu_us INTEGER NOT NULL DEFAULT 0,
	subrequests INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, minute)
) STRICT;
CREATE INDEX usage_minutes_tenant ON usage_minutes(tenant_id, minute);
CREATE INDEX usage_minutes_minute ON usage_minutes(minute);
CREATE TABLE usage_hours (
	site_id   TEXT NOT NULL, -- no foreign key: usage outlives its site until retention
	tenant_id TEXT NOT NULL,
	hour INTEGER NOT NULL, -- Unix seconds, start of the hour
	r1xx INTEGER NOT NULL DEFAULT 0,
	r2xx INTEGER NOT NULL DEFAULT 0,
	r3xx INTEGER NOT NULL DEFAULT 0,
	r4xx INTEGER NOT NULL DEFAULT 0,
	r5xx INTEGER NOT NULL DEFAULT 0,
	bytes_out INTEGER NOT NULL DEFAULT 0,
	inv_ok INTEGER NOT NULL DEFAULT 0,
	inv_exception INTEGER NOT NULL DEFAULT 0,
	inv_exceeded_cpu INTEGER NOT NULL DEFAULT 0,
	inv_exceeded_subrequests INTEGER NOT NULL DEFAULT 0,
	inv_exceeded_memory INTEGER NOT NULL DEFAULT 0,
	inv_response_too_large INTEGER NOT NULL DEFAULT 0,
	inv_request_too_large INTEGER NOT NULL DEFAULT 0,
	inv_canceled INTEGER NOT NULL DEFAULT 0,
	inv_other INTEGER NOT NULL DEFAULT 0,
	cpu_us INTEGER NOT NULL DEFAULT 0,
	subrequests INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, hour)
) STRICT;
CREATE INDEX usage_hours_tenant ON usage_hours(tenant_id, hour);
CREATE INDEX usage_hours_hour ON usage_hours(hour);
`},
	{7, `
-- Site tokens: a token of its tenant restricted to one site. Deleting the
-- site deletes them (and, by cascade, their console sessions).
ALTER TABLE tokens ADD COLUMN site_id TEXT REFERENCES sites(id) ON DELETE CASCADE;
CREATE INDEX tokens_site_created ON tokens(site_id, created_at, seq) WHERE site_id IS NOT NULL;
`},
	{8, `
-- Git repositories of sites (tenants.GitStore). A site's production
-- branch; the git tree a push deployed (source_tree, '' = not from git),
-- looked up by DeploymentByTree.
-- Git limits overrides (0 = the plan's), like cpu_ms.
ALTER TABLE tenants ADD COLUMN git_repo_mb INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN git_push_mb INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sites ADD COLUMN production_branch TEXT NOT NULL DEFAULT 'main';
ALTER TABLE deployments ADD COLUMN source_tree TEXT NOT NULL DEFAULT '';
CREATE INDEX deployments_site_tree ON deployments(site_id, source_tree, created_at DESC, seq DESC) WHERE source_tree <> '';

-- Branches: moved by ApplyGitPush with a compare-and-swap on commit_id.
-- deployment is checked by the caller, not a foreign key (like
-- sites.active_deployment); alias '' = none, unique within the site.
CREATE TABLE git_refs (
	site_id    TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
	name       TEXT NOT NULL, -- refs/heads/<branch>
	commit_id  TEXT NOT NULL, -- 40 hex digits
	deployment TEXT NOT NULL DEFAULT '',
	alias      TEXT NOT NULL DEFAULT '',
	updated_at INTEGER NOT NULL, -- Unix milliseconds
	PRIMARY KEY (site_id, name)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX git_refs_alias ON git_refs(site_id, alias) WHERE alias <> '';

-- Packs of a site's repository, objects of the blob backend.
CREATE TABLE git_packs (
	seq        INTEGER PRIMARY KEY, -- insertion order, breaks created_at ties
	site_id    TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
	name       TEXT NOT NULL, -- pack-<checksum>
	size       INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	UNIQUE (site_id, name)
) STRICT;
CREATE INDEX git_packs_site ON git_packs(site_id, created_at, seq);

CREATE TABLE git_shallow (
	site_id   TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
	commit_id TEXT NOT NULL,
	PRIMARY KEY (site_id, commit_id)
) STRICT, WITHOUT ROWID;

-- Git blob id -> the tenant's content hash of the same bytes.
CREATE TABLE git_blobs (
	tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	oid       TEXT NOT NULL,
	hash      TEXT NOT NULL,
	size      INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, oid)
) STRICT, WITHOUT ROWID;
`},
	{9, `
-- Quotas overrides of tenants.Limits (tenants.Quotas as a JSON object;
-- absent or 0 fields = the plan's).
ALTER TABLE tenants ADD COLUMN quotas TEXT NOT NULL DEFAULT '{}';
`},
	{10, `
-- The number of entries of an upload session's manifest, so that the
-- uploadEntries quota sums them without reading manifests.
ALTER TABLE upload_sessions ADD COLUMN entries INTEGER NOT NULL DEFAULT 0;
UPDATE upload_sessions SET entries = (SELECT count(*) FROM json_each(manifest)) WHERE json_type(manifest) = 'object';
`},
	{11, `
-- Retention and blob garbage collection (tenants.LifecycleStore).
-- publish_gen: bumped by every new upload session and deployment of the
-- tenant; a collection keeps what those created since its mark reference.
ALTER TABLE tenants ADD COLUMN publish_gen INTEGER NOT NULL DEFAULT 0;
-- The generation each upload session and deployment was created at.
ALTER TABLE upload_sessions ADD COLUMN publish_gen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN publish_gen INTEGER NOT NULL DEFAULT 0;
CREATE INDEX deployments_site_gen ON deployments(site_id, publish_gen);

-- Leases: one holder at a time (the garbage collector's).
CREATE TABLE leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	expires_at INTEGER NOT NULL -- Unix milliseconds
) STRICT, WITHOUT ROWID;

-- Objects of the blob backend queued for deletion after the grace period.
-- No foreign key: entries outlive their tenant and site.
CREATE TABLE blob_garbage (
	key       TEXT PRIMARY KEY, -- a blob's original (variants: key.br, key.gz) or a git pack's object
	tenant_id TEXT NOT NULL DEFAULT '',
	hash      TEXT NOT NULL DEFAULT '', -- '' for a git pack
	size      INTEGER NOT NULL DEFAULT 0,
	variants  INTEGER NOT NULL DEFAULT 0, -- 1: a .br copy, 2: a .gz copy
	queued_at INTEGER NOT NULL, -- Unix milliseconds
	state     TEXT NOT NULL DEFAULT 'pending', -- or 'deleting' once claimed
	claimed_at INTEGER NOT NULL DEFAULT 0 -- Unix milliseconds
) STRICT, WITHOUT ROWID;
CREATE INDEX blob_garbage_blob ON blob_garbage(tenant_id, hash);
CREATE INDEX git_blobs_hash ON git_blobs(tenant_id, hash);
`},
	{12, `
-- KV namespaces of tenants and their keys (tenants.KVStore). Times are
-- Unix milliseconds; expires_at NULL: the key never expires.
-- cpuMsPerSecond overrides (0 = the plan's), like cpu_ms.
ALTER TABLE tenants ADD COLUMN cpu_ms_per_second INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN kv_ops INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN kv_value_kb INTEGER NOT NULL DEFAULT 0;
CREATE TABLE kv_namespaces (
	id         TEXT PRIMARY KEY,
	tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	UNIQUE (tenant_id, name)
) STRICT;
CREATE TABLE kv_entries (
	namespace_id TEXT NOT NULL REFERENCES kv_namespaces(id) ON DELETE CASCADE,
	key          TEXT NOT NULL,
	value        BLOB NOT NULL,
	expires_at   INTEGER,
	updated_at   INTEGER NOT NULL,
	PRIMARY KEY (namespace_id, key)
) STRICT, WITHOUT ROWID;
-- The expiry sweep walks the keys that expire, oldest first.
CREATE INDEX kv_entries_expiry ON kv_entries(expires_at) WHERE expires_at IS NOT NULL;
`},
	{13, `
-- Workers' KV use per site (tenants.UsageCounters.KVReads, KVWrites,
-- KVBytes) and invocations refused a KV operation past kvOps.
ALTER TABLE usage_minutes ADD COLUMN inv_exceeded_kv_ops INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_minutes ADD COLUMN kv_reads INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_minutes ADD COLUMN kv_writes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_minutes ADD COLUMN kv_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_hours ADD COLUMN inv_exceeded_kv_ops INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_hours ADD COLUMN kv_reads INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_hours ADD COLUMN kv_writes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_hours ADD COLUMN kv_bytes INTEGER NOT NULL DEFAULT 0;
`},
	{14, `
-- Sites' secrets (tenants.SecretStore): only the value sealed under the
-- operator's key (internal/secretbox) and that key's id.
CREATE TABLE site_secrets (
	site_id    TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	ciphertext BLOB NOT NULL,
	key_id     TEXT NOT NULL,
	created_at INTEGER NOT NULL, -- Unix milliseconds
	updated_at INTEGER NOT NULL, -- Unix milliseconds
	PRIMARY KEY (site_id, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX site_secrets_key ON site_secrets(key_id);
`},
}

// migrate brings the schema up to date. It is safe to run from several
// processes at once: every step runs in an IMMEDIATE transaction (the
// write pool's default) that re-checks whether the step was applied.
func migrate(ctx context.Context, db *sql.DB, now func() time.Time) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_at INTEGER NOT NULL
) STRICT`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	var current int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if latest := migrations[len(migrations)-1].version; current > latest {
		return fmt.Errorf("database schema version %d is newer than this program's %d: upgrade pier", current, latest)
	}
	for _, m := range migrations {
		if m.version <= current {
			continue
		}
		if err := apply(ctx, db, m, now); err != nil {
			return fmt.Errorf("migration %d: %w", m.version, err)
		}
	}
	return nil
}

func apply(ctx context.Context, db *sql.DB, m migration, now func() time.Time) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var done int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&done); err != nil {
		return err
	}
	if done > 0 {
		return nil // another process applied it meanwhile
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, m.version, now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}
