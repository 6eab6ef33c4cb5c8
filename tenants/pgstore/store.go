// Package pgstore is the tenants.Store for fleets: PostgreSQL through pgx
// (pgxpool), shared by every node.
//
// Manifests and configurations are jsonb, one value per deployment; tags
// are a text[] with a GIN index; blob lookups send the hash list as one
// array parameter (= ANY($2)), so their size is not bounded by the
// protocol's parameter limit. Unique violations map to
// tenants.ErrConflict and foreign-key violations (a missing tenant or site)
// to tenants.ErrNotFound. The schema is versioned (schema_migrations) and
// brought up to date by Open under an advisory lock, so nodes starting at
// once do not race.
//
// Writes that change what a node caches (tenants.Change) notify
// ChangesChannel in their own statement or transaction, so the
// notification is sent on commit; the store is a tenants.ChangeWatcher
// whose WatchChanges listens on a connection of its own (changes.go).
//
// Only cmd/pier and tests should import pgstore; everything else uses the
// tenants.Store interface.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/internal/gitcheck"
	"github.com/pierhq/pier/tenants/internal/manifestjson"
)

// Store is a tenants.Store backed by PostgreSQL. It is safe for concurrent
// use.
type Store struct {
	pool  *pgxpool.Pool
	now   func() time.Time
	watch watchConfig
}

// Open connects to the database at dsn (a postgres:// URL or key=value
// string as libpq accepts) and applies pending schema migrations. Pool
// settings travel in the DSN as pgxpool reads them, e.g.
// pool_max_conns=20 (default: the larger of 4 and the number of CPUs).
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The DSN may hold a password: do not echo it.
		return nil, fmt.Errorf("pgstore: parsing the database URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connecting: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connecting to %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	return &Store{pool: pool, now: time.Now, watch: defaultWatch}, nil
}

// Close closes the connection pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// SQLSTATE codes mapped to the tenants sentinels.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("pgstore: %s: %w", op, tenants.ErrNotFound)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case uniqueViolation:
			return fmt.Errorf("pgstore: %s: %w (%s)", op, tenants.ErrConflict, pe.ConstraintName)
		case foreignKeyViolation:
			return fmt.Errorf("pgstore: %s: %w", op, tenants.ErrNotFound)
		}
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

func notFound(op string) error { return fmt.Errorf("pgstore: %s: %w", op, tenants.ErrNotFound) }

func invalid(op string, err error) error { return fmt.Errorf("pgstore: %s: %w", op, err) }

func affected(op string, tag pgconn.CommandTag, err error) error {
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound(op)
	}
	return nil
}

// stamp truncates t to the millisecond (the precision both stores keep),
// or returns now for the zero time.
func (s *Store) stamp(t time.Time) time.Time {
	if t.IsZero() {
		t = s.now()
	}
	return t.Truncate(time.Millisecond).UTC()
}

// Tenants.

const tenantCols = `id, name, plan, cpu_ms, cpu_ms_per_second, sub_requests, memory_mb, git_repo_mb, git_push_mb, kv_ops, kv_value_kb, quotas, tags, salt, disabled, created_at`

func scanTenant(row pgx.Row) (tenants.Tenant, error) {
	var t tenants.Tenant
	err := row.Scan(&t.ID, &t.Name, &t.Plan, &t.Limits.CPUMs, &t.Limits.CPUMsPerSecond, &t.Limits.SubRequests, &t.Limits.MemoryMB, &t.Limits.GitRepoMB, &t.Limits.GitPushMB, &t.Limits.KVOps, &t.Limits.KVValueKB, &t.Limits.Quotas, &t.Tags, &t.Salt, &t.Disabled, &t.Created)
	if t.Tags == nil {
		t.Tags = []string{}
	}
	t.Created = t.Created.UTC()
	return t, err
}

func tags(t []string) []string {
	if t == nil {
		return []string{}
	}
	return t
}

// CreateTenant stores a new tenant. An empty Salt is replaced by a fresh
// random one and a zero Created by the current time.
func (s *Store) CreateTenant(ctx context.Context, t tenants.Tenant) error {
	if err := t.Validate(); err != nil {
		return invalid("creating tenant", err)
	}
	if len(t.Salt) == 0 {
		t.Salt = tenants.NewSalt()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		t.ID, t.Name, t.Plan, t.Limits.CPUMs, t.Limits.CPUMsPerSecond, t.Limits.SubRequests, t.Limits.MemoryMB, t.Limits.GitRepoMB, t.Limits.GitPushMB, t.Limits.KVOps, t.Limits.KVValueKB, t.Limits.Quotas, tags(t.Tags), t.Salt, t.Disabled, s.stamp(t.Created))
	return mapErr("creating tenant "+t.Name, err)
}

