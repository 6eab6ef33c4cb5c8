package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationLock is the pg_advisory_xact_lock key serialising schema
// migrations of this store across nodes starting at once ("pier.tenants").
const migrationLock int64 = 0x7069_6572_7465_6e74

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
	id           text PRIMARY KEY,
	name         text NOT NULL UNIQUE,
	plan         text NOT NULL,
	cpu_ms       integer NOT NULL DEFAULT 0,
	sub_requests integer NOT NULL DEFAULT 0,
	memory_mb    integer NOT NULL DEFAULT 0,
	tags         text[] NOT NULL DEFAULT '{}',
	salt         bytea NOT NULL CHECK (length(salt) = 16),
	disabled     boolean NOT NULL DEFAULT false,
	created_at   timestamptz NOT NULL
);
CREATE INDEX tenants_tags ON tenants USING gin (tags);

CREATE TABLE sites (
	id                text PRIMARY KEY,
	tenant_id         text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	name              text NOT NULL UNIQUE,
	active_deployment text, -- checked by Activate, not a foreign key
	created_at        timestamptz NOT NULL
);
CREATE INDEX sites_tenant ON sites(tenant_id);

CREATE TABLE deployments (
	seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- breaks created_at ties
	id            text NOT NULL UNIQUE,
	site_id       text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
	manifest      jsonb NOT NULL,
	files         integer NOT NULL,
	bytes         bigint NOT NULL,
	worker        text NOT NULL DEFAULT '',
	config        jsonb NOT NULL,
	source_type   text NOT NULL DEFAULT '',
	source_commit text NOT NULL DEFAULT '',
	source_branch text NOT NULL DEFAULT '',
	created_at    timestamptz NOT NULL
);
CREATE INDEX deployments_site ON deployments(site_id, created_at DESC, seq DESC);

CREATE TABLE tokens (
	seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id         text NOT NULL UNIQUE,
	tenant_id  text REFERENCES tenants(id) ON DELETE CASCADE, -- NULL: admin token
	name       text NOT NULL,
	hash       text NOT NULL UNIQUE,
	created_at timestamptz NOT NULL
);
CREATE INDEX tokens_tenant ON tokens(tenant_id);

CREATE TABLE upload_sessions (
	id         text PRIMARY KEY,
	site_id    text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
	manifest   jsonb NOT NULL,
	expires_at timestamptz NOT NULL,
	created_at timestamptz NOT NULL
);
CREATE INDEX upload_sessions_site ON upload_sessions(site_id);
CREATE INDEX upload_sessions_expires ON upload_sessions(expires_at);

CREATE TABLE blobs (
	tenant_id text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	hash      text NOT NULL,
	size      bigint NOT NULL,
	br_size   bigint NOT NULL DEFAULT 0,
	gz_size   bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (tenant_id, hash)
);
`},
	{2, `
-- The compiled worker an upload session carries ('' = none).
ALTER TABLE upload_sessions ADD COLUMN worker_hash text NOT NULL DEFAULT '';
ALTER TABLE upload_sessions ADD COLUMN worker_size bigint NOT NULL DEFAULT 0;
`},
	{3, `
-- Custom domains: one row per (hostname, site) claim; at most one active
-- claim per hostname. NULL times are unset.
CREATE TABLE domains (
	hostname        text NOT NULL,
	site_id         text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
	status          text NOT NULL,
	token           text NOT NULL,
	verified_at     timestamptz,
	checked_at      timestamptz,
	next_check      timestamptz,
	error           text NOT NULL DEFAULT '',
	cert_status     text NOT NULL,
	cert_error      text NOT NULL DEFAULT '',
	cert_next_retry timestamptz,
	created_at      timestamptz NOT NULL,
	PRIMARY KEY (hostname, site_id)
);
CREATE UNIQUE INDEX domains_active ON domains(hostname) WHERE status = 'active';
CREATE INDEX domains_site ON domains(site_id, hostname);
CREATE INDEX domains_due ON domains(next_check) WHERE next_check IS NOT NULL;
`},
	{4, `
