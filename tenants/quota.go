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
	// StorageBytes is what the storageMB quota counts: the sum of the
	// sizes of its unique blobs in the blob index (the raw content only,
	// not the br/gz variants stored beside text blobs) plus KVBytes.
	StorageBytes int64 `json:"storageBytes"`
	// KVNamespaces counts its KV namespaces, and KVBytes the keys and
	// values (len(key)+len(value)) of their unexpired entries, which
	// StorageBytes includes.
	KVNamespaces int   `json:"kvNamespaces"`
	KVBytes      int64 `json:"kvBytes"`
}

// MiB is the unit of the size quotas (StorageMB, WorkerMB).
const MiB = 1 << 20
