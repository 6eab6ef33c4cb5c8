package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/internal/gitcheck"
)

// Git repositories (tenants.GitStore). Every write runs in one IMMEDIATE
// transaction of the single writer connection, so a compare-and-swap
// reads and writes with no other writer in between.

const gitRefCols = `site_id, name, commit_id, deployment, alias, updated_at`

func scanGitRef(sc interface{ Scan(...any) error }) (tenants.GitRef, error) {
	var (
		r       tenants.GitRef
		updated int64
	)
	err := sc.Scan(&r.SiteID, &r.Name, &r.Commit, &r.Deployment, &r.Alias, &updated)
	r.Updated = msTime(updated)
	return r, err
}

// GitRefs lists a site's refs ordered by name.
func (s *Store) GitRefs(ctx context.Context, siteID string) ([]tenants.GitRef, error) {
	return gitRefs(ctx, s.read, siteID)
}

// gitRefs lists a site's refs through q (the read pool or a transaction).
func gitRefs(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, siteID string) ([]tenants.GitRef, error) {
	op := "listing git refs of site " + siteID
	rows, err := q.QueryContext(ctx, `SELECT `+gitRefCols+` FROM git_refs WHERE site_id = ? ORDER BY name`, siteID)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out := []tenants.GitRef{}
	for rows.Next() {
		r, err := scanGitRef(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, r)
	}
	return out, mapErr(op, rows.Err())
}

// GitAlias returns the site's ref whose alias is alias.
func (s *Store) GitAlias(ctx context.Context, siteID, alias string) (tenants.GitRef, error) {
	op := "git alias " + alias + " of site " + siteID
	if alias == "" {
		return tenants.GitRef{}, notFound(op)
	}
	r, err := scanGitRef(s.read.QueryRowContext(ctx, `SELECT `+gitRefCols+` FROM git_refs WHERE site_id = ? AND alias = ?`, siteID, alias))
	return r, mapErr(op, err)
}

// GitPacks lists a site's packs, oldest first.
func (s *Store) GitPacks(ctx context.Context, siteID string) ([]tenants.GitPack, error) {
	op := "listing git packs of site " + siteID
	rows, err := s.read.QueryContext(ctx, `SELECT site_id, name, size, created_at FROM git_packs WHERE site_id = ? ORDER BY created_at, seq`, siteID)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out := []tenants.GitPack{}
	for rows.Next() {
		var (
			p       tenants.GitPack
			created int64
		)
		if err := rows.Scan(&p.SiteID, &p.Name, &p.Size, &created); err != nil {
			return nil, mapErr(op, err)
		}
		p.Created = msTime(created)
		out = append(out, p)
	}
	return out, mapErr(op, rows.Err())
}

// GitShallow lists the repository's shallow commits, sorted.
func (s *Store) GitShallow(ctx context.Context, siteID string) ([]string, error) {
	op := "listing shallow commits of site " + siteID
	rows, err := s.read.QueryContext(ctx, `SELECT commit_id FROM git_shallow WHERE site_id = ? ORDER BY commit_id`, siteID)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, c)
	}
	return out, mapErr(op, rows.Err())
}

