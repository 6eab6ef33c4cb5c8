// Package sqlitestore is the embedded tenants.Store: one SQLite file in the
// data directory, driven by the pure-Go modernc.org/sqlite driver.
//
// The database runs in WAL mode with synchronous=NORMAL, foreign keys on and
// a busy timeout. Writes go through a pool of exactly one connection whose
// transactions begin IMMEDIATE, so concurrent writers queue in Go instead of
// failing with SQLITE_BUSY; reads use a separate read-only pool and proceed
// in parallel with the writer. Manifests and configurations are stored as
// JSON text, one column per deployment. The schema is versioned
// (schema_migrations) and brought up to date by Open.
//
// The store does not implement tenants.ChangeWatcher: one process owns the
// file, so the callbacks of that process see every change.
//
// Only cmd/pier and tests should import sqlitestore; everything else uses
// the tenants.Store interface.
package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/internal/gitcheck"
	"github.com/pierhq/pier/tenants/internal/manifestjson"
)

// busyTimeout is how long a connection waits for a lock held by another
// process (another pier on the same file, or a backup tool) before failing.
const busyTimeout = 10 * time.Second

// Store is a tenants.Store backed by a SQLite file. It is safe for
// concurrent use.
type Store struct {
	write *sql.DB // exactly one connection; BEGIN IMMEDIATE
	read  *sql.DB // read-only connections
	now   func() time.Time

	// Statements of the hot read paths, prepared once per connection
	// instead of parsed on every call.
	tenantStmt, siteStmt, tokenStmt, deploymentStmt, blobsStmt, kvGetStmt *sql.Stmt
	// The KV writes of workers, on the writer (kv.go): parsing the put
	// took a quarter of the CPU of a worker doing a put per request.
	kvPutStmt, kvCurrentStmt, kvDeleteStmt *sql.Stmt

	// The KV writer's group commit (kv.go), started by the first write.
	kvOnce      sync.Once
	kvCloseOnce sync.Once
	kvJobs      chan *kvJob
	kvStop      chan struct{}
	kvDone      chan struct{}
}

const (
	tenantQuery     = `SELECT ` + tenantCols + ` FROM tenants WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1`
	siteQuery       = `SELECT ` + siteCols + ` FROM sites WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1`
	tokenQuery      = `SELECT ` + tokenCols + ` FROM tokens WHERE hash = ?`
	deploymentQuery = `SELECT d.id, d.site_id, s.tenant_id, d.manifest, d.worker, d.config,
	d.source_type, d.source_commit, d.source_branch, d.source_tree, d.created_at
FROM deployments d JOIN sites s ON s.id = d.site_id
WHERE d.id = ? AND d.site_id = ?`
	// The hash list travels as one JSON array, so there is no limit on the
	// number of SQL variables. CROSS JOIN makes the list the outer loop
	// (SQLite never reorders it), probing the primary key of blobs once per
	// hash; a plain JOIN may let the planner scan the list once per blob.
	// The answer is one row, "hash,size,br,gz;…" (hashes are validated hex),
	// which avoids the per-row cost of database/sql; duplicates in the list
	// yield duplicate records, which the caller's map absorbs. A blob
	// queued for deletion (blob_garbage) counts as absent.
	blobsQuery = `SELECT coalesce(group_concat(b.hash || ',' || b.size || ',' || b.br_size || ',' || b.gz_size, ';'), '')
FROM json_each(?2) AS j CROSS JOIN blobs AS b ON b.tenant_id = ?1 AND b.hash = j.value
WHERE NOT EXISTS (SELECT 1 FROM blob_garbage AS g WHERE g.tenant_id = ?1 AND g.hash = b.hash)`
)