// Tenant returns the tenant whose ID or, failing that, name is ref.
func (s *Store) Tenant(ctx context.Context, ref string) (tenants.Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1`, ref))
	return t, mapErr("tenant "+ref, err)
}

// Tenants lists tenants ordered by name, optionally only those with a tag.
func (s *Store) Tenants(ctx context.Context, f tenants.TenantFilter) ([]tenants.Tenant, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tenantCols+` FROM tenants
WHERE $1 = '' OR tags @> ARRAY[$1::text] ORDER BY name COLLATE "C"`, f.Tag)
	if err != nil {
		return nil, mapErr("listing tenants", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenants.Tenant, error) { return scanTenant(r) })
	return out, mapErr("listing tenants", err)
}

// UpdateTenant writes the tenant's plan, limits, tags and disabled flag
// and notifies the tenant's change; when the disabled flag flips, also
// the change of each of its sites and of their active domains, which stop
// or start being served.
func (s *Store) UpdateTenant(ctx context.Context, t tenants.Tenant) error {
	return s.UpdateTenants(ctx, []tenants.Tenant{t})
}

// UpdateTenants updates every tenant of ts in one transaction, with the
// change notifications of each.
func (s *Store) UpdateTenants(ctx context.Context, ts []tenants.Tenant) error {
	for _, t := range ts {
		if err := t.ValidateUpdate(); err != nil {
			return invalid("updating tenant "+t.ID, err)
		}
	}
	// Rows are locked in ID order, so concurrent bulk updates cannot
	// deadlock.
	ts = slices.SortedFunc(slices.Values(ts), func(a, b tenants.Tenant) int { return strings.Compare(a.ID, b.ID) })
	op := "updating tenants"
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, t := range ts {
			op = "updating tenant " + t.ID
			if err := s.updateTenant(ctx, tx, t); err != nil {
				return err
			}
		}
		return nil
	})
	return mapErr(op, err)
}

// updateTenant updates t inside tx and notifies what it changes.
func (s *Store) updateTenant(ctx context.Context, tx pgx.Tx, t tenants.Tenant) error {
	var was bool
	if err := tx.QueryRow(ctx, `SELECT disabled FROM tenants WHERE id = $1 FOR UPDATE`, t.ID).Scan(&was); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE tenants SET plan = $1, cpu_ms = $2, cpu_ms_per_second = $3, sub_requests = $4, memory_mb = $5, git_repo_mb = $6, git_push_mb = $7, kv_ops = $8, kv_value_kb = $9, quotas = $10, tags = $11, disabled = $12 WHERE id = $13`,
		t.Plan, t.Limits.CPUMs, t.Limits.CPUMsPerSecond, t.Limits.SubRequests, t.Limits.MemoryMB, t.Limits.GitRepoMB, t.Limits.GitPushMB, t.Limits.KVOps, t.Limits.KVValueKB, t.Limits.Quotas, tags(t.Tags), t.Disabled, t.ID); err != nil {
		return err
	}
	if err := notify(ctx, tx, tenants.ChangeTenant, t.ID); err != nil {
		return err
	}
	if was == t.Disabled {
		return nil
	}
	return s.notifyTenantSites(ctx, tx, t.ID, `AND d.status = 'active'`)
}