-- Console sessions (web console sign-in): only the SHA-256 of the cookie's
-- secret is stored; a session ends with the token it was signed in with.
CREATE TABLE console_sessions (
	hash            text PRIMARY KEY,
	token_id        text NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
	idle_expires_at timestamptz NOT NULL,
	expires_at      timestamptz NOT NULL,
	created_at      timestamptz NOT NULL
);
CREATE INDEX console_sessions_token ON console_sessions(token_id);
CREATE INDEX console_sessions_idle ON console_sessions(idle_expires_at);
CREATE INDEX console_sessions_expires ON console_sessions(expires_at);
`},
	{5, `
-- Keyset pagination: each listing walks an index in its own order
-- (names and hostnames sort bytewise, COLLATE "C").
CREATE INDEX tenants_name_c ON tenants(name COLLATE "C");
CREATE INDEX sites_name_c ON sites(name COLLATE "C");
CREATE INDEX sites_tenant_name ON sites(tenant_id, name COLLATE "C");
DROP INDEX sites_tenant;
CREATE INDEX tokens_tenant_created ON tokens(tenant_id, created_at, seq);
DROP INDEX tokens_tenant;
CREATE INDEX domains_site_host_c ON domains(site_id, hostname COLLATE "C");
DROP INDEX domains_site;
`},
	{6, `
CREATE TABLE usage_minutes (
	site_id   text NOT NULL, -- no foreign key: usage outlives its site until retention
	tenant_id text NOT NULL,
	minute bigint NOT NULL, -- Unix seconds, start of the minute
	r1xx bigint NOT NULL DEFAULT 0,
	r2xx bigint NOT NULL DEFAULT 0,
	r3xx bigint NOT NULL DEFAULT 0,
	r4xx bigint NOT NULL DEFAULT 0,
	r5xx bigint NOT NULL DEFAULT 0,
	bytes_out bigint NOT NULL DEFAULT 0,
	inv_ok bigint NOT NULL DEFAULT 0,
	inv_exception bigint NOT NULL DEFAULT 0,
	inv_exceeded_cpu bigint NOT NULL DEFAULT 0,
	inv_exceeded_subrequests bigint NOT NULL DEFAULT 0,
	inv_exceeded_memory bigint NOT NULL DEFAULT 0,
	inv_response_too_large bigint NOT NULL DEFAULT 0,
	inv_request_too_large bigint NOT NULL DEFAULT 0,
	inv_canceled bigint NOT NULL DEFAULT 0,
	inv_other bigint NOT NULL DEFAULT 0,
	cpu_us bigint NOT NULL DEFAULT 0,
	subrequests bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, minute)
);
CREATE INDEX usage_minutes_tenant ON usage_minutes(tenant_id, minute);
CREATE INDEX usage_minutes_minute ON usage_minutes(minute);
CREATE TABLE usage_hours (
	site_id   text NOT NULL, -- no foreign key: usage outlives its site until retention
	tenant_id text NOT NULL,
	hour bigint NOT NULL, -- Unix seconds, start of the hour
	r1xx bigint NOT NULL DEFAULT 0,
	r2xx bigint NOT NULL DEFAULT 0,
	r3xx bigint NOT NULL DEFAULT 0,
	r4xx bigint NOT NULL DEFAULT 0,
	r5xx bigint NOT NULL DEFAULT 0,
	bytes_out bigint NOT NULL DEFAULT 0,
	inv_ok bigint NOT NULL DEFAULT 0,
	inv_exception bigint NOT NULL DEFAULT 0,
	inv_exceeded_cpu bigint NOT NULL DEFAULT 0,
	inv_exceeded_subrequests bigint NOT NULL DEFAULT 0,
	inv_exceeded_memory bigint NOT NULL DEFAULT 0,
	inv_response_too_large bigint NOT NULL DEFAULT 0,
	inv_request_too_large bigint NOT NULL DEFAULT 0,
	inv_canceled bigint NOT NULL DEFAULT 0,
	inv_other bigint NOT NULL DEFAULT 0,
	cpu_us bigint NOT NULL DEFAULT 0,
	subrequests bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, hour)
);
CREATE INDEX usage_hours_tenant ON usage_hours(tenant_id, hour);
CREATE INDEX usage_hours_hour ON usage_hours(hour);
`},
	{7, `