// Open opens (creating if needed) the SQLite database at path and applies
// pending schema migrations. path must name a file: an in-memory database
// cannot be shared by the read and write pools.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlitestore: path %q must be a plain file path", path)
	}
	// dsn builds a connection string: the pragmas every connection
	// runs, plus extra query parameters.
	dsn := func(extra url.Values) string {
		q := url.Values{"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
			"journal_mode(WAL)",
			"foreign_keys(1)",
			"synchronous(NORMAL)",
		}}
		for k, vs := range extra {
			q[k] = append(q[k], vs...)
		}
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}

	write, err := sql.Open("sqlite", dsn(url.Values{"_txlock": {"immediate"}}))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: opening %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	s := &Store{write: write, now: time.Now}
	// Migrations run on the writer first: it creates the file and switches
	// it to WAL before any reader connects.
	if err := migrate(ctx, write, s.now); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlitestore: %s: %w", path, err)
	}

	read, err := sql.Open("sqlite", dsn(url.Values{"_pragma": {"query_only(1)"}}))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlitestore: opening %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	if err := read.PingContext(ctx); err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("sqlitestore: %s: %w", path, err)
	}
	s.read = read
	// Reads on the read pool; the KV writes' on the writer, whose one
	// connection every write transaction runs on.
	for _, p := range []struct {
		db    *sql.DB
		stmt  **sql.Stmt
		query string
	}{
		{read, &s.tenantStmt, tenantQuery},
		{read, &s.siteStmt, siteQuery},
		{read, &s.tokenStmt, tokenQuery},
		{read, &s.deploymentStmt, deploymentQuery},
		{read, &s.blobsStmt, blobsQuery},
		{read, &s.kvGetStmt, kvGetQuery},
		{write, &s.kvPutStmt, kvPutQuery},
		{write, &s.kvCurrentStmt, kvCurrentQuery},
		{write, &s.kvDeleteStmt, kvDeleteQuery},
	} {
		if *p.stmt, err = p.db.PrepareContext(ctx, p.query); err != nil {
			s.Close()
			return nil, fmt.Errorf("sqlitestore: %s: preparing statements: %w", path, err)
		}
	}
	return s, nil
}

// Close closes both connection pools.
func (s *Store) Close() error {
	s.closeKV()
	var errs []error
	for _, st := range []*sql.Stmt{s.tenantStmt, s.siteStmt, s.tokenStmt, s.deploymentStmt, s.blobsStmt, s.kvGetStmt, s.kvPutStmt, s.kvCurrentStmt, s.kvDeleteStmt} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(append(errs, s.read.Close(), s.write.Close())...)
}

// mapErr translates SQLite constraint failures to the tenants sentinels.
// A foreign-key failure means the parent (tenant or site) does not exist.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlitestore: %s: %w", op, tenants.ErrNotFound)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("sqlitestore: %s: %w (%v)", op, tenants.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("sqlitestore: %s: %w", op, tenants.ErrNotFound)
		}
	}
	return fmt.Errorf("sqlitestore: %s: %w", op, err)
}

func notFound(op string) error { return fmt.Errorf("sqlitestore: %s: %w", op, tenants.ErrNotFound) }

func invalid(op string, err error) error { return fmt.Errorf("sqlitestore: %s: %w", op, err) }

// msTime converts stored Unix milliseconds to a UTC time.
func msTime(v int64) time.Time { return time.UnixMilli(v).UTC() }

// createdMs returns t in Unix milliseconds, or now for the zero time.
func (s *Store) createdMs(t time.Time) int64 {
	if t.IsZero() {
		t = s.now()
	}
	return t.UnixMilli()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func affected(op string, res sql.Result, err error) error {
	if err != nil {
		return mapErr(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(op, err)
	}
	if n == 0 {
		return notFound(op)
	}
	return nil
}

// Tenants.

const tenantCols = `id, name, plan, cpu_ms, cpu_ms_per_second, sub_requests, memory_mb, git_repo_mb, git_push_mb, kv_ops, kv_value_kb, quotas, tags, salt, disabled, created_at`

func scanTenant(sc interface{ Scan(...any) error }) (tenants.Tenant, error) {
	var (
		t        tenants.Tenant
		tags     []byte
		quotas   []byte
		disabled int
		created  int64
	)
	if err := sc.Scan(&t.ID, &t.Name, &t.Plan, &t.Limits.CPUMs, &t.Limits.CPUMsPerSecond, &t.Limits.SubRequests, &t.Limits.MemoryMB, &t.Limits.GitRepoMB, &t.Limits.GitPushMB, &t.Limits.KVOps, &t.Limits.KVValueKB, &quotas, &tags, &t.Salt, &disabled, &created); err != nil {
		return t, err
	}
	if err := json.Unmarshal(quotas, &t.Limits.Quotas); err != nil {
		return t, fmt.Errorf("decoding quotas of tenant %s: %w", t.ID, err)
	}
	if err := json.Unmarshal(tags, &t.Tags); err != nil {
		return t, fmt.Errorf("decoding tags of tenant %s: %w", t.ID, err)
	}
	if t.Tags == nil {
		t.Tags = []string{}
	}
	t.Disabled = disabled != 0
	t.Created = msTime(created)
	return t, nil
}

func quotasJSON(q tenants.Quotas) string {
	b, _ := json.Marshal(q) // a struct of ints always encodes
	return string(b)
}

func tagsJSON(tags []string) []byte {
	if tags == nil {
		tags = []string{}
	}
	b, _ := json.Marshal(tags) // a []string always encodes
	return b
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
	_, err := s.write.ExecContext(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Name, t.Plan, t.Limits.CPUMs, t.Limits.CPUMsPerSecond, t.Limits.SubRequests, t.Limits.MemoryMB, t.Limits.GitRepoMB, t.Limits.GitPushMB, t.Limits.KVOps, t.Limits.KVValueKB, quotasJSON(t.Limits.Quotas), string(tagsJSON(t.Tags)), t.Salt, boolInt(t.Disabled), s.createdMs(t.Created))
	return mapErr("creating tenant "+t.Name, err)
}

// Tenant returns the tenant whose ID or, failing that, name is ref.
func (s *Store) Tenant(ctx context.Context, ref string) (tenants.Tenant, error) {
	t, err := scanTenant(s.tenantStmt.QueryRowContext(ctx, ref))
	return t, mapErr("tenant "+ref, err)
}

// Tenants lists tenants ordered by name, optionally only those with a tag.
func (s *Store) Tenants(ctx context.Context, f tenants.TenantFilter) ([]tenants.Tenant, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+tenantCols+` FROM tenants
WHERE ?1 = '' OR EXISTS (SELECT 1 FROM json_each(tenants.tags) WHERE json_each.value = ?1)
ORDER BY name`, f.Tag)
	if err != nil {
		return nil, mapErr("listing tenants", err)
	}
	defer rows.Close()
	out := []tenants.Tenant{}
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, mapErr("listing tenants", err)
		}
		out = append(out, t)
	}
	return out, mapErr("listing tenants", rows.Err())
}