// notifyTenantSites notifies the change of every site of a tenant and of
// their domain claims that match cond (a condition on d, the claim).
func (s *Store) notifyTenantSites(ctx context.Context, tx pgx.Tx, tenantID, cond string) error {
	rows, err := tx.Query(ctx, `SELECT name FROM sites WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	rows, err = tx.Query(ctx, `SELECT DISTINCT d.hostname FROM domains d JOIN sites s ON s.id = d.site_id
WHERE s.tenant_id = $1 `+cond, tenantID)
	if err != nil {
		return err
	}
	hosts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if err := notify(ctx, tx, tenants.ChangeSite, names...); err != nil {
		return err
	}
	return notify(ctx, tx, tenants.ChangeDomain, hosts...)
}

// DeleteTenant deletes the tenant and, by cascade, its sites, deployments,
// tokens, upload sessions and blob index, and notifies the change of the
// tenant, of each of its sites and of each hostname they claimed.
func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Locked, the tenant gets no new site and its sites no new claim
		// (their foreign-key checks wait) until the cascade.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM sites WHERE tenant_id = $1 FOR UPDATE`, id); err != nil {
			return err
		}
		if err := s.notifyTenantSites(ctx, tx, id, ""); err != nil {
			return err
		}
		if err := s.queueTenantGarbage(ctx, tx, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, id)
		if err == nil && tag.RowsAffected() == 0 {
			return pgx.ErrNoRows // mapped to tenants.ErrNotFound
		}
		if err != nil {
			return err
		}
		return notify(ctx, tx, tenants.ChangeTenant, id)
	})
	return mapErr("deleting tenant "+id, err)
}

// Sites.

const siteCols = `id, tenant_id, name, coalesce(active_deployment, ''), production_branch, created_at`

func scanSite(row pgx.Row) (tenants.Site, error) {
	var st tenants.Site
	err := row.Scan(&st.ID, &st.TenantID, &st.Name, &st.ActiveDeployment, &st.ProductionBranch, &st.Created)
	st.Created = st.Created.UTC()
	return st, err
}

// CreateSite stores a new site (its production branch is
// tenants.DefaultProductionBranch when not set) and notifies its change;
// ErrNotFound when its tenant does not exist.
func (s *Store) CreateSite(ctx context.Context, st tenants.Site) error {
	if err := st.Validate(); err != nil {
		return invalid("creating site", err)
	}
	if st.ProductionBranch == "" {
		st.ProductionBranch = tenants.DefaultProductionBranch
	}
	if err := gitcheck.Branch(st.ProductionBranch); err != nil {
		return invalid("creating site", err)
	}
	_, err := s.pool.Exec(ctx, `WITH i AS (INSERT INTO sites (id, tenant_id, name, production_branch, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING name)
SELECT pg_notify($6, $7 || name) FROM i`,
		st.ID, st.TenantID, st.Name, st.ProductionBranch, s.stamp(st.Created), ChangesChannel, tenants.ChangeSite+":")
	return mapErr("creating site "+st.Name, err)
}

// Site returns the site whose ID or, failing that, name is ref.
func (s *Store) Site(ctx context.Context, ref string) (tenants.Site, error) {
	st, err := scanSite(s.pool.QueryRow(ctx, `SELECT `+siteCols+` FROM sites WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1`, ref))
	return st, mapErr("site "+ref, err)
}

// Sites lists a tenant's sites, or all sites for "", ordered by name.
func (s *Store) Sites(ctx context.Context, tenantID string) ([]tenants.Site, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+siteCols+` FROM sites WHERE $1 = '' OR tenant_id = $1 ORDER BY name COLLATE "C"`, tenantID)
	if err != nil {
		return nil, mapErr("listing sites", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenants.Site, error) { return scanSite(r) })
	return out, mapErr("listing sites", err)
}

// DeleteSite deletes the site and, by cascade, its deployments, upload
// sessions, domain claims and site tokens (with their console sessions),
// and notifies the change of the site and of
// each hostname it claimed.
func (s *Store) DeleteSite(ctx context.Context, id string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Locked, the site gets no new claim (its foreign-key check waits)
		// until the cascade.
		var name string
		if err := tx.QueryRow(ctx, `SELECT name FROM sites WHERE id = $1 FOR UPDATE`, id).Scan(&name); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT hostname FROM domains WHERE site_id = $1`, id)
		if err != nil {
			return err
		}
		hosts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if err := s.queueSiteGarbage(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sites WHERE id = $1`, id); err != nil {
			return err
		}
		if err := notify(ctx, tx, tenants.ChangeSite, name); err != nil {
			return err
		}
		return notify(ctx, tx, tenants.ChangeDomain, hosts...)
	})
	return mapErr("deleting site "+id, err)
}

