package tenants

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxKVKeyBytes bounds a KV key, on every plan.
const MaxKVKeyBytes = 512

// KVNamespace is a tenant's key-value namespace. Its name is unique
// within the tenant (a DNS-label-like name, as site names are); its ID is
// unique platform-wide. A site reaches it only through a KVBinding frozen
// into a deployment of the same tenant.
type KVNamespace struct {
	ID       string    `json:"id"`
	TenantID string    `json:"tenant_id"`
	Name     string    `json:"name"`
	Created  time.Time `json:"created_at"`
}

// KVEntry is one key of a namespace with its value.
type KVEntry struct {
	Key     string
	Value   []byte
	Expires time.Time // zero: never expires
	Updated time.Time // set by the store
}

// KVKey is a key in a listing, without its value.
type KVKey struct {
	Key     string    `json:"name"`
	Size    int       `json:"size"` // the value's bytes
	Expires time.Time `json:"expires_at,omitzero"`
	Updated time.Time `json:"updated_at"`
}

// KVBinding binds a namespace of the site's tenant to a name the worker
// uses (pier.toml's [[kv]] binding = "STORE", namespace = "blog-data").
// The publish path resolves Namespace to NamespaceID at deploy time, so a
// deployment keeps the namespace it was deployed with.
type KVBinding struct {
	Binding     string `json:"binding"`
	Namespace   string `json:"namespace"`
	NamespaceID string `json:"namespace_id,omitempty"`
}

// ValidKVKey says why key cannot be a KV key, or returns nil: it must be
// 1 to MaxKVKeyBytes bytes of valid UTF-8 without NUL.
func ValidKVKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: key is empty", ErrInvalid)
	case len(key) > MaxKVKeyBytes:
		return fmt.Errorf("%w: key is %d bytes (limit %d)", ErrInvalid, len(key), MaxKVKeyBytes)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: key is not valid UTF-8", ErrInvalid)
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("%w: key contains NUL", ErrInvalid)
	}
	return nil
}

// KVStore is the key-value side of the store: tenants' namespaces and
// their keys. Both stores implement it (and pass storetest). A write
// returns once it is durable. Expired keys are never returned, and are
// deleted by SweepExpiredKV. Keys of a namespace are deleted with it, and
// a tenant's namespaces with the tenant.
type KVStore interface {
	// CreateKVNamespace: ErrConflict when the tenant has a namespace of
	// that name.
	CreateKVNamespace(ctx context.Context, ns KVNamespace) error
	// KVNamespace finds a namespace of tenant tenantID by ID or name;
	// ErrNotFound when the tenant has none such (whoever else has it).
	KVNamespace(ctx context.Context, tenantID, ref string) (KVNamespace, error)
	// KVNamespaceByID finds a namespace by ID alone, for callers that
	// check the tenant themselves (an admin token).
	KVNamespaceByID(ctx context.Context, id string) (KVNamespace, error)
	KVNamespaces(ctx context.Context, tenantID string) ([]KVNamespace, error) // ordered by name
	DeleteKVNamespace(ctx context.Context, id string) error                   // and its keys

	// KVGet: ErrNotFound when the key is absent or expired.
	KVGet(ctx context.Context, namespaceID, key string) (KVEntry, error)
	KVPut(ctx context.Context, namespaceID string, e KVEntry) error
	// KVPutMany writes every entry in one transaction: all or none.
	KVPutMany(ctx context.Context, namespaceID string, es []KVEntry) error
	// KVCompareAndSwap writes e only if the key's current value is old
	// (with oldExists false: only if the key is absent or expired), in
	// one transaction, and reports whether it wrote. Counters and other
	// read-modify-write updates from concurrent requests use it.
	KVCompareAndSwap(ctx context.Context, namespaceID string, old []byte, oldExists bool, e KVEntry) (bool, error)
	KVDelete(ctx context.Context, namespaceID, key string) error // nil when absent
	// KVList lists the namespace's unexpired keys starting with prefix,
	// ordered by key, p.Size() at a time (see Paginated listings).
	KVList(ctx context.Context, namespaceID, prefix string, p PageRequest) (keys []KVKey, next string, err error)
	// SweepExpiredKV deletes up to limit keys that expired before now and
	// returns how many it deleted.
	SweepExpiredKV(ctx context.Context, now time.Time, limit int) (int, error)
}

// KVFollower is a ChangeFollower that caches KV values: Followers tells
// it of each ChangeKV.
type KVFollower interface {
	// KVChanged: key of namespace namespaceID was written or deleted
	// (key "" : the whole namespace changed or was deleted).
	KVChanged(namespaceID, key string)
}

// KVChangeKey is the Change.Key of a ChangeKV.
func KVChangeKey(namespaceID, key string) string { return namespaceID + "/" + key }

// SplitKVChangeKey undoes KVChangeKey (namespace IDs contain no "/").
func SplitKVChangeKey(k string) (namespaceID, key string) {
	namespaceID, key, _ = strings.Cut(k, "/")
	return namespaceID, key
}