// UpdateTenant writes the tenant's plan, limits, tags and disabled flag.
func (s *Store) UpdateTenant(ctx context.Context, t tenants.Tenant) error {
	return s.UpdateTenants(ctx, []tenants.Tenant{t})
}

// UpdateTenants updates every tenant of ts in one transaction.
func (s *Store) UpdateTenants(ctx context.Context, ts []tenants.Tenant) error {
	for _, t := range ts {
		if err := t.ValidateUpdate(); err != nil {
			return invalid("updating tenant "+t.ID, err)
		}
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return mapErr("updating tenants", err)
	}
	defer tx.Rollback()
	for _, t := range ts {
		res, err := tx.ExecContext(ctx, `UPDATE tenants SET plan = ?, cpu_ms = ?, cpu_ms_per_second = ?, sub_requests = ?, memory_mb = ?, git_repo_mb = ?, git_push_mb = ?, kv_ops = ?, kv_value_kb = ?, quotas = ?, tags = ?, disabled = ? WHERE id = ?`,
			t.Plan, t.Limits.CPUMs, t.Limits.CPUMsPerSecond, t.Limits.SubRequests, t.Limits.MemoryMB, t.Limits.GitRepoMB, t.Limits.GitPushMB, t.Limits.KVOps, t.Limits.KVValueKB, quotasJSON(t.Limits.Quotas), string(tagsJSON(t.Tags)), boolInt(t.Disabled), t.ID)
		if err := affected("updating tenant "+t.ID, res, err); err != nil {
			return err
		}
	}
	return mapErr("updating tenants", tx.Commit())
}