// siteTenant returns the tenant of a site, checking a caller-supplied
// tenant ID against it. A site never changes tenant, and a site deleted
// between this check and the caller's insert fails that insert's foreign
// key, so no transaction is needed.
func (s *Store) siteTenant(ctx context.Context, op, siteID, claimed string) (string, error) {
	var tenantID string
	if err := s.pool.QueryRow(ctx, `SELECT tenant_id FROM sites WHERE id = $1`, siteID).Scan(&tenantID); err != nil {
		return "", mapErr(op+": site "+siteID, err)
	}
	if claimed != "" && claimed != tenantID {
		return "", fmt.Errorf("pgstore: %s: %w: site %s belongs to another tenant than %s", op, tenants.ErrInvalid, siteID, claimed)
	}
	return tenantID, nil
}

// Deployments.

// CreateDeployment stores an immutable deployment. TenantID may be empty
// (it is the site's); ErrNotFound when the site does not exist.
func (s *Store) CreateDeployment(ctx context.Context, d tenants.Deployment) error {
	op := "creating deployment " + d.ID
	if err := d.Validate(); err != nil {
		return invalid(op, err)
	}
	if err := gitcheck.Tree(d.Source.Tree); err != nil {
		return invalid(op, err)
	}
	manifest, err := json.Marshal(d.Manifest)
	if err != nil {
		return invalid(op, fmt.Errorf("%w: encoding manifest: %v", tenants.ErrInvalid, err))
	}
	config, err := json.Marshal(d.Config)
	if err != nil {
		return invalid(op, fmt.Errorf("%w: encoding config: %v", tenants.ErrInvalid, err))
	}
	if _, err := s.siteTenant(ctx, op, d.SiteID, d.TenantID); err != nil {
		return err
	}
	sum := d.Summary()
	_, err = s.pool.Exec(ctx, fmt.Sprintf(bumpGen, "$2")+`INSERT INTO deployments
(id, site_id, manifest, files, bytes, worker, config, source_type, source_commit, source_branch, source_tree, created_at, publish_gen)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, `+genValue+`)`,
		d.ID, d.SiteID, string(manifest), sum.Files, sum.Bytes, d.Worker, string(config),
		d.Source.Type, d.Source.Commit, d.Source.Branch, d.Source.Tree, s.stamp(d.Created))
	return mapErr(op, err)
}

// Deployment returns deployment id of site siteID with its manifest.
func (s *Store) Deployment(ctx context.Context, siteID, id string) (tenants.Deployment, error) {
	op := "deployment " + id
	var (
		d                tenants.Deployment
		manifest, config []byte
	)
	// ::text: the JSON as text, decoded here rather than by the driver.
	err := s.pool.QueryRow(ctx, `SELECT d.id, d.site_id, s.tenant_id, d.manifest::text, d.worker, d.config::text,
	d.source_type, d.source_commit, d.source_branch, d.source_tree, d.created_at
FROM deployments d JOIN sites s ON s.id = d.site_id
WHERE d.id = $1 AND d.site_id = $2`, id, siteID).Scan(
		&d.ID, &d.SiteID, &d.TenantID, &manifest, &d.Worker, &config,
		&d.Source.Type, &d.Source.Commit, &d.Source.Branch, &d.Source.Tree, &d.Created)
	if err != nil {
		return d, mapErr(op, err)
	}
	if d.Manifest, err = manifestjson.Decode(manifest); err != nil {
		return d, fmt.Errorf("pgstore: %s: decoding manifest: %w", op, err)
	}
	if err := json.Unmarshal(config, &d.Config); err != nil {
		return d, fmt.Errorf("pgstore: %s: decoding config: %w", op, err)
	}
	d.Created = d.Created.UTC()
	return d, nil
}