-- Site tokens: a token of its tenant restricted to one site. Deleting the
-- site deletes them (and, by cascade, their console sessions).
ALTER TABLE tokens ADD COLUMN site_id text REFERENCES sites(id) ON DELETE CASCADE;
CREATE INDEX tokens_site_created ON tokens(site_id, created_at, seq) WHERE site_id IS NOT NULL;
`},
	{8, `
-- Git repositories of sites (tenants.GitStore). A site's production
-- branch; the git tree a push deployed (source_tree, '' = not from git),
-- looked up by DeploymentByTree.
-- Git limits overrides (0 = the plan's), like cpu_ms.
ALTER TABLE tenants ADD COLUMN git_repo_mb integer NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN git_push_mb integer NOT NULL DEFAULT 0;
ALTER TABLE sites ADD COLUMN production_branch text NOT NULL DEFAULT 'main';
ALTER TABLE deployments ADD COLUMN source_tree text NOT NULL DEFAULT '';
CREATE INDEX deployments_site_tree ON deployments(site_id, source_tree, created_at DESC, seq DESC) WHERE source_tree <> '';

-- Branches: moved by ApplyGitPush with a compare-and-swap on commit_id.
-- deployment is checked by the caller, not a foreign key (like
-- sites.active_deployment); alias '' = none, unique within the site.
CREATE TABLE git_refs (
	site_id    text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
	name       text NOT NULL, -- refs/heads/<branch>
	commit_id  text NOT NULL, -- 40 hex digits
	deployment text NOT NULL DEFAULT '',
	alias      text NOT NULL DEFAULT '',
	updated_at timestamptz NOT NULL,
	PRIMARY KEY (site_id, name)
);
CREATE UNIQUE INDEX git_refs_alias ON git_refs(site_id, alias) WHERE alias <> '';

-- Packs of a site's repository, objects of the blob backend.
CREATE TABLE git_packs (
	seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- breaks created_at ties
	site_id    text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
	name       text NOT NULL, -- pack-<checksum>
	size       bigint NOT NULL,
	created_at timestamptz NOT NULL,
	UNIQUE (site_id, name)
);
CREATE INDEX git_packs_site ON git_packs(site_id, created_at, seq);

CREATE TABLE git_shallow (
	site_id   text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
	commit_id text NOT NULL,
	PRIMARY KEY (site_id, commit_id)
);

-- Git blob id -> the tenant's content hash of the same bytes.
CREATE TABLE git_blobs (
	tenant_id text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	oid       text NOT NULL,
	hash      text NOT NULL,
	size      bigint NOT NULL,
	PRIMARY KEY (tenant_id, oid)
);
`},
	{9, `
-- Quotas overrides of tenants.Limits (tenants.Quotas as a JSON object;
-- absent or 0 fields = the plan's).
ALTER TABLE tenants ADD COLUMN quotas jsonb NOT NULL DEFAULT '{}';
`},
	{10, `
-- The number of entries of an upload session's manifest, so that the
-- uploadEntries quota sums them without reading manifests.
ALTER TABLE upload_sessions ADD COLUMN entries integer NOT NULL DEFAULT 0;
UPDATE upload_sessions SET entries = (SELECT count(*) FROM jsonb_object_keys(manifest)) WHERE jsonb_typeof(manifest) = 'object';
`},
	{11, `
-- Retention and blob garbage collection (tenants.LifecycleStore).
-- publish_gen: bumped by every new upload session and deployment of the
-- tenant; a collection keeps what those created since its mark reference.
ALTER TABLE tenants ADD COLUMN publish_gen bigint NOT NULL DEFAULT 0;
-- The generation each upload session and deployment was created at.
ALTER TABLE upload_sessions ADD COLUMN publish_gen bigint NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN publish_gen bigint NOT NULL DEFAULT 0;
CREATE INDEX deployments_site_gen ON deployments(site_id, publish_gen);

-- Leases: one holder at a time (the garbage collector's).
CREATE TABLE leases (
	name       text PRIMARY KEY,
	holder     text NOT NULL,
	expires_at timestamptz NOT NULL
);

-- Objects of the blob backend queued for deletion after the grace period.
-- No foreign key: entries outlive their tenant and site.
CREATE TABLE blob_garbage (
	key       text PRIMARY KEY, -- a blob's original (variants: key.br, key.gz) or a git pack's object
	tenant_id text NOT NULL DEFAULT '',
	hash      text NOT NULL DEFAULT '', -- '' for a git pack
	size      bigint NOT NULL DEFAULT 0,
	variants  integer NOT NULL DEFAULT 0, -- 1: a .br copy, 2: a .gz copy
	queued_at timestamptz NOT NULL,
	state     text NOT NULL DEFAULT 'pending', -- or 'deleting' once claimed
	claimed_at timestamptz
);
CREATE INDEX blob_garbage_blob ON blob_garbage(tenant_id, hash);
CREATE INDEX git_blobs_hash ON git_blobs(tenant_id, hash);
`},
	{12, `
-- KV namespaces of tenants and their keys (tenants.KVStore); expires_at
-- NULL: the key never expires. Keys compare bytewise (COLLATE "C"), as
-- in SQLite, so listings and cursors agree between the stores.
-- cpuMsPerSecond overrides (0 = the plan's), like cpu_ms.
ALTER TABLE tenants ADD COLUMN cpu_ms_per_second integer NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN kv_ops integer NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN kv_value_kb integer NOT NULL DEFAULT 0;
CREATE TABLE kv_namespaces (
	id         text PRIMARY KEY,
	tenant_id  text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	name       text NOT NULL,
	created_at timestamptz NOT NULL,
	UNIQUE (tenant_id, name)
);
CREATE TABLE kv_entries (
	namespace_id text NOT NULL REFERENCES kv_namespaces(id) ON DELETE CASCADE,
	key          text COLLATE "C" NOT NULL,
	value        bytea NOT NULL,
	expires_at   timestamptz,
	updated_at   timestamptz NOT NULL,
	PRIMARY KEY (namespace_id, key)
);
-- The expiry sweep walks the keys that expire, oldest first.
CREATE INDEX kv_entries_expiry ON kv_entries(expires_at) WHERE expires_at IS NOT NULL;
`},
	{13, `
-- Workers' KV use per site (tenants.UsageCounters.KVReads, KVWrites,
-- KVBytes) and invocations refused a KV operation past kvOps.
ALTER TABLE usage_minutes ADD COLUMN inv_exceeded_kv_ops bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_minutes ADD COLUMN kv_reads bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_minutes ADD COLUMN kv_writes bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_minutes ADD COLUMN kv_bytes bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_hours ADD COLUMN inv_exceeded_kv_ops bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_hours ADD COLUMN kv_reads bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_hours ADD COLUMN kv_writes bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_hours ADD COLUMN kv_bytes bigint NOT NULL DEFAULT 0;
`},
	{14, `
-- Sites' secrets (tenants.SecretStore): only the value sealed under the
-- operator's key (internal/secretbox) and that key's id.
CREATE TABLE site_secrets (
	site_id    text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
	name       text NOT NULL,
	ciphertext bytea NOT NULL,
	key_id     text NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	PRIMARY KEY (site_id, name)
);
CREATE INDEX site_secrets_key ON site_secrets(key_id);
`},
}

// migrate brings the schema up to date. Each step runs in its own
// transaction holding a transaction-scoped advisory lock, so nodes
// starting at once apply every step exactly once.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	for _, m := range migrations {
		if err := apply(ctx, pool, m); err != nil {
			return fmt.Errorf("migration %d: %w", m.version, err)
		}
	}
	return nil
}

func apply(ctx context.Context, pool *pgxpool.Pool, m migration) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return err
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return err
		}
		if latest := migrations[len(migrations)-1].version; current > latest {
			return fmt.Errorf("database schema version %d is newer than this program's %d: upgrade pier", current, latest)
		}
		if current >= m.version {
			return nil
		}
		// No arguments: the simple protocol runs every statement.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.version)
		return err
	})
}
