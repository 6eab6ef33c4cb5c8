package tenants

// QuotaUsage is how much of its quotas a tenant uses now (Store.TenantUsage):
// the counts the quota checks compare with the tenant's effective Limits.
type QuotaUsage struct {
	Sites   int `json:"sites"`   // its sites
	Domains int `json:"domains"` // custom-domain claims of all its sites, any status
	// UploadSessions counts its open (unexpired) upload sessions, and
	// UploadEntries their manifests' entries together.
	UploadSessions int `json:"uploadSessions"`
	UploadEntries  int `json:"uploadEntries"`
	// StorageBytes is the sum of the sizes of its unique blobs in the
	// blob index: the raw content only, not the br/gz variants stored
	// beside text blobs.
	StorageBytes int64 `json:"storageBytes"`
}

// MiB is the unit of the size quotas (StorageMB, WorkerMB).
const MiB = 1 << 20