// Deployments lists a site's deployments without manifests, newest first.
func (s *Store) Deployments(ctx context.Context, siteID string) ([]tenants.DeploymentSummary, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, site_id, files, bytes, worker, source_type, source_commit, source_branch, source_tree, created_at
FROM deployments WHERE site_id = $1 ORDER BY created_at DESC, seq DESC`, siteID)
	if err != nil {
		return nil, mapErr("listing deployments", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenants.DeploymentSummary, error) {
		var d tenants.DeploymentSummary
		err := r.Scan(&d.ID, &d.SiteID, &d.Files, &d.Bytes, &d.Worker, &d.Source.Type, &d.Source.Commit, &d.Source.Branch, &d.Source.Tree, &d.Created)
		d.Created = d.Created.UTC()
		return d, err
	})
	return out, mapErr("listing deployments", err)
}

// Activate points the site at deployment id, and notifies the site's
// change, in one statement whose WHERE clause checks that the deployment
// belongs to the site.
func (s *Store) Activate(ctx context.Context, siteID, id string) error {
	// Under the site's repository lock, as DeleteDeployments: a deployment
	// being deleted is either kept (activated first) or gone.
	var tag pgconn.CommandTag
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockGit(ctx, tx, siteID); err != nil {
			return err
		}
		var err error
		tag, err = tx.Exec(ctx, `WITH u AS (UPDATE sites SET active_deployment = $1
WHERE id = $2 AND EXISTS (SELECT 1 FROM deployments WHERE id = $1 AND site_id = $2) RETURNING name)
SELECT pg_notify($3, $4 || name) FROM u`, id, siteID, ChangesChannel, tenants.ChangeSite+":")
		return err
	})
	return affected("activating deployment "+id+" of site "+siteID, tag, err)
}

// Tokens.

const tokenCols = `id, coalesce(tenant_id, ''), coalesce(site_id, ''), name, hash, created_at`

func scanToken(row pgx.Row) (tenants.Token, error) {
	var t tenants.Token
	err := row.Scan(&t.ID, &t.TenantID, &t.SiteID, &t.Name, &t.Hash, &t.Created)
	t.Created = t.Created.UTC()
	return t, err
}

// nullable is &s, or nil (NULL) for "".
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// CreateToken stores a token; ErrConflict when its ID or hash exists,
// ErrNotFound when its tenant or site does not, ErrInvalid when its site
// belongs to another tenant.
func (s *Store) CreateToken(ctx context.Context, t tenants.Token) error {
	op := "creating token " + t.ID
	if err := t.Validate(); err != nil {
		return invalid("creating token", err)
	}
	if t.SiteID != "" {
		if _, err := s.siteTenant(ctx, op, t.SiteID, t.TenantID); err != nil {
			return err
		}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO tokens (id, tenant_id, site_id, name, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, nullable(t.TenantID), nullable(t.SiteID), t.Name, t.Hash, s.stamp(t.Created))
	return mapErr(op, err)
}

// TokenByHash returns the token whose secret hashes to hash.
func (s *Store) TokenByHash(ctx context.Context, hash string) (tenants.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = $1`, hash))
	return t, mapErr("token by hash", err)
}

// Tokens lists a tenant's tokens (its site tokens included), or the admin
// tokens for "", oldest first.
func (s *Store) Tokens(ctx context.Context, tenantID string) ([]tenants.Token, error) {
	q := `SELECT ` + tokenCols + ` FROM tokens WHERE tenant_id = $1 ORDER BY created_at, seq`
	args := []any{tenantID}
	if tenantID == "" {
		q, args = `SELECT `+tokenCols+` FROM tokens WHERE tenant_id IS NULL ORDER BY created_at, seq`, nil
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, mapErr("listing tokens", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenants.Token, error) { return scanToken(r) })
	return out, mapErr("listing tokens", err)
}

// DeleteToken deletes a token.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE id = $1`, id)
	return affected("deleting token "+id, tag, err)
}

// Upload sessions.

// CreateUploadSession stores a session. TenantID may be empty (it is the
// site's); ErrNotFound when the site does not exist.
func (s *Store) CreateUploadSession(ctx context.Context, u tenants.UploadSession) error {
	op := "creating upload session " + u.ID
	if err := u.Validate(); err != nil {
		return invalid(op, err)
	}
	manifest, err := json.Marshal(u.Manifest)
	if err != nil {
		return invalid(op, fmt.Errorf("%w: encoding manifest: %v", tenants.ErrInvalid, err))
	}
	if _, err := s.siteTenant(ctx, op, u.SiteID, u.TenantID); err != nil {
		return err
	}
	var workerHash string
	var workerSize int64
	if u.Worker != nil {
		workerHash, workerSize = u.Worker.Hash, u.Worker.Size
	}
	_, err = s.pool.Exec(ctx, fmt.Sprintf(bumpGen, "$2")+`INSERT INTO upload_sessions (id, site_id, manifest, worker_hash, worker_size, expires_at, created_at, entries, publish_gen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, `+genValue+`)`,
		u.ID, u.SiteID, string(manifest), workerHash, workerSize, u.Expires.Truncate(time.Millisecond).UTC(), s.stamp(u.Created), len(u.Manifest))
	return mapErr(op, err)
}

