package pgstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/tenants"
)

// Paginated listings: keyset pagination on each listing's unique,
// immutable sort key (never OFFSET), fetching one row more than the page
// to know whether another page follows. Names and hostnames compare
// bytewise (COLLATE "C"), as the unpaginated listings sort them; times in
// cursors are Unix microseconds, PostgreSQL's precision.

// cursorOf decodes p's cursor of kind; ok is false for the first page.
func cursorOf(op string, kind tenants.CursorKind, p tenants.PageRequest) (c tenants.Cursor, ok bool, err error) {
	if p.Cursor == "" {
		return c, false, nil
	}
	c, err = tenants.DecodeCursor(kind, p.Cursor)
	if err != nil {
		return c, false, fmt.Errorf("pgstore: %s: %w", op, err)
	}
	return c, true, nil
}

// trim cuts a page fetched with one extra row to size n and returns the
// cursor of its last row when more rows follow.
func trim[T any](list []T, n int, cursor func(T) tenants.Cursor) ([]T, string) {
	if len(list) <= n {
		return list, ""
	}
	list = list[:n]
	return list, cursor(list[n-1]).Encode()
}

// TenantsPage lists one page of tenants ordered by name, optionally only
// those with a tag.
func (s *Store) TenantsPage(ctx context.Context, f tenants.TenantFilter, p tenants.PageRequest) ([]tenants.Tenant, string, error) {
	const op = "listing tenants"
	c, _, err := cursorOf(op, tenants.CursorTenants, p)
	if err != nil {
		return nil, "", err
	}
	n := p.Size()
	q := `SELECT ` + tenantCols + ` FROM tenants WHERE name COLLATE "C" > $1 ORDER BY name COLLATE "C" LIMIT $2`
	args := []any{c.Key, n + 1}
	if f.Tag != "" {
		q = `SELECT ` + tenantCols + ` FROM tenants WHERE name COLLATE "C" > $1 AND tags @> ARRAY[$3::text] ORDER BY name COLLATE "C" LIMIT $2`
		args = append(args, f.Tag)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenants.Tenant, error) { return scanTenant(r) })
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	out, next := trim(nonNil(out), n, func(t tenants.Tenant) tenants.Cursor {
		return tenants.Cursor{Kind: tenants.CursorTenants, Key: t.Name}
	})
	return out, next, nil
}

func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

// SitesPage lists one page of sites ordered by name: a tenant's or all
// (f.TenantID ""), only those whose name contains f.Search when set.
func (s *Store) SitesPage(ctx context.Context, f tenants.SiteFilter, p tenants.PageRequest) ([]tenants.Site, string, error) {
	const op = "listing sites"
	c, _, err := cursorOf(op, tenants.CursorSites, p)
	if err != nil {
		return nil, "", err
	}
	n := p.Size()
	where := `name COLLATE "C" > $1`
	args := []any{c.Key, n + 1}
	if f.TenantID != "" {
		args = append(args, f.TenantID)
		where += fmt.Sprintf(` AND tenant_id = $%d`, len(args))
	}
	if f.Search != "" {
		args = append(args, "%"+tenants.LikeEscape(strings.ToLower(f.Search))+"%")
		where += fmt.Sprintf(` AND name LIKE $%d ESCAPE '\'`, len(args))
	}
	q := `SELECT ` + siteCols + ` FROM sites WHERE ` + where + ` ORDER BY name COLLATE "C" LIMIT $2`
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenants.Site, error) { return scanSite(r) })
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	out, next := trim(nonNil(out), n, func(st tenants.Site) tenants.Cursor {
		return tenants.Cursor{Kind: tenants.CursorSites, Key: st.Name}
	})
	return out, next, nil
}

type seqDeployment struct {
	d   tenants.DeploymentSummary
	seq int64
}