// DeleteTenant deletes the tenant and, by cascade, its sites, deployments,
// tokens, upload sessions and blob index, and queues its blobs and git
// packs for deletion (blob_garbage) in the same transaction.
func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	op := "deleting tenant " + id
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer tx.Rollback()
	if err := s.queueTenantGarbage(ctx, tx, id); err != nil {
		return mapErr(op, err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM tenants WHERE id = ?`, id)
	if err := affected(op, res, err); err != nil {
		return err
	}
	return mapErr(op, tx.Commit())
}

// Sites.

const siteCols = `id, tenant_id, name, coalesce(active_deployment, ''), production_branch, created_at`

func scanSite(sc interface{ Scan(...any) error }) (tenants.Site, error) {
	var (
		st      tenants.Site
		created int64
	)
	err := sc.Scan(&st.ID, &st.TenantID, &st.Name, &st.ActiveDeployment, &st.ProductionBranch, &created)
	st.Created = msTime(created)
	return st, err
}

// CreateSite stores a new site (its production branch is
// tenants.DefaultProductionBranch when not set); ErrNotFound when its
// tenant does not exist.
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
	_, err := s.write.ExecContext(ctx, `INSERT INTO sites (id, tenant_id, name, production_branch, created_at) VALUES (?, ?, ?, ?, ?)`,
		st.ID, st.TenantID, st.Name, st.ProductionBranch, s.createdMs(st.Created))
	return mapErr("creating site "+st.Name, err)
}

// Site returns the site whose ID or, failing that, name is ref.
func (s *Store) Site(ctx context.Context, ref string) (tenants.Site, error) {
	st, err := scanSite(s.siteStmt.QueryRowContext(ctx, ref))
	return st, mapErr("site "+ref, err)
}

// Sites lists a tenant's sites, or all sites for "", ordered by name.
func (s *Store) Sites(ctx context.Context, tenantID string) ([]tenants.Site, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+siteCols+` FROM sites WHERE ?1 = '' OR tenant_id = ?1 ORDER BY name`, tenantID)
	if err != nil {
		return nil, mapErr("listing sites", err)
	}
	defer rows.Close()
	out := []tenants.Site{}
	for rows.Next() {
		st, err := scanSite(rows)
		if err != nil {
			return nil, mapErr("listing sites", err)
		}
		out = append(out, st)
	}
	return out, mapErr("listing sites", rows.Err())
}

// DeleteSite deletes the site and, by cascade, its deployments, upload
// sessions, domain claims and site tokens (with their console sessions),
// and queues its git packs for deletion in the same transaction.
func (s *Store) DeleteSite(ctx context.Context, id string) error {
	op := "deleting site " + id
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer tx.Rollback()
	if err := s.queueSiteGarbage(ctx, tx, id); err != nil {
		return mapErr(op, err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM sites WHERE id = ?`, id)
	if err := affected(op, res, err); err != nil {
		return err
	}
	return mapErr(op, tx.Commit())
}

// Deployments.

// siteTenant returns the tenant of site id within tx, checking a
// caller-supplied tenant ID against it.
func siteTenant(ctx context.Context, tx *sql.Tx, op, siteID, claimed string) (string, error) {
	var tenantID string
	if err := tx.QueryRowContext(ctx, `SELECT tenant_id FROM sites WHERE id = ?`, siteID).Scan(&tenantID); err != nil {
		return "", mapErr(op+": site "+siteID, err)
	}
	if claimed != "" && claimed != tenantID {
		return "", fmt.Errorf("sqlitestore: %s: %w: site %s belongs to another tenant than %s", op, tenants.ErrInvalid, siteID, claimed)
	}
	return tenantID, nil
}

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
	sum := d.Summary()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer tx.Rollback()
	tenantID, err := siteTenant(ctx, tx, op, d.SiteID, d.TenantID)
	if err != nil {
		return err
	}
	gen, err := bumpGeneration(ctx, tx, tenantID)
	if err != nil {
		return mapErr(op, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO deployments
(id, site_id, manifest, files, bytes, worker, config, source_type, source_commit, source_branch, source_tree, created_at, publish_gen)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.SiteID, string(manifest), sum.Files, sum.Bytes, d.Worker, string(config),
		d.Source.Type, d.Source.Commit, d.Source.Branch, d.Source.Tree, s.createdMs(d.Created), gen); err != nil {
		return mapErr(op, err)
	}
	return mapErr(op, tx.Commit())
}

// Deployment returns deployment id of site siteID with its manifest.
func (s *Store) Deployment(ctx context.Context, siteID, id string) (tenants.Deployment, error) {
	op := "deployment " + id
	var (
		d                tenants.Deployment
		manifest, config []byte
		created          int64
	)
	err := s.deploymentStmt.QueryRowContext(ctx, id, siteID).Scan(
		&d.ID, &d.SiteID, &d.TenantID, &manifest, &d.Worker, &config,
		&d.Source.Type, &d.Source.Commit, &d.Source.Branch, &d.Source.Tree, &created)
	if err != nil {
		return d, mapErr(op, err)
	}
	if d.Manifest, err = manifestjson.Decode(manifest); err != nil {
		return d, fmt.Errorf("sqlitestore: %s: decoding manifest: %w", op, err)
	}
	if err := json.Unmarshal(config, &d.Config); err != nil {
		return d, fmt.Errorf("sqlitestore: %s: decoding config: %w", op, err)
	}
	d.Created = msTime(created)
	return d, nil
}

