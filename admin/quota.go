package admin

import (
	"context"
	"fmt"
	"hash/maphash"
	"net/http"
	"sync"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/httperr"
	"github.com/pierhq/pier/tenants"
)

// Quotas (tenants.Quotas) are checked where the resource is created:
//
//   - sites: createSite; domains: createDomain (every claim of the
//     tenant's sites counts, whatever its status); kvNamespaces:
//     createKVNamespace;
//   - uploadSessions, uploadEntries, storageMB and workerMB: StartUpload,
//     before the session is saved and before anything is uploaded
//     (storageMB counts the raw size of the tenant's unique blobs and of
//     the session's blobs not stored yet; br/gz variants are not counted);
//   - storageMB again in PutBlob, against the stored bytes read at most
//     once a second per tenant (storedBytesTTL), for the uploads of
//     sessions admitted together; and in the API's KV writes (kv.go),
//     since the stored bytes (tenants.QuotaUsage.StorageBytes) include
//     the keys and values of the tenant's unexpired KV entries.
//
// Concurrency: on one node the check and the creation of sites, domains
// and upload sessions run under a per-tenant lock (quotaState.lock), so
// concurrent creates of one tenant never pass a count quota together.
// Nodes sharing PostgreSQL do not share that lock: a tenant creating on
// n nodes at once may overshoot a count quota by at most n-1. PutBlob
// reserves a blob's size while it is received and stored
// (quotaState.inflight), so concurrent PutBlobs of one tenant on one node
// never pass storageMB together; on n nodes they may overshoot it by the
// blobs the other nodes are receiving.

// QuotaError is returned when a request would take a tenant past one of
// its quotas. Nothing was created or stored.
type QuotaError struct {
	Quota string // the limit's JSON name: "sites", "storageMB", …
	// Used is what the tenant uses now, Requested what the request would
	// add, and Limit the tenant's effective limit, in the quota's unit
	// (a count, entries, or MiB rounded up for the MB quotas; Used is
	// the worker's size for workerMB).
	Used, Requested, Limit int64
	// UsedBytes and RequestedBytes are the exact sizes for storageMB.
	UsedBytes, RequestedBytes int64
}

func (e *QuotaError) Error() string { return "admin: " + e.message() }

// size reports whether the quota bounds a size (413) rather than a
// count (403).
func (e *QuotaError) size() bool {
	switch e.Quota {
	case "uploadEntries", "storageMB", "workerMB":
		return true
	}
	return false
}

func (e *QuotaError) message() string {
	switch e.Quota {
	case "uploadEntries":
		return fmt.Sprintf("quota uploadEntries exceeded: %d entries in open upload sessions + %d in this one is over the limit of %d; deploy or let open sessions expire, or ask for a higher limit",
			e.Used, e.Requested, e.Limit)
	case "storageMB":
		return fmt.Sprintf("quota storageMB exceeded: %s stored + %s to store is over the limit of %d MB; delete sites or KV keys, or ask for a higher limit",
			mib(e.UsedBytes), mib(e.RequestedBytes), e.Limit)
	case "workerMB":
		return fmt.Sprintf("quota workerMB exceeded: the worker is %s, over the limit of %d MB", mib(e.UsedBytes), e.Limit)
	case "uploadSessions":
		return fmt.Sprintf("quota uploadSessions exceeded: %d of %d used; deploy or let open upload sessions expire, or ask for a higher limit", e.Used, e.Limit)
	}
	return fmt.Sprintf("quota %s exceeded: %d of %d used; delete one or ask for a higher limit", e.Quota, e.Used, e.Limit)
}

func (e *QuotaError) httpError() *httperr.Error {
	status := http.StatusForbidden
	if e.size() {
		status = http.StatusRequestEntityTooLarge
	}
	d := map[string]any{"quota": e.Quota, "used": e.Used, "limit": e.Limit}
	if e.Requested > 0 {
		d["requested"] = e.Requested
	}
	if e.Quota == "storageMB" { // the MiB figures are rounded up
		d["used_bytes"], d["requested_bytes"] = e.UsedBytes, e.RequestedBytes
	}
	return &httperr.Error{Status: status, Code: "quota_exceeded", Message: e.message(), Details: d, Err: e}
}

// mib formats a size in MiB with one decimal ("12.5 MB").
func mib(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/tenants.MiB) }

// ceilMiB is n bytes in MiB, rounded up.
func ceilMiB(n int64) int64 { return (n + tenants.MiB - 1) / tenants.MiB }

// over reports whether used+add exceeds limit; a limit ≤ 0 is no limit.
func over(used, add, limit int64) bool { return limit > 0 && used+add > limit }