// DeploymentsPage lists one page of a site's deployments without
// manifests, newest first (ties broken by insertion order).
func (s *Store) DeploymentsPage(ctx context.Context, siteID string, p tenants.PageRequest) ([]tenants.DeploymentSummary, string, error) {
	const op = "listing deployments"
	c, after, err := cursorOf(op, tenants.CursorDeployments, p)
	if err != nil {
		return nil, "", err
	}
	n := p.Size()
	where, args := `site_id = $1`, []any{siteID, n + 1}
	if after {
		where += ` AND (created_at, seq) < ($3, $4)`
		args = append(args, time.UnixMicro(c.Time).UTC(), c.Seq)
	}
	rows, err := s.pool.Query(ctx, `SELECT id, site_id, files, bytes, worker, source_type, source_commit, source_branch, source_tree, created_at, seq
FROM deployments WHERE `+where+` ORDER BY created_at DESC, seq DESC LIMIT $2`, args...)
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (seqDeployment, error) {
		var sd seqDeployment
		d := &sd.d
		err := r.Scan(&d.ID, &d.SiteID, &d.Files, &d.Bytes, &d.Worker, &d.Source.Type, &d.Source.Commit, &d.Source.Branch, &d.Source.Tree, &d.Created, &sd.seq)
		d.Created = d.Created.UTC()
		return sd, err
	})
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	list, next := trim(list, n, func(sd seqDeployment) tenants.Cursor {
		return tenants.Cursor{Kind: tenants.CursorDeployments, Time: sd.d.Created.UnixMicro(), Seq: sd.seq}
	})
	out := make([]tenants.DeploymentSummary, 0, len(list))
	for _, sd := range list {
		out = append(out, sd.d)
	}
	return out, next, nil
}

// DomainsPage lists one page of a site's claims ordered by hostname.
func (s *Store) DomainsPage(ctx context.Context, siteID string, p tenants.PageRequest) ([]tenants.Domain, string, error) {
	const op = "listing domains"
	c, _, err := cursorOf(op, tenants.CursorDomains, p)
	if err != nil {
		return nil, "", err
	}
	n := p.Size()
	list, err := s.queryDomains(ctx, op, `WHERE d.site_id = $1 AND d.hostname COLLATE "C" > $2 ORDER BY d.hostname COLLATE "C" LIMIT $3`, siteID, c.Key, n+1)
	if err != nil {
		return nil, "", err
	}
	list, next := trim(nonNil(list), n, func(d tenants.Domain) tenants.Cursor {
		return tenants.Cursor{Kind: tenants.CursorDomains, Key: d.Hostname}
	})
	return list, next, nil
}

type seqToken struct {
	t   tenants.Token
	seq int64
}

// TokensPage lists one page of a tenant's tokens (its site tokens
// included), or of the admin tokens for "", oldest first (ties broken by
// insertion order).
func (s *Store) TokensPage(ctx context.Context, tenantID string, p tenants.PageRequest) ([]tenants.Token, string, error) {
	if tenantID == "" {
		return s.tokensPage(ctx, `tenant_id IS NULL`, nil, p)
	}
	return s.tokensPage(ctx, `tenant_id = $2`, []any{tenantID}, p)
}

// SiteTokensPage lists one page of a site's tokens, oldest first (ties
// broken by insertion order).
func (s *Store) SiteTokensPage(ctx context.Context, siteID string, p tenants.PageRequest) ([]tenants.Token, string, error) {
	return s.tokensPage(ctx, `site_id = $2`, []any{siteID}, p)
}

// tokensPage lists one page of the tokens matching where, a condition on
// $2… (params; $1 is the limit).
func (s *Store) tokensPage(ctx context.Context, where string, params []any, p tenants.PageRequest) ([]tenants.Token, string, error) {
	const op = "listing tokens"
	c, after, err := cursorOf(op, tenants.CursorTokens, p)
	if err != nil {
		return nil, "", err
	}
	n := p.Size()
	args := append([]any{n + 1}, params...)
	if after {
		where += fmt.Sprintf(` AND (created_at, seq) > ($%d, $%d)`, len(args)+1, len(args)+2)
		args = append(args, time.UnixMicro(c.Time).UTC(), c.Seq)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+tokenCols+`, seq FROM tokens WHERE `+where+` ORDER BY created_at, seq LIMIT $1`, args...)
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (seqToken, error) {
		var st seqToken
		t := &st.t
		err := r.Scan(&t.ID, &t.TenantID, &t.SiteID, &t.Name, &t.Hash, &t.Created, &st.seq)
		t.Created = t.Created.UTC()
		return st, err
	})
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	list, next := trim(list, n, func(st seqToken) tenants.Cursor {
		return tenants.Cursor{Kind: tenants.CursorTokens, Time: st.t.Created.UnixMicro(), Seq: st.seq}
	})
	out := make([]tenants.Token, 0, len(list))
	for _, st := range list {
		out = append(out, st.t)
	}
	return out, next, nil
}