// Deployments lists a site's deployments without manifests, newest first.
func (s *Store) Deployments(ctx context.Context, siteID string) ([]tenants.DeploymentSummary, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, site_id, files, bytes, worker, source_type, source_commit, source_branch, source_tree, created_at
FROM deployments WHERE site_id = ? ORDER BY created_at DESC, seq DESC`, siteID)
	if err != nil {
		return nil, mapErr("listing deployments", err)
	}
	defer rows.Close()
	out := []tenants.DeploymentSummary{}
	for rows.Next() {
		var (
			d       tenants.DeploymentSummary
			created int64
		)
		if err := rows.Scan(&d.ID, &d.SiteID, &d.Files, &d.Bytes, &d.Worker, &d.Source.Type, &d.Source.Commit, &d.Source.Branch, &d.Source.Tree, &created); err != nil {
			return nil, mapErr("listing deployments", err)
		}
		d.Created = msTime(created)
		out = append(out, d)
	}
	return out, mapErr("listing deployments", rows.Err())
}

// Activate points the site at deployment id in one UPDATE whose WHERE
// clause checks that the deployment belongs to the site.
func (s *Store) Activate(ctx context.Context, siteID, id string) error {
	res, err := s.write.ExecContext(ctx, `UPDATE sites SET active_deployment = ?1
WHERE id = ?2 AND EXISTS (SELECT 1 FROM deployments WHERE id = ?1 AND site_id = ?2)`, id, siteID)
	return affected("activating deployment "+id+" of site "+siteID, res, err)
}

// Tokens.

const tokenCols = `id, coalesce(tenant_id, ''), coalesce(site_id, ''), name, hash, created_at`

func scanToken(sc interface{ Scan(...any) error }) (tenants.Token, error) {
	var (
		t       tenants.Token
		created int64
	)
	err := sc.Scan(&t.ID, &t.TenantID, &t.SiteID, &t.Name, &t.Hash, &created)
	t.Created = msTime(created)
	return t, err
}

// nullable is s, or NULL for "".
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateToken stores a token; ErrConflict when its ID or hash exists,
// ErrNotFound when its tenant or site does not, ErrInvalid when its site
// belongs to another tenant.
func (s *Store) CreateToken(ctx context.Context, t tenants.Token) error {
	op := "creating token " + t.ID
	if err := t.Validate(); err != nil {
		return invalid("creating token", err)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer tx.Rollback()
	if t.SiteID != "" {
		if _, err := siteTenant(ctx, tx, op, t.SiteID, t.TenantID); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO tokens (id, tenant_id, site_id, name, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, nullable(t.TenantID), nullable(t.SiteID), t.Name, t.Hash, s.createdMs(t.Created)); err != nil {
		return mapErr(op, err)
	}
	return mapErr(op, tx.Commit())
}

// TokenByHash returns the token whose secret hashes to hash.
func (s *Store) TokenByHash(ctx context.Context, hash string) (tenants.Token, error) {
	t, err := scanToken(s.tokenStmt.QueryRowContext(ctx, hash))
	return t, mapErr("token by hash", err)
}

// Tokens lists a tenant's tokens (its site tokens included), or the admin
// tokens for "", oldest first.
func (s *Store) Tokens(ctx context.Context, tenantID string) ([]tenants.Token, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE coalesce(tenant_id, '') = ? ORDER BY created_at, seq`, tenantID)
	if err != nil {
		return nil, mapErr("listing tokens", err)
	}
	defer rows.Close()
	out := []tenants.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, mapErr("listing tokens", err)
		}
		out = append(out, t)
	}
	return out, mapErr("listing tokens", rows.Err())
}

// DeleteToken deletes a token.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM tokens WHERE id = ?`, id)
	return affected("deleting token "+id, res, err)
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
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer tx.Rollback()
	tenantID, err := siteTenant(ctx, tx, op, u.SiteID, u.TenantID)
	if err != nil {
		return err
	}
	gen, err := bumpGeneration(ctx, tx, tenantID)
	if err != nil {
		return mapErr(op, err)
	}
	var workerHash string
	var workerSize int64
	if u.Worker != nil {
		workerHash, workerSize = u.Worker.Hash, u.Worker.Size
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO upload_sessions (id, site_id, manifest, worker_hash, worker_size, expires_at, created_at, entries, publish_gen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.SiteID, string(manifest), workerHash, workerSize, u.Expires.UnixMilli(), s.createdMs(u.Created), len(u.Manifest), gen); err != nil {
		return mapErr(op, err)
	}
	return mapErr(op, tx.Commit())
}