// quotaState serialises a tenant's quota checks with its creations on
// this node and caches its stored bytes for PutBlob. Its zero value is
// ready to use.
type quotaState struct {
	locks [64]sync.Mutex // by hash of the tenant ID
	seed  maphash.Seed
	once  sync.Once

	mu     sync.Mutex
	stored map[string]storedBytes // tenant ID → stored bytes, for PutBlob
	// inflight is the bytes of the blobs PutBlob is receiving and storing
	// now, by tenant ID, reserved by checkStorage.
	inflight map[string]int64
	// limits is the storage limits (bytes) AllowKVWrite read, by tenant
	// ID, trusted for storedBytesTTL like stored.
	limits map[string]storedBytes
}

type storedBytes struct {
	n  int64
	at time.Time
}

// storedBytesTTL is how long PutBlob trusts a tenant's stored bytes
// before reading them again: at most one TenantUsage a second per
// tenant uploading, however many blobs it sends.
const storedBytesTTL = time.Second

// lock takes the tenant's quota lock; the caller unlocks what it returns.
func (q *quotaState) lock(tenantID string) *sync.Mutex {
	q.once.Do(func() { q.seed = maphash.MakeSeed() })
	m := &q.locks[maphash.String(q.seed, tenantID)%uint64(len(q.locks))]
	m.Lock()
	return m
}

// tenantOf returns the tenant of id, the principal's own without a lookup.
func (a *API) tenantOf(ctx context.Context, p *principal, id string) (tenants.Tenant, error) {
	if p != nil && p.tenant.ID == id {
		return p.tenant, nil
	}
	t, err := a.store.Tenant(ctx, id)
	if err != nil {
		return t, lookupErr("tenant", id, err)
	}
	return t, nil
}

// usage reads a tenant's quota usage.
func (a *API) usage(ctx context.Context, tenantID string) (tenants.QuotaUsage, error) {
	u, err := a.store.TenantUsage(ctx, tenantID)
	if err != nil {
		return u, fmt.Errorf("admin: reading quota usage of %s: %w", tenantID, err)
	}
	return u, nil
}

// withCountQuota runs create under the tenant's quota lock if the tenant
// uses fewer than its limit of the count quota (sites, domains or
// kvNamespaces).
func (a *API) withCountQuota(ctx context.Context, t tenants.Tenant, quota string, create func() error) error {
	defer a.quotas.lock(t.ID).Unlock()
	u, err := a.usage(ctx, t.ID)
	if err != nil {
		return err
	}
	l := t.EffectiveLimits()
	var used, limit int
	switch quota {
	case "sites":
		used, limit = u.Sites, l.Sites
	case "domains":
		used, limit = u.Domains, l.Domains
	case "kvNamespaces":
		used, limit = u.KVNamespaces, l.KVNamespaces
	default:
		panic("admin: unknown count quota " + quota)
	}
	if over(int64(used), 1, int64(limit)) {
		return &QuotaError{Quota: quota, Used: int64(used), Limit: int64(limit)}
	}
	return create()
}

// checkUpload checks a new upload session of t against its quotas, given
// the session's manifest, worker and the sizes of its blobs not stored
// yet. The caller holds t's quota lock until the session is saved.
func (a *API) checkUpload(ctx context.Context, t tenants.Tenant, m assets.Manifest, worker *tenants.WorkerBlob, newBytes int64) error {
	l := t.EffectiveLimits()
	if worker != nil && over(0, worker.Size, int64(l.WorkerMB)*tenants.MiB) {
		return &QuotaError{Quota: "workerMB", Used: ceilMiB(worker.Size), UsedBytes: worker.Size, Limit: int64(l.WorkerMB)}
	}
	u, err := a.usage(ctx, t.ID)
	if err != nil {
		return err
	}
	switch {
	case over(int64(u.UploadSessions), 1, int64(l.UploadSessions)):
		return &QuotaError{Quota: "uploadSessions", Used: int64(u.UploadSessions), Limit: int64(l.UploadSessions)}
	case over(int64(u.UploadEntries), int64(len(m)), int64(l.UploadEntries)):
		return &QuotaError{Quota: "uploadEntries", Used: int64(u.UploadEntries), Requested: int64(len(m)), Limit: int64(l.UploadEntries)}
	// A deploy that stores nothing new passes even over the limit (which
	// may have been lowered): redeploying or rolling forward what is stored
	// costs no storage, and retention may then free some.
	case newBytes > 0 && over(u.StorageBytes, newBytes, int64(l.StorageMB)*tenants.MiB):
		return &QuotaError{Quota: "storageMB", Used: ceilMiB(u.StorageBytes), Requested: ceilMiB(newBytes),
			UsedBytes: u.StorageBytes, RequestedBytes: newBytes, Limit: int64(l.StorageMB)}
	}
	a.quotas.setStored(t.ID, u.StorageBytes)
	return nil
}

// missingBytes is the size of the blobs among missing (hashes of m or of
// worker), each counted once.
func missingBytes(m assets.Manifest, worker *tenants.WorkerBlob, missing []string) int64 {
	size := make(map[string]int64, len(missing))
	for _, h := range missing {
		size[h] = -1
	}
	for _, e := range m {
		if _, ok := size[e.Hash]; ok {
			size[e.Hash] = e.Size
		}
	}
	if worker != nil {
		if _, ok := size[worker.Hash]; ok {
			size[worker.Hash] = worker.Size
		}
	}
	var n int64
	for _, s := range size {
		n += max(s, 0)
	}
	return n
}

