package tenants

import (
	"context"
	"time"

	"github.com/pierhq/pier/assets"
)

// LifecycleStore is what deployment retention, the deployments quota and
// blob garbage collection need of a store, beside Store. Both stores
// implement it and pass storetest's lifecycle conformance tests. The
// protocol it serves, and why it never deletes a blob a deployment or an
// upload session references, is in docs/architecture.md ("Retention and
// garbage collection").
type LifecycleStore interface {
	// AcquireLease makes holder the holder of lease name for ttl when it
	// is free, expired or already holder's (renewing it), and reports
	// whether holder holds it now. Expiry is judged by the store's clock
	// (PostgreSQL's for pgstore), so nodes' clocks need not agree.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// RenewLease extends holder's lease by ttl from now; false when holder
	// no longer holds it (it expired and another node took it).
	RenewLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease frees the lease if holder holds it.
	ReleaseLease(ctx context.Context, name, holder string) error

	// CountDeployments returns how many deployments site siteID holds.
	CountDeployments(ctx context.Context, siteID string) (int, error)
	// DeleteDeployments deletes the deployments ids of site siteID, except
	// the site's active one and those a git branch points at (judged in
	// the same transaction as the delete, so a concurrent activation or
	// push either wins or finds the deployment gone), and returns the IDs
	// it deleted. pgstore notifies ChangeSite when it deleted any.
	DeleteDeployments(ctx context.Context, siteID string, ids []string) ([]string, error)
	// DeleteOldestDeployments deletes up to n of site siteID's oldest
	// deployments that are neither active nor a branch's, as
	// DeleteDeployments does, and returns the IDs it deleted.
	DeleteOldestDeployments(ctx context.Context, siteID string, n int) ([]string, error)

	// PublishGeneration returns the tenant's publish generation: a number
	// every CreateUploadSession and CreateDeployment of the tenant
	// increases in its own transaction. ErrNotFound for an unknown tenant.
	PublishGeneration(ctx context.Context, tenantID string) (int64, error)
	// UploadSessionIDs lists the IDs of the tenant's upload sessions,
	// expired ones included.
	UploadSessionIDs(ctx context.Context, tenantID string) ([]string, error)
	// UploadSessionHashes returns the content hashes an upload session
	// references (its manifest's and its worker's), expired or not;
	// ErrNotFound once it is deleted.
	UploadSessionHashes(ctx context.Context, id string) ([]string, error)
	// BlobsPage returns up to limit of the tenant's blob index records
	// with a hash greater than after, ordered by hash.
	BlobsPage(ctx context.Context, tenantID, after string, limit int) ([]Blob, error)
	// CollectBlobs, in one transaction, deletes the index records of
	// hashes (and the git blob mappings to them) and queues their objects
	// as Garbage, except the hashes an upload session or a deployment of
	// the tenant created after generation gen references (those a mark
	// that read the generation gen first may have missed). It returns the
	// records it deleted. The transaction excludes new upload sessions
	// and deployments of the tenant while it runs.
	CollectBlobs(ctx context.Context, tenantID string, gen int64, hashes []string) (collected []Blob, err error)

	// GarbagePage returns up to limit entries queued at least grace ago
	// (by the store's clock, which also stamps them: PostgreSQL's for
	// pgstore) with a key greater than after, ordered by key: pending and
	// claimed ones (a claim left by a crashed sweeper is taken again).
	GarbagePage(ctx context.Context, grace time.Duration, after string, limit int) ([]Garbage, error)
	// ClaimGarbage marks the pending entries among keys as being deleted
	// and returns their keys: not those gone (an upload cancelled them) or
	// claimed already, unless that claim is older than StaleGarbageClaim
	// (its sweeper died).
	ClaimGarbage(ctx context.Context, keys []string) (claimed []string, err error)
	// FinishGarbage removes claimed entries once their objects are
	// deleted, with any blob index record (and git blob mapping) of their
	// hashes that an upload racing the collection wrote back meanwhile,
	// in one transaction.
	FinishGarbage(ctx context.Context, gs []Garbage) error
	// CancelGarbage removes the pending entries of a tenant's hash, before
	// an upload writes its objects again. claimed is true when a claimed
	// entry remains: a sweeper is deleting the objects, and the upload
	// waits for the entry to go (CancelGarbage again) before writing.
	CancelGarbage(ctx context.Context, tenantID, hash string) (claimed bool, err error)
}

// GarbageVariants decodes the stores' variants bitmask (1: br, 2: gz).
func GarbageVariants(mask int) []string {
	var v []string
	if mask&1 != 0 {
		v = append(v, assets.VariantBrotli)
	}
	if mask&2 != 0 {
		v = append(v, assets.VariantGzip)
	}
	return v
}

// StaleGarbageClaim is how old a claim on queued garbage must be before
// another sweeper takes it over: far longer than deleting one entry's
// objects takes, so that two sweepers never delete the same entry.
const StaleGarbageClaim = 10 * time.Minute

// Garbage is an object (or, for a blob, the object and its variants)
// queued for deletion. TenantID and Hash are empty for a git pack.
type Garbage struct {
	Key      string    // the backend key (a blob's original; its variants are Key.br, Key.gz)
	TenantID string    // the tenant the object was stored for
	Hash     string    // the blob's content hash, "" for a git pack
	Size     int64     // bytes, variants included
	Variants []string  // the pre-compressed copies the index recorded (assets.VariantBrotli, assets.VariantGzip)
	Queued   time.Time // when it was queued; deleted after the grace period
	Claimed  bool      // a sweeper is deleting it
}
