package sqlitestore

import (
	"context"
	"fmt"
	"strings"

	"github.com/pierhq/pier/tenants"
)

// Paginated listings: keyset pagination on each listing's unique,
// immutable sort key (never OFFSET), fetching one row more than the page
// to know whether another page follows.

// cursorOf decodes p's cursor of kind; ok is false for the first page.
func cursorOf(op string, kind tenants.CursorKind, p tenants.PageRequest) (c tenants.Cursor, ok bool, err error) {
	if p.Cursor == "" {
		return c, false, nil
	}
	c, err = tenants.DecodeCursor(kind, p.Cursor)
	if err != nil {
		return c, false, fmt.Errorf("sqlitestore: %s: %w", op, err)
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
	rows, err := s.read.QueryContext(ctx, `SELECT `+tenantCols+` FROM tenants
WHERE name > ?2 AND (?1 = '' OR EXISTS (SELECT 1 FROM json_each(tenants.tags) WHERE json_each.value = ?1))
ORDER BY name LIMIT ?3`, f.Tag, c.Key, n+1)
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	defer rows.Close()
	out := []tenants.Tenant{}
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, "", mapErr(op, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, "", mapErr(op, err)
	}
	out, next := trim(out, n, func(t tenants.Tenant) tenants.Cursor {
		return tenants.Cursor{Kind: tenants.CursorTenants, Key: t.Name}
	})
	return out, next, nil
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
	q := `SELECT ` + siteCols + ` FROM sites WHERE (?1 = '' OR tenant_id = ?1) AND name > ?2
AND (?4 = '' OR name LIKE '%' || ?4 || '%' ESCAPE '\') ORDER BY name LIMIT ?3`
	if f.TenantID != "" {
		// A separate text, so that SQLite plans the tenant's index.
		q = `SELECT ` + siteCols + ` FROM sites WHERE tenant_id = ?1 AND name > ?2
AND (?4 = '' OR name LIKE '%' || ?4 || '%' ESCAPE '\') ORDER BY name LIMIT ?3`
	}
	rows, err := s.read.QueryContext(ctx, q, f.TenantID, c.Key, n+1, tenants.LikeEscape(strings.ToLower(f.Search)))
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	defer rows.Close()
	out := []tenants.Site{}
	for rows.Next() {
		st, err := scanSite(rows)
		if err != nil {
			return nil, "", mapErr(op, err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, "", mapErr(op, err)
	}
	out, next := trim(out, n, func(st tenants.Site) tenants.Cursor {
		return tenants.Cursor{Kind: tenants.CursorSites, Key: st.Name}
	})
	return out, next, nil
}

type seqDeployment struct {
	d       tenants.DeploymentSummary
	created int64
	seq     int64
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
	where := `site_id = ?1`
	if after {
		where += ` AND (created_at, seq) < (?3, ?4)`
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id, site_id, files, bytes, worker, source_type, source_commit, source_branch, source_tree, created_at, seq
FROM deployments WHERE `+where+` ORDER BY created_at DESC, seq DESC LIMIT ?2`, siteID, n+1, c.Time, c.Seq)
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	defer rows.Close()
	var list []seqDeployment
	for rows.Next() {
		var r seqDeployment
		d := &r.d
		if err := rows.Scan(&d.ID, &d.SiteID, &d.Files, &d.Bytes, &d.Worker, &d.Source.Type, &d.Source.Commit, &d.Source.Branch, &d.Source.Tree, &r.created, &r.seq); err != nil {
			return nil, "", mapErr(op, err)
		}
		d.Created = msTime(r.created)
		list = append(list, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", mapErr(op, err)
	}
	list, next := trim(list, n, func(r seqDeployment) tenants.Cursor {
		return tenants.Cursor{Kind: tenants.CursorDeployments, Time: r.created, Seq: r.seq}
	})
	out := make([]tenants.DeploymentSummary, 0, len(list))
	for _, r := range list {
		out = append(out, r.d)
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
	list, err := s.queryDomains(ctx, op, `WHERE d.site_id = ? AND d.hostname > ? ORDER BY d.hostname LIMIT ?`, siteID, c.Key, n+1)
	if err != nil {
		return nil, "", err
	}
	list, next := trim(list, n, func(d tenants.Domain) tenants.Cursor {
		return tenants.Cursor{Kind: tenants.CursorDomains, Key: d.Hostname}
	})
	return list, next, nil
}

type seqToken struct {
	t       tenants.Token
	created int64
	seq     int64
}

// TokensPage lists one page of a tenant's tokens (its site tokens
// included), or of the admin tokens for "", oldest first (ties broken by
// insertion order).
func (s *Store) TokensPage(ctx context.Context, tenantID string, p tenants.PageRequest) ([]tenants.Token, string, error) {
	where := `tenant_id = ?1`
	if tenantID == "" {
		where = `tenant_id IS NULL AND ?1 = ''`
	}
	return s.tokensPage(ctx, where, tenantID, p)
}

// SiteTokensPage lists one page of a site's tokens, oldest first (ties
// broken by insertion order).
func (s *Store) SiteTokensPage(ctx context.Context, siteID string, p tenants.PageRequest) ([]tenants.Token, string, error) {
	return s.tokensPage(ctx, `site_id = ?1`, siteID, p)
}

// tokensPage lists one page of the tokens matching where, a condition on
// ?1 (arg).
func (s *Store) tokensPage(ctx context.Context, where string, arg string, p tenants.PageRequest) ([]tenants.Token, string, error) {
	const op = "listing tokens"
	c, after, err := cursorOf(op, tenants.CursorTokens, p)
	if err != nil {
		return nil, "", err
	}
	n := p.Size()
	if after {
		where += ` AND (created_at, seq) > (?3, ?4)`
	}
	rows, err := s.read.QueryContext(ctx, `SELECT `+tokenCols+`, seq FROM tokens WHERE `+where+` ORDER BY created_at, seq LIMIT ?2`,
		arg, n+1, c.Time, c.Seq)
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	defer rows.Close()
	var list []seqToken
	for rows.Next() {
		var r seqToken
		t := &r.t
		if err := rows.Scan(&t.ID, &t.TenantID, &t.SiteID, &t.Name, &t.Hash, &r.created, &r.seq); err != nil {
			return nil, "", mapErr(op, err)
		}
		t.Created = msTime(r.created)
		list = append(list, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", mapErr(op, err)
	}
	list, next := trim(list, n, func(r seqToken) tenants.Cursor {
		return tenants.Cursor{Kind: tenants.CursorTokens, Time: r.created, Seq: r.seq}
	})
	out := make([]tenants.Token, 0, len(list))
	for _, r := range list {
		out = append(out, r.t)
	}
	return out, next, nil
}