// checkStorage is PutBlob's check: would storing size more bytes, beside
// the blobs of the tenant being stored now, take it past limit bytes
// (≤ 0: none)? If not, it reserves size until the caller calls release.
func (a *API) checkStorage(ctx context.Context, tenantID string, size, limit int64) (release func(), err error) {
	if limit <= 0 {
		return func() {}, nil
	}
	used, ok := a.quotas.cachedStored(tenantID)
	if !ok {
		u, err := a.usage(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		used = u.StorageBytes
		a.quotas.setStored(tenantID, used)
	}
	if used, ok = a.quotas.reserve(tenantID, used, size, limit); !ok {
		return nil, &QuotaError{Quota: "storageMB", Used: ceilMiB(used), Requested: ceilMiB(size),
			UsedBytes: used, RequestedBytes: size, Limit: limit / tenants.MiB}
	}
	return func() { a.quotas.reserve(tenantID, 0, -size, 0) }, nil
}

// reserve adds size to the tenant's bytes in flight if stored, the bytes
// in flight and size are within limit (≤ 0: none); it returns stored plus
// the bytes in flight before.
func (q *quotaState) reserve(tenantID string, stored, size, limit int64) (int64, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	used := stored + q.inflight[tenantID]
	if over(used, size, limit) {
		return used, false
	}
	if q.inflight == nil {
		q.inflight = map[string]int64{}
	}
	if n := q.inflight[tenantID] + size; n > 0 {
		q.inflight[tenantID] = n
	} else {
		delete(q.inflight, tenantID)
	}
	return used, true
}

func (q *quotaState) cachedStored(tenantID string) (int64, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	s, ok := q.stored[tenantID]
	if !ok || time.Since(s.at) > storedBytesTTL {
		return 0, false
	}
	return s.n, true
}

func (q *quotaState) setStored(tenantID string, n int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stored = setFresh(q.stored, tenantID, n)
}

// cachedLimit is the tenant's storage limit AllowKVWrite read less than
// storedBytesTTL ago, if any.
func (q *quotaState) cachedLimit(tenantID string) (int64, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	s, ok := q.limits[tenantID]
	if !ok || time.Since(s.at) > storedBytesTTL {
		return 0, false
	}
	return s.n, true
}

func (q *quotaState) setLimit(tenantID string, limit int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.limits = setFresh(q.limits, tenantID, limit)
}

// forgetLimit drops the tenant's cached limit (its limits changed).
func (q *quotaState) forgetLimit(tenantID string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.limits, tenantID)
}

// setFresh sets m[tenantID] to n as of now (m made if nil); past 1024
// entries it first drops the stale ones (tenants no longer writing).
func setFresh(m map[string]storedBytes, tenantID string, n int64) map[string]storedBytes {
	if m == nil {
		m = map[string]storedBytes{}
	}
	now := time.Now()
	if len(m) >= 1024 {
		for id, s := range m {
			if now.Sub(s.at) > storedBytesTTL {
				delete(m, id)
			}
		}
	}
	m[tenantID] = storedBytes{n: n, at: now}
	return m
}

// addStored counts a blob PutBlob just stored in the cached figure.
func (q *quotaState) addStored(tenantID string, n int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if s, ok := q.stored[tenantID]; ok {
		s.n += n
		q.stored[tenantID] = s
	}
}

// storageLimit is t's storageMB in bytes (0: none).
func storageLimit(t tenants.Tenant) int64 { return int64(t.EffectiveLimits().StorageMB) * tenants.MiB }

// createUploadSession saves sess, a new upload session of t, if it keeps
// t within its upload and size quotas, and returns the hashes of its
// blobs t has not stored yet (sorted).
func (a *API) createUploadSession(ctx context.Context, t tenants.Tenant, sess tenants.UploadSession) ([]string, error) {
	defer a.quotas.lock(t.ID).Unlock()
	_, missing, err := a.recordedBlobs(ctx, t.ID, sess.Manifest, sess.Worker)
	if err != nil {
		return nil, err
	}
	if err := a.checkUpload(ctx, t, sess.Manifest, sess.Worker, missingBytes(sess.Manifest, sess.Worker, missing)); err != nil {
		return nil, err
	}
	if err := a.store.CreateUploadSession(ctx, sess); err != nil {
		return nil, fmt.Errorf("admin: saving upload session: %w", err)
	}
	return missing, nil
}

// writeTenantWithUsage answers with t's view and its quota usage.
func (a *API) writeTenantWithUsage(w http.ResponseWriter, r *http.Request, t tenants.Tenant) error {
	u, err := a.usage(r.Context(), t.ID)
	if err != nil {
		return err
	}
	v := tenantView(t)
	v.Usage = &u
	writeJSON(w, http.StatusOK, v)
	return nil
}