// UploadSession returns an unexpired session; ErrNotFound once it expired.
func (s *Store) UploadSession(ctx context.Context, id string) (tenants.UploadSession, error) {
	op := "upload session " + id
	var (
		u          tenants.UploadSession
		manifest   []byte
		workerHash string
		workerSize int64
	)
	err := s.pool.QueryRow(ctx, `SELECT u.id, u.site_id, s.tenant_id, u.manifest::text, u.worker_hash, u.worker_size, u.expires_at, u.created_at
FROM upload_sessions u JOIN sites s ON s.id = u.site_id
WHERE u.id = $1 AND u.expires_at >= $2`, id, s.now().Truncate(time.Millisecond)).Scan(&u.ID, &u.SiteID, &u.TenantID, &manifest, &workerHash, &workerSize, &u.Expires, &u.Created)
	if err != nil {
		return u, mapErr(op, err)
	}
	if workerHash != "" {
		u.Worker = &tenants.WorkerBlob{Hash: workerHash, Size: workerSize}
	}
	if u.Manifest, err = manifestjson.Decode(manifest); err != nil {
		return u, fmt.Errorf("pgstore: %s: decoding manifest: %w", op, err)
	}
	u.Expires, u.Created = u.Expires.UTC(), u.Created.UTC()
	return u, nil
}

// DeleteUploadSession deletes a session, expired or not.
func (s *Store) DeleteUploadSession(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM upload_sessions WHERE id = $1`, id)
	return affected("deleting upload session "+id, tag, err)
}

// DeleteExpiredUploadSessions deletes sessions that expired before now and
// returns how many.
func (s *Store) DeleteExpiredUploadSessions(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM upload_sessions WHERE expires_at < $1`, now.Truncate(time.Millisecond))
	if err != nil {
		return 0, mapErr("deleting expired upload sessions", err)
	}
	return int(tag.RowsAffected()), nil
}

// Blob index.

// PutBlobs records blobs of a tenant in one statement (upsert; the last
// record of a hash given twice wins). ErrNotFound when the tenant does not
// exist; nothing is recorded when any blob is invalid.
func (s *Store) PutBlobs(ctx context.Context, tenantID string, blobs []tenants.Blob) error {
	op := "recording blobs of tenant " + tenantID
	if len(blobs) == 0 {
		return nil
	}
	// One row per hash: ON CONFLICT DO UPDATE cannot touch a row twice in
	// one statement.
	last := make(map[string]int, len(blobs))
	for i, b := range blobs {
		if err := b.Validate(); err != nil {
			return invalid(op, err)
		}
		last[b.Hash] = i
	}
	var (
		hashes          = make([]string, 0, len(last))
		sizes, brs, gzs = make([]int64, 0, len(last)), make([]int64, 0, len(last)), make([]int64, 0, len(last))
	)
	for i, b := range blobs {
		if last[b.Hash] != i {
			continue
		}
		hashes = append(hashes, b.Hash)
		sizes, brs, gzs = append(sizes, b.Size), append(brs, b.BrSize), append(gzs, b.GzSize)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO blobs (tenant_id, hash, size, br_size, gz_size)
SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[])
ON CONFLICT (tenant_id, hash) DO UPDATE SET size = excluded.size, br_size = excluded.br_size, gz_size = excluded.gz_size`,
		tenantID, hashes, sizes, brs, gzs)
	return mapErr(op, err)
}

// Blobs returns the recorded blobs of a tenant among hashes, in one query
// whatever the number of hashes. A blob queued for deletion (blob_garbage)
// counts as absent.
func (s *Store) Blobs(ctx context.Context, tenantID string, hashes []string) (map[string]tenants.Blob, error) {
	op := "looking up blobs of tenant " + tenantID
	out := make(map[string]tenants.Blob)
	if len(hashes) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT hash, size, br_size, gz_size FROM blobs b WHERE tenant_id = $1 AND hash = ANY($2)
AND NOT EXISTS (SELECT 1 FROM blob_garbage g WHERE g.tenant_id = $1 AND g.hash = b.hash)`, tenantID, hashes)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var b tenants.Blob
		if err := rows.Scan(&b.Hash, &b.Size, &b.BrSize, &b.GzSize); err != nil {
			return nil, mapErr(op, err)
		}
		out[b.Hash] = b
	}
	return out, mapErr(op, rows.Err())
}

var _ tenants.Store = (*Store)(nil)
