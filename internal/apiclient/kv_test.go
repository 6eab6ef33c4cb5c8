package apiclient

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

func TestKVRequests(t *testing.T) {
	ctx := context.Background()
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ns := tenants.KVNamespace{ID: "kv_1", TenantID: "t_1", Name: "blog-data", Created: created}
	tests := []struct {
		name                        string
		call                        func(c *Client) (any, error)
		status                      int
		answer                      string
		wantMethod, wantPath, query string
		wantBody                    string // JSON; "" means none
		want                        any
	}{
		{"create namespace", func(c *Client) (any, error) { return c.CreateKVNamespace(ctx, "acme", "blog-data") },
			201, `{"id":"kv_1","tenant_id":"t_1","name":"blog-data","created_at":"2026-01-02T03:04:05Z"}`,
			"POST", "/api/v1/tenants/acme/kv", "", `{"name":"blog-data"}`, &KVNamespace{KVNamespace: ns}},
		{"list namespaces", func(c *Client) (any, error) { return c.ListKVNamespaces(ctx, "acme") },
			200, `{"namespaces":[{"id":"kv_1","tenant_id":"t_1","name":"blog-data","created_at":"2026-01-02T03:04:05Z"}]}`,
			"GET", "/api/v1/tenants/acme/kv", "", "", []KVNamespace{{KVNamespace: ns}}},
		{"no namespaces", func(c *Client) (any, error) { return c.ListKVNamespaces(ctx, "acme") },
			200, `{"namespaces":[]}`, "GET", "/api/v1/tenants/acme/kv", "", "", []KVNamespace{}},
		{"get namespace", func(c *Client) (any, error) { return c.GetKVNamespace(ctx, "acme", "blog-data") },
			200, `{"id":"kv_1","tenant_id":"t_1","name":"blog-data","created_at":"2026-01-02T03:04:05Z","keys":3,"bytes":42}`,
			"GET", "/api/v1/tenants/acme/kv/blog-data", "", "", &KVNamespace{KVNamespace: ns, Keys: 3, Bytes: 42}},
		{"delete namespace", func(c *Client) (any, error) { return nil, c.DeleteKVNamespace(ctx, "acme", "blog-data") },
			204, "", "DELETE", "/api/v1/tenants/acme/kv/blog-data", "", "", nil},
		{"keys page", func(c *Client) (any, error) { return c.KVKeysPage(ctx, "blog-data", "user:", "cur", 10) },
			200, `{"keys":[{"name":"user:1","size":5,"updated_at":"2026-01-02T03:04:05Z"}],"next_cursor":"n"}`,
			"GET", "/api/v1/kv/blog-data/keys", "cursor=cur&limit=10&prefix=user%3A", "",
			&KVKeyPage{Keys: []tenants.KVKey{{Key: "user:1", Size: 5, Updated: created}}, NextCursor: "n"}},
		{"all keys", func(c *Client) (any, error) { return c.ListKVKeys(ctx, "kv_1", "") },
			200, `{"keys":[{"name":"a","size":1,"expires_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"}]}`,
			"GET", "/api/v1/kv/kv_1/keys", "", "", []tenants.KVKey{{Key: "a", Size: 1, Expires: created, Updated: created}}},
		{"delete key with a slash", func(c *Client) (any, error) { return nil, c.DeleteKVKey(ctx, "blog-data", "a/b c") },
			204, "", "DELETE", "/api/v1/kv/blog-data/keys/a%2Fb%20c", "", "", nil},
		// "." and ".." are keys, not path steps a cleaner would remove.
		{"delete the key .", func(c *Client) (any, error) { return nil, c.DeleteKVKey(ctx, "blog-data", ".") },
			204, "", "DELETE", "/api/v1/kv/blog-data/keys/%2E", "", "", nil},
		{"delete the key ..", func(c *Client) (any, error) { return nil, c.DeleteKVKey(ctx, "blog-data", "..") },
			204, "", "DELETE", "/api/v1/kv/blog-data/keys/%2E%2E", "", "", nil},
		{"bulk", func(c *Client) (any, error) {
			return c.BulkPutKV(ctx, "blog-data", []KVBulkItem{{Key: "a", Value: "1"}, {Key: "b", Value: "AAE=", Base64: true, TTL: 60}})
		}, 200, `{"written":2}`, "POST", "/api/v1/kv/blog-data/bulk", "",
			`[{"key":"a","value":"1"},{"key":"b","value":"AAE=","base64":true,"ttl":60}]`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := server(t, tt.status, tt.answer, nil)
			got, err := tt.call(c)
			if err != nil {
				t.Fatal(err)
			}
			if rec.method != tt.wantMethod || rec.path != tt.wantPath || rec.rawQuery != tt.query {
				t.Errorf("request = %s %s?%s, want %s %s?%s", rec.method, rec.path, rec.rawQuery, tt.wantMethod, tt.wantPath, tt.query)
			}
			if tt.wantBody == "" && rec.body != "" {
				t.Errorf("body = %q, want none", rec.body)
			}
			if tt.wantBody != "" {
				var g, w any
				if err := json.Unmarshal([]byte(rec.body), &g); err != nil {
					t.Fatalf("body %q: %v", rec.body, err)
				}
				json.Unmarshal([]byte(tt.wantBody), &w)
				if !reflect.DeepEqual(g, w) {
					t.Errorf("body = %s, want %s", rec.body, tt.wantBody)
				}
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("answer = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestKVValues(t *testing.T) {
	ctx := context.Background()
	t.Run("put sends the raw value and the ttl in seconds", func(t *testing.T) {
		c, rec := server(t, 204, "", nil)
		if err := c.PutKVValue(ctx, "data", "a/b", []byte{0, 1, 0xff}, 1500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if rec.method != "PUT" || rec.path != "/api/v1/kv/data/keys/a%2Fb" || rec.rawQuery != "ttl=2" ||
			rec.body != "\x00\x01\xff" || rec.contentLength != 3 || rec.header.Get("Content-Type") != "application/octet-stream" {
			t.Errorf("request %+v", rec)
		}
	})
	t.Run("put of an empty value, no ttl", func(t *testing.T) {
		c, rec := server(t, 204, "", nil)
		if err := c.PutKVValue(ctx, "data", "k", nil, 0); err != nil {
			t.Fatal(err)
		}
		if rec.rawQuery != "" || rec.body != "" || rec.contentLength != 0 {
			t.Errorf("request %+v", rec)
		}
	})
	t.Run("get reads the raw value and its expiry", func(t *testing.T) {
		c, rec := server(t, 200, "\x00raw", http.Header{"Pier-Kv-Expires": {"2026-01-02T03:04:05.5Z"}})
		v, err := c.GetKVValue(ctx, "data", "k")
		if err != nil {
			t.Fatal(err)
		}
		if rec.path != "/api/v1/kv/data/keys/k" || string(v.Value) != "\x00raw" || !v.Expires.Equal(time.Date(2026, 1, 2, 3, 4, 5, 5e8, time.UTC)) {
			t.Errorf("GET %s: %+v", rec.path, v)
		}
	})
	t.Run("a missing key is a 404 Error", func(t *testing.T) {
		c, _ := server(t, 404, `{"error":{"code":"not_found","message":"key \"k\" not found"}}`, nil)
		_, err := c.GetKVValue(ctx, "data", "k")
		if !IsStatus(err, 404) {
			t.Errorf("err = %v, want a 404", err)
		}
	})
}