// ApplyGitPush writes p in one transaction: each ref update is checked
// against the ref's current commit (a *tenants.GitRefConflictError when it
// moved, and nothing is written), the aliases of the resulting refs must
// be unique within the site (ErrConflict), then refs, packs and shallow
// commits are written and p.Activate, when set, made live.
func (s *Store) ApplyGitPush(ctx context.Context, p tenants.GitPush) error {
	op := "applying git push to site " + p.SiteID
	if err := gitcheck.Push(p); err != nil {
		return invalid(op, err)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer tx.Rollback()
	if _, err := siteTenant(ctx, tx, op, p.SiteID, ""); err != nil {
		return err
	}
	cur, err := gitRefs(ctx, tx, p.SiteID)
	if err != nil {
		return err
	}
	if _, err := gitcheck.Apply(cur, p.Refs); err != nil {
		return fmt.Errorf("sqlitestore: %s: %w", op, err)
	}
	now := s.now()
	for _, u := range p.Refs {
		if _, err := tx.ExecContext(ctx, `DELETE FROM git_refs WHERE site_id = ? AND name = ?`, p.SiteID, u.Ref.Name); err != nil {
			return mapErr(op, err)
		}
	}
	for _, u := range p.Refs {
		r := u.Ref
		if r.Commit == "" {
			continue
		}
		if r.Updated.IsZero() {
			r.Updated = now
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO git_refs (`+gitRefCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
			p.SiteID, r.Name, r.Commit, r.Deployment, r.Alias, r.Updated.UnixMilli()); err != nil {
			return mapErr(op+": ref "+r.Name, err)
		}
	}
	for _, pk := range p.Packs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO git_packs (site_id, name, size, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (site_id, name) DO NOTHING`, p.SiteID, pk.Name, pk.Size, s.createdMs(pk.Created)); err != nil {
			return mapErr(op+": pack "+pk.Name, err)
		}
	}
	for _, c := range p.Shallow {
		if _, err := tx.ExecContext(ctx, `INSERT INTO git_shallow (site_id, commit_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, p.SiteID, c); err != nil {
			return mapErr(op+": shallow commit "+c, err)
		}
	}
	if p.Activate != "" {
		res, err := tx.ExecContext(ctx, `UPDATE sites SET active_deployment = ?1
WHERE id = ?2 AND EXISTS (SELECT 1 FROM deployments WHERE id = ?1 AND site_id = ?2)`, p.Activate, p.SiteID)
		if err := affected(op+": activating deployment "+p.Activate, res, err); err != nil {
			return err
		}
	}
	return mapErr(op, tx.Commit())
}

// ReplaceGitPacks replaces packs old of a site with repl in one
// transaction; ErrConflict when any of old is no longer listed.
func (s *Store) ReplaceGitPacks(ctx context.Context, siteID string, old []string, repl tenants.GitPack) error {
	op := "replacing git packs of site " + siteID
	if err := gitcheck.Pack(repl, siteID); err != nil {
		return invalid(op, err)
	}
	old = slices.Compact(slices.Sorted(slices.Values(old)))
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer tx.Rollback()
	if _, err := siteTenant(ctx, tx, op, siteID, ""); err != nil {
		return err
	}
	for _, name := range old {
		res, err := tx.ExecContext(ctx, `DELETE FROM git_packs WHERE site_id = ? AND name = ?`, siteID, name)
		if err != nil {
			return mapErr(op, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return mapErr(op, err)
		} else if n == 0 {
			return fmt.Errorf("sqlitestore: %s: %w: pack %s is no longer listed", op, tenants.ErrConflict, name)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO git_packs (site_id, name, size, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (site_id, name) DO NOTHING`, siteID, repl.Name, repl.Size, s.createdMs(repl.Created)); err != nil {
		return mapErr(op, err)
	}
	return mapErr(op, tx.Commit())
}

// GitBlobs returns the recorded mappings among oids, in one query whatever
// their number (the list travels as one JSON array, as in Blobs).
func (s *Store) GitBlobs(ctx context.Context, tenantID string, oids []string) (map[string]tenants.GitBlob, error) {
	op := "looking up git blobs of tenant " + tenantID
	out := make(map[string]tenants.GitBlob)
	if len(oids) == 0 {
		return out, nil
	}
	list, err := json.Marshal(oids)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %s: %w", op, err)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT b.oid, b.hash, b.size
FROM json_each(?2) AS j CROSS JOIN git_blobs AS b ON b.tenant_id = ?1 AND b.oid = j.value`, tenantID, string(list))
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var b tenants.GitBlob
		if err := rows.Scan(&b.OID, &b.Hash, &b.Size); err != nil {
			return nil, mapErr(op, err)
		}
		out[b.OID] = b
	}
	return out, mapErr(op, rows.Err())
}

// PutGitBlobs records mappings of a tenant in one statement (upsert; the
// last of an oid given twice wins). ErrNotFound when the tenant does not
// exist; nothing is recorded when any mapping is invalid.
func (s *Store) PutGitBlobs(ctx context.Context, tenantID string, blobs []tenants.GitBlob) error {
	op := "recording git blobs of tenant " + tenantID
	if len(blobs) == 0 {
		return nil
	}
	for _, b := range blobs {
		if err := gitcheck.Blob(b); err != nil {
			return invalid(op, err)
		}
	}
	rows, err := json.Marshal(blobs)
	if err != nil {
		return invalid(op, err)
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO git_blobs (tenant_id, oid, hash, size)
SELECT ?1, value->>'oid', value->>'hash', value->>'size'
FROM json_each(?2) WHERE true
ON CONFLICT (tenant_id, oid) DO UPDATE SET hash = excluded.hash, size = excluded.size`,
		tenantID, string(rows))
	return mapErr(op, err)
}

// DeploymentByTree returns the newest deployment of a site whose source
// tree is tree.
func (s *Store) DeploymentByTree(ctx context.Context, siteID, tree string) (tenants.Deployment, error) {
	op := "deployment of tree " + tree + " of site " + siteID
	if tree == "" {
		return tenants.Deployment{}, notFound(op)
	}
	var id string
	if err := s.read.QueryRowContext(ctx, `SELECT id FROM deployments WHERE site_id = ? AND source_tree = ?
ORDER BY created_at DESC, seq DESC LIMIT 1`, siteID, tree).Scan(&id); err != nil {
		return tenants.Deployment{}, mapErr(op, err)
	}
	return s.Deployment(ctx, siteID, id)
}

// SetProductionBranch sets a site's production branch.
func (s *Store) SetProductionBranch(ctx context.Context, siteID, branch string) error {
	op := "setting the production branch of site " + siteID
	if err := gitcheck.Branch(branch); err != nil {
		return invalid(op, err)
	}
	res, err := s.write.ExecContext(ctx, `UPDATE sites SET production_branch = ? WHERE id = ?`, branch, siteID)
	return affected(op, res, err)
}
