package pgstore

import (
	"context"
	"time"

	"github.com/pierhq/pier/tenants"
)

// quotaUsageQuery reads a tenant's quota usage in one statement (one
// snapshot). Every part walks an index from the tenant: sites by
// sites_tenant_name, their claims by domains_site_host_c and their
// sessions by upload_sessions_site (O(sites + claims + sessions)), and
// its blobs by the primary key (tenant_id, hash): a range scan of the
// tenant's blob rows, O(blobs); its KV namespaces by their (tenant_id,
// name) index and their keys by the primary key (namespace_id, key),
// O(keys).
const quotaUsageQuery = `SELECT
	(SELECT count(*) FROM sites WHERE tenant_id = $1),
	(SELECT count(*) FROM sites s JOIN domains d ON d.site_id = s.id WHERE s.tenant_id = $1),
	(SELECT count(*) FROM sites s JOIN upload_sessions u ON u.site_id = s.id WHERE s.tenant_id = $1 AND u.expires_at >= $2),
	(SELECT coalesce(sum(u.entries), 0) FROM sites s JOIN upload_sessions u ON u.site_id = s.id WHERE s.tenant_id = $1 AND u.expires_at >= $2),
	(SELECT coalesce(sum(size), 0)::bigint FROM blobs WHERE tenant_id = $1),
	(SELECT count(*) FROM kv_namespaces WHERE tenant_id = $1),
	(SELECT coalesce(sum(octet_length(e.key) + octet_length(e.value)), 0)::bigint FROM kv_namespaces n JOIN kv_entries e ON e.namespace_id = n.id
		WHERE n.tenant_id = $1 AND (e.expires_at IS NULL OR e.expires_at > $2))`

// TenantUsage returns what a tenant uses of its quotas; zero for an
// unknown tenant.
func (s *Store) TenantUsage(ctx context.Context, tenantID string) (tenants.QuotaUsage, error) {
	var (
		u                    tenants.QuotaUsage
		sites, domains, sess int64
		entries, namespaces  int64
	)
	err := s.pool.QueryRow(ctx, quotaUsageQuery, tenantID, s.now().Truncate(time.Millisecond)).Scan(
		&sites, &domains, &sess, &entries, &u.StorageBytes, &namespaces, &u.KVBytes)
	u.Sites, u.Domains, u.UploadSessions, u.UploadEntries = int(sites), int(domains), int(sess), int(entries)
	u.KVNamespaces = int(namespaces)
	u.StorageBytes += u.KVBytes
	return u, mapErr("quota usage of tenant "+tenantID, err)
}
