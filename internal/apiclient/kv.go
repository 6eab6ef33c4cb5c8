package apiclient

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/pierhq/pier/tenants"
)

// KVNamespace is a tenant's KV namespace; GetKVNamespace also fills Keys
// and Bytes (its unexpired keys and their len(key)+len(value)).
type KVNamespace struct {
	tenants.KVNamespace
	Keys  int   `json:"keys,omitempty"`
	Bytes int64 `json:"bytes,omitempty"`
}

// KVValue is a key's value and when it expires (zero: never).
type KVValue struct {
	Value   []byte
	Expires time.Time
}

// KVKeyPage is one page of a namespace's keys.
type KVKeyPage struct {
	Keys       []tenants.KVKey `json:"keys"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// KVBulkItem is one entry of BulkPutKV. Value is text, or standard base64
// of the bytes with Base64 set; TTL is in seconds (0: never expires).
type KVBulkItem struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Base64 bool   `json:"base64,omitempty"`
	TTL    int64  `json:"ttl,omitempty"`
}

func kvNamespacesPath(tenant string) string { return "/tenants/" + esc(tenant) + "/kv" }

// kvKeyPath escapes key as one path segment: "/" travels as %2F.
func kvKeyPath(ns, key string) string { return "/kv/" + esc(ns) + "/keys/" + escSegment(key) }

// escSegment escapes s as one path segment, "." and ".." included (valid
// KV keys that url.PathEscape leaves as they are, and that a path
// cleaner would then remove).
func escSegment(s string) string {
	switch s {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return esc(s)
}

// CreateKVNamespace creates a KV namespace of tenant (admin or that
// tenant's token).
func (c *Client) CreateKVNamespace(ctx context.Context, tenant, name string) (*KVNamespace, error) {
	var n KVNamespace
	err := c.do(ctx, request{method: http.MethodPost, path: kvNamespacesPath(tenant), body: map[string]string{"name": name}, out: &n})
	return ret(&n, err)
}

// ListKVNamespaces lists tenant's KV namespaces by name.
func (c *Client) ListKVNamespaces(ctx context.Context, tenant string) ([]KVNamespace, error) {
	var out struct {
		Namespaces []KVNamespace `json:"namespaces"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: kvNamespacesPath(tenant), out: &out}); err != nil {
		return nil, err
	}
	return nonNilSlice(out.Namespaces), nil
}

// GetKVNamespace returns tenant's namespace ns (id or name) with the
// count and bytes of its keys.
func (c *Client) GetKVNamespace(ctx context.Context, tenant, ns string) (*KVNamespace, error) {
	var n KVNamespace
	err := c.do(ctx, request{method: http.MethodGet, path: kvNamespacesPath(tenant) + "/" + esc(ns), out: &n})
	return ret(&n, err)
}

// DeleteKVNamespace deletes tenant's namespace ns (id or name) and its
// keys.
func (c *Client) DeleteKVNamespace(ctx context.Context, tenant, ns string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: kvNamespacesPath(tenant) + "/" + esc(ns)})
}

// KVKeysPage reads one page of namespace ns's keys starting with prefix:
// cursor "" for the first page, limit 0 for the server's default. ns is a
// namespace id, or for a tenant token a name of its tenant.
func (c *Client) KVKeysPage(ctx context.Context, ns, prefix, cursor string, limit int) (*KVKeyPage, error) {
	q := url.Values{}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var p KVKeyPage
	if err := c.do(ctx, request{method: http.MethodGet, path: "/kv/" + esc(ns) + "/keys", query: q, out: &p}); err != nil {
		return nil, err
	}
	p.Keys = nonNilSlice(p.Keys)
	return &p, nil
}

// ListKVKeys lists every key of namespace ns starting with prefix,
// reading every page.
func (c *Client) ListKVKeys(ctx context.Context, ns, prefix string) ([]tenants.KVKey, error) {
	var q url.Values
	if prefix != "" {
		q = url.Values{"prefix": {prefix}}
	}
	return listAll[tenants.KVKey](ctx, c, "/kv/"+esc(ns)+"/keys", q, "keys")
}

// GetKVValue reads a key of namespace ns; an *Error with status 404 when
// it is absent or expired.
func (c *Client) GetKVValue(ctx context.Context, ns, key string) (*KVValue, error) {
	var v KVValue
	err := c.do(ctx, request{method: http.MethodGet, path: kvKeyPath(ns, key), read: func(resp *http.Response) error {
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return fmt.Errorf("apiclient: reading the value of %s: %w", key, err)
		}
		v.Value = b
		if h := resp.Header.Get("Pier-KV-Expires"); h != "" {
			if v.Expires, err = time.Parse(time.RFC3339Nano, h); err != nil {
				return fmt.Errorf("apiclient: bad Pier-KV-Expires %q: %w", h, err)
			}
		}
		return nil
	}})
	return ret(&v, err)
}

// PutKVValue writes a key of namespace ns; ttl 0 never expires, otherwise
// it is rounded up to whole seconds.
func (c *Client) PutKVValue(ctx context.Context, ns, key string, value []byte, ttl time.Duration) error {
	var q url.Values
	if ttl > 0 {
		q = url.Values{"ttl": {strconv.FormatInt(int64((ttl+time.Second-1)/time.Second), 10)}}
	}
	return c.do(ctx, request{method: http.MethodPut, path: kvKeyPath(ns, key), query: q,
		raw: bytes.NewReader(value), size: int64(len(value))})
}

// DeleteKVKey deletes a key of namespace ns (an absent key is no error).
func (c *Client) DeleteKVKey(ctx context.Context, ns, key string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: kvKeyPath(ns, key)})
}

// BulkPutKV writes every item into namespace ns in one transaction, all
// or none, and returns how many it wrote.
func (c *Client) BulkPutKV(ctx context.Context, ns string, items []KVBulkItem) (int, error) {
	var out struct {
		Written int `json:"written"`
	}
	if err := c.do(ctx, request{method: http.MethodPost, path: "/kv/" + esc(ns) + "/bulk", body: nonNilSlice(items), out: &out}); err != nil {
		return 0, err
	}
	return out.Written, nil
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Whoami is who the client's token acts as (GET /session): Kind "admin"
// or "tenant", and the tenant of a tenant or site token.
type Whoami struct {
	Kind   string `json:"kind"`
	Tenant *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"tenant,omitempty"`
}

// Whoami asks the server who the client's token acts as.
func (c *Client) Whoami(ctx context.Context) (*Whoami, error) {
	var w Whoami
	err := c.do(ctx, request{method: http.MethodGet, path: "/session", out: &w})
	return ret(&w, err)
}