// UploadSession returns an unexpired session; ErrNotFound once it expired.
func (s *Store) UploadSession(ctx context.Context, id string) (tenants.UploadSession, error) {
	op := "upload session " + id
	var (
		u                tenants.UploadSession
		manifest         []byte
		workerHash       string
		workerSize       int64
		expires, created int64
	)
	err := s.read.QueryRowContext(ctx, `SELECT u.id, u.site_id, s.tenant_id, u.manifest, u.worker_hash, u.worker_size, u.expires_at, u.created_at
FROM upload_sessions u JOIN sites s ON s.id = u.site_id
WHERE u.id = ? AND u.expires_at >= ?`, id, s.now().UnixMilli()).Scan(&u.ID, &u.SiteID, &u.TenantID, &manifest, &workerHash, &workerSize, &expires, &created)
	if err != nil {
		return u, mapErr(op, err)
	}
	if workerHash != "" {
		u.Worker = &tenants.WorkerBlob{Hash: workerHash, Size: workerSize}
	}
	if u.Manifest, err = manifestjson.Decode(manifest); err != nil {
		return u, fmt.Errorf("sqlitestore: %s: decoding manifest: %w", op, err)
	}
	u.Expires, u.Created = msTime(expires), msTime(created)
	return u, nil
}

// DeleteUploadSession deletes a session, expired or not.
func (s *Store) DeleteUploadSession(ctx context.Context, id string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM upload_sessions WHERE id = ?`, id)
	return affected("deleting upload session "+id, res, err)
}

// DeleteExpiredUploadSessions deletes sessions that expired before now and
// returns how many.
func (s *Store) DeleteExpiredUploadSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM upload_sessions WHERE expires_at < ?`, now.UnixMilli())
	if err != nil {
		return 0, mapErr("deleting expired upload sessions", err)
	}
	n, err := res.RowsAffected()
	return int(n), mapErr("deleting expired upload sessions", err)
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
	for _, b := range blobs {
		if err := b.Validate(); err != nil {
			return invalid(op, err)
		}
	}
	// The batch travels as one JSON parameter: no limit on the number of
	// SQL variables, one statement however many blobs.
	rows, err := json.Marshal(blobs)
	if err != nil {
		return invalid(op, err)
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO blobs (tenant_id, hash, size, br_size, gz_size)
SELECT ?1, value->>'hash', coalesce(value->>'size', 0), coalesce(value->>'br_size', 0), coalesce(value->>'gz_size', 0)
FROM json_each(?2) WHERE true
ON CONFLICT (tenant_id, hash) DO UPDATE SET size = excluded.size, br_size = excluded.br_size, gz_size = excluded.gz_size`,
		tenantID, string(rows))
	return mapErr(op, err)
}

// Blobs returns the recorded blobs of a tenant among hashes, in one query
// whatever the number of hashes.
func (s *Store) Blobs(ctx context.Context, tenantID string, hashes []string) (map[string]tenants.Blob, error) {
	op := "looking up blobs of tenant " + tenantID
	out := make(map[string]tenants.Blob)
	if len(hashes) == 0 {
		return out, nil
	}
	list, err := json.Marshal(hashes)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %s: %w", op, err)
	}
	var records string
	if err := s.blobsStmt.QueryRowContext(ctx, tenantID, string(list)).Scan(&records); err != nil {
		return nil, mapErr(op, err)
	}
	for rec := range strings.SplitSeq(records, ";") {
		if rec == "" {
			continue
		}
		b, err := parseBlob(rec)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: %s: %w", op, err)
		}
		out[b.Hash] = b
	}
	return out, nil
}

// parseBlob parses "hash,size,br_size,gz_size".
func parseBlob(rec string) (tenants.Blob, error) {
	var (
		b    tenants.Blob
		f    [3]string
		rest string
		ok   bool
		err  error
	)
	b.Hash, rest, ok = strings.Cut(rec, ",")
	f[0], rest, _ = strings.Cut(rest, ",")
	f[1], f[2], _ = strings.Cut(rest, ",")
	if !ok {
		return b, fmt.Errorf("malformed blob record %q", rec)
	}
	for i, p := range []*int64{&b.Size, &b.BrSize, &b.GzSize} {
		if *p, err = strconv.ParseInt(f[i], 10, 64); err != nil {
			return b, fmt.Errorf("malformed blob record of %s: %w", b.Hash, err)
		}
	}
	return b, nil
}

var _ tenants.Store = (*Store)(nil)
