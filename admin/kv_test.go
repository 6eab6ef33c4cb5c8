package admin_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/admin"
)

// kvChanges records Config.OnKVChange calls.
type kvChanges struct {
	mu   sync.Mutex
	list []string
}

func (c *kvChanges) record(ns, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, ns+"/"+key)
}

// take returns the calls since the last take.
func (c *kvChanges) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.list
	c.list = nil
	return out
}

type kvWorld struct {
	e                 *env
	changes           *kvChanges
	acmeID, acmeTok   string
	otherID, otherTok string
	nsID, otherNS     string // acme's "data" and other's "data"
}

func newKVWorld(t *testing.T) *kvWorld {
	t.Helper()
	ch := &kvChanges{}
	e := newEnv(t, withConfig(func(c *admin.Config) { c.OnKVChange = ch.record }))
	w := &kvWorld{e: e, changes: ch}
	w.acmeID, w.acmeTok = e.tenant(t, "acme")
	w.otherID, w.otherTok = e.tenant(t, "other")
	w.nsID = must(t, e.do(t, "POST", "/api/v1/tenants/acme/kv", w.acmeTok, map[string]any{"name": "data"}), 201).str("id")
	w.otherNS = must(t, e.do(t, "POST", "/api/v1/tenants/other/kv", w.otherTok, map[string]any{"name": "data"}), 201).str("id")
	return w
}

func (w *kvWorld) setLimits(t *testing.T, tenantID string, limits map[string]int) {
	t.Helper()
	must(t, w.e.do(t, "PATCH", "/api/v1/tenants/"+tenantID, w.e.admin, map[string]any{"limits": limits}), 200)
}

func TestKVNamespacesAPI(t *testing.T) {
	t.Parallel()
	w := newKVWorld(t)
	e := w.e

	t.Run("create answers the namespace", func(t *testing.T) {
		r := must(t, e.do(t, "POST", "/api/v1/tenants/"+w.acmeID+"/kv", e.admin, map[string]any{"name": "blog-data"}), 201)
		if !strings.HasPrefix(r.str("id"), "kv_") || r.str("tenant_id") != w.acmeID || r.str("name") != "blog-data" || r.str("created_at") == "" {
			t.Errorf("answer %s", r.raw)
		}
	})
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"taken name", map[string]any{"name": "data"}, 409, "conflict", ""},
		{"bad name", map[string]any{"name": "Bad_Name"}, 400, "invalid", "name"},
		{"no name", map[string]any{}, 400, "invalid", "name"},
		{"unknown field", map[string]any{"name": "x", "id": "kv_mine"}, 400, "invalid", "id"},
	} {
		t.Run("create refuses "+tc.name, func(t *testing.T) {
			r := e.do(t, "POST", "/api/v1/tenants/acme/kv", w.acmeTok, tc.body)
			wantErr(t, r, tc.status, tc.code)
			if tc.field != "" && r.errField("field") != tc.field {
				t.Errorf("field %v, want %s", r.errField("field"), tc.field)
			}
		})
	}
	t.Run("list by name", func(t *testing.T) {
		r := must(t, e.do(t, "GET", "/api/v1/tenants/acme/kv", w.acmeTok, nil), 200)
		var names []string
		for _, n := range r.body["namespaces"].([]any) {
			names = append(names, n.(map[string]any)["name"].(string))
		}
		if !slices.Equal(names, []string{"blog-data", "data"}) {
			t.Errorf("namespaces %v, want blog-data, data", names)
		}
	})
	t.Run("get counts keys and bytes", func(t *testing.T) {
		must(t, e.do(t, "PUT", "/api/v1/kv/data/keys/abc", w.acmeTok, []byte("12345")), 204)
		for _, ref := range []string{"data", w.nsID} {
			r := must(t, e.do(t, "GET", "/api/v1/tenants/acme/kv/"+ref, w.acmeTok, nil), 200)
			if r.str("id") != w.nsID || r.body["keys"] != 1.0 || r.body["bytes"] != 8.0 {
				t.Errorf("GET by %s: %s, want 1 key of 8 bytes", ref, r.raw)
			}
		}
	})
	t.Run("another tenant's namespaces are not found", func(t *testing.T) {
		wantErr(t, e.do(t, "GET", "/api/v1/tenants/acme/kv", w.otherTok, nil), 404, "not_found")
		wantErr(t, e.do(t, "POST", "/api/v1/tenants/acme/kv", w.otherTok, map[string]any{"name": "mine"}), 404, "not_found")
		wantErr(t, e.do(t, "GET", "/api/v1/tenants/other/kv/"+w.nsID, w.otherTok, nil), 404, "not_found")
		wantErr(t, e.do(t, "DELETE", "/api/v1/tenants/other/kv/"+w.nsID, w.otherTok, nil), 404, "not_found")
	})
	t.Run("quota", func(t *testing.T) {
		w.setLimits(t, w.acmeID, map[string]int{"kvNamespaces": 2})
		r := e.do(t, "POST", "/api/v1/tenants/acme/kv", w.acmeTok, map[string]any{"name": "third"})
		wantErr(t, r, 403, "quota_exceeded")
		if r.errField("quota") != "kvNamespaces" || r.errField("used") != 2.0 || r.errField("limit") != 2.0 {
			t.Errorf("refusal %s, want quota kvNamespaces used 2 limit 2", r.raw)
		}
		// A name in use is a conflict even at the quota.
		wantErr(t, e.do(t, "POST", "/api/v1/tenants/acme/kv", w.acmeTok, map[string]any{"name": "data"}), 409, "conflict")
		u := must(t, e.do(t, "GET", "/api/v1/tenants/acme", w.acmeTok, nil), 200).body["usage"].(map[string]any)
		if u["kvNamespaces"] != 2.0 || u["kvBytes"] != 8.0 || u["storageBytes"] != 8.0 {
			t.Errorf("usage %v, want 2 namespaces and 8 bytes, in storageBytes", u)
		}
	})
	t.Run("delete takes the keys and tells the followers", func(t *testing.T) {
		w.changes.take()
		must(t, e.do(t, "DELETE", "/api/v1/tenants/acme/kv/data", w.acmeTok, nil), 204)
		if got := w.changes.take(); !slices.Equal(got, []string{w.nsID + "/"}) {
			t.Errorf("OnKVChange calls %v, want the whole namespace", got)
		}
		wantErr(t, e.do(t, "GET", "/api/v1/kv/"+w.nsID+"/keys/abc", w.acmeTok, nil), 404, "not_found")
		wantErr(t, e.do(t, "DELETE", "/api/v1/tenants/acme/kv/data", w.acmeTok, nil), 404, "not_found")
		must(t, e.do(t, "POST", "/api/v1/tenants/acme/kv", w.acmeTok, map[string]any{"name": "data"}), 201)
	})
}

func TestKVKeysAPI(t *testing.T) {
	t.Parallel()
	w := newKVWorld(t)
	e := w.e
	keys := "/api/v1/kv/data/keys/"

	t.Run("put and get raw bytes", func(t *testing.T) {
		value := []byte{0, 1, 2, 0xff, '\n'}
		must(t, e.do(t, "PUT", keys+"bin", w.acmeTok, value), 204)
		r := must(t, e.do(t, "GET", keys+"bin", w.acmeTok, nil), 200)
		if string(r.raw) != string(value) || r.header.Get("Content-Type") != "application/octet-stream" || r.header.Get("Pier-KV-Expires") != "" {
			t.Errorf("GET: %q %v", r.raw, r.header)
		}
		if got := w.changes.take(); !slices.Equal(got, []string{w.nsID + "/bin"}) {
			t.Errorf("OnKVChange calls %v, want the key", got)
		}
		// HEAD: GET's status and headers, no body.
		h := must(t, e.do(t, "HEAD", keys+"bin", w.acmeTok, nil), 200)
		if len(h.raw) != 0 || h.header.Get("Content-Length") != "5" {
			t.Errorf("HEAD: %q %v", h.raw, h.header)
		}
		must(t, e.do(t, "HEAD", keys+"absent", w.acmeTok, nil), 404)
	})
	t.Run("ttl", func(t *testing.T) {
		before := time.Now()
		must(t, e.do(t, "PUT", keys+"session?ttl=60", w.acmeTok, "s"), 204)
		r := must(t, e.do(t, "GET", keys+"session", w.acmeTok, nil), 200)
		exp, err := time.Parse(time.RFC3339Nano, r.header.Get("Pier-KV-Expires"))
		if err != nil || exp.Before(before.Add(59*time.Second)) || exp.After(time.Now().Add(61*time.Second)) {
			t.Errorf("Pier-KV-Expires %q (%v), want about a minute from now", r.header.Get("Pier-KV-Expires"), err)
		}
		must(t, e.do(t, "PUT", keys+"brief?ttl=1", w.acmeTok, "b"), 204)
		// The store judges expiry by the real clock.
		deadline := time.Now().Add(30 * time.Second)
		for e.do(t, "GET", keys+"brief", w.acmeTok, nil).status != 404 {
			if time.Now().After(deadline) {
				t.Fatal("a key with ttl=1 is still there 30 s later")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	t.Run("keys with slashes and percents", func(t *testing.T) {
		for _, key := range []string{"a/b", "100%", "sp ace", "ünï", "?q#f"} {
			p := keys + url.PathEscape(key)
			must(t, e.do(t, "PUT", p, w.acmeTok, "v:"+key), 204)
			if r := must(t, e.do(t, "GET", p, w.acmeTok, nil), 200); string(r.raw) != "v:"+key {
				t.Errorf("GET %s = %q", p, r.raw)
			}
		}
		r := must(t, e.do(t, "GET", "/api/v1/kv/data/keys?prefix=a/", w.acmeTok, nil), 200)
		if list := r.body["keys"].([]any); len(list) != 1 || list[0].(map[string]any)["name"] != "a/b" {
			t.Errorf("prefix a/: %s", r.raw)
		}
	})
	t.Run("missing key", func(t *testing.T) {
		wantErr(t, e.do(t, "GET", keys+"nope", w.acmeTok, nil), 404, "not_found")
		must(t, e.do(t, "DELETE", keys+"nope", w.acmeTok, nil), 204)
	})
	t.Run("delete", func(t *testing.T) {
		must(t, e.do(t, "PUT", keys+"gone", w.acmeTok, "x"), 204)
		w.changes.take()
		must(t, e.do(t, "DELETE", keys+"gone", w.acmeTok, nil), 204)
		wantErr(t, e.do(t, "GET", keys+"gone", w.acmeTok, nil), 404, "not_found")
		if got := w.changes.take(); !slices.Equal(got, []string{w.nsID + "/gone"}) {
			t.Errorf("OnKVChange calls %v, want the key", got)
		}
	})
	for _, tc := range []struct {
		name, path string
		body       any
		field      string
	}{
		{"key too long", keys + strings.Repeat("k", 513), "v", "key"},
		{"ttl not a number", keys + "k?ttl=soon", "v", "ttl"},
		{"negative ttl", keys + "k?ttl=-1", "v", "ttl"},
		{"bad cursor", "/api/v1/kv/data/keys?cursor=garbage", nil, "cursor"},
		{"bad limit", "/api/v1/kv/data/keys?limit=0", nil, "limit"},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			method := "PUT"
			if tc.body == nil {
				method = "GET"
			}
			r := e.do(t, method, tc.path, w.acmeTok, tc.body)
			wantErr(t, r, 400, "invalid")
			if r.errField("field") != tc.field {
				t.Errorf("field %v, want %s (%s)", r.errField("field"), tc.field, r.raw)
			}
		})
	}
	t.Run("value over kvValueKB", func(t *testing.T) {
		w.setLimits(t, w.acmeID, map[string]int{"kvValueKB": 1})
		must(t, e.do(t, "PUT", keys+"fits", w.acmeTok, strings.Repeat("x", 1024)), 204)
		r := e.do(t, "PUT", keys+"big", w.acmeTok, strings.Repeat("x", 1025))
		wantErr(t, r, 413, "value_too_large")
		if r.errField("quota") != "kvValueKB" || r.errField("limit") != 1.0 || !strings.Contains(string(r.raw), "kvValueKB") {
			t.Errorf("refusal %s, want it to name kvValueKB and its limit", r.raw)
		}
		wantErr(t, e.do(t, "GET", keys+"big", w.acmeTok, nil), 404, "not_found")
		w.setLimits(t, w.acmeID, map[string]int{"kvValueKB": 0})
	})
	t.Run("value over storageMB", func(t *testing.T) {
		w.setLimits(t, w.otherID, map[string]int{"storageMB": 1})
		other := "/api/v1/kv/data/keys/"
		must(t, e.do(t, "PUT", other+"a", w.otherTok, strings.Repeat("x", 1000_000)), 204)
		r := e.do(t, "PUT", other+"b", w.otherTok, strings.Repeat("x", 100_000))
		wantErr(t, r, 413, "quota_exceeded")
		if r.errField("quota") != "storageMB" {
			t.Errorf("refusal %s, want quota storageMB", r.raw)
		}
		wantErr(t, e.do(t, "GET", other+"b", w.otherTok, nil), 404, "not_found")
	})
}

func TestKVListAPI(t *testing.T) {
	t.Parallel()
	w := newKVWorld(t)
	e := w.e
	for i := range 7 {
		must(t, e.do(t, "PUT", fmt.Sprintf("/api/v1/kv/data/keys/user:%d", i), w.acmeTok, "v"), 204)
	}
	must(t, e.do(t, "PUT", "/api/v1/kv/data/keys/zz", w.acmeTok, "v"), 204)
	var got []string
	path := "/api/v1/kv/data/keys?prefix=user:&limit=3"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the listing does not end")
		}
		r := must(t, e.do(t, "GET", path, w.acmeTok, nil), 200)
		for _, k := range r.body["keys"].([]any) {
			m := k.(map[string]any)
			got = append(got, m["name"].(string))
			if m["size"] != 1.0 || m["updated_at"] == nil || m["expires_at"] != nil {
				t.Errorf("key %v", m)
			}
		}
		next, _ := r.body["next_cursor"].(string)
		if next == "" {
			break
		}
		path = "/api/v1/kv/data/keys?prefix=user:&limit=3&cursor=" + url.QueryEscape(next)
	}
	want := []string{"user:0", "user:1", "user:2", "user:3", "user:4", "user:5", "user:6"}
	if !slices.Equal(got, want) {
		t.Errorf("listed %v, want %v", got, want)
	}
}

func TestKVBulkAPI(t *testing.T) {
	t.Parallel()
	w := newKVWorld(t)
	e := w.e
	bulk := "/api/v1/kv/data/bulk"
	r := must(t, e.do(t, "POST", bulk, w.acmeTok, []map[string]any{
		{"key": "a", "value": "text"},
		{"key": "b", "value": base64.StdEncoding.EncodeToString([]byte{0, 0xff}), "base64": true},
		{"key": "c", "value": "expiring", "ttl": 3600},
	}), 200)
	if r.body["written"] != 3.0 {
		t.Errorf("answer %s", r.raw)
	}
	if v := must(t, e.do(t, "GET", "/api/v1/kv/data/keys/b", w.acmeTok, nil), 200).raw; string(v) != "\x00\xff" {
		t.Errorf("base64 value %q", v)
	}
	if h := must(t, e.do(t, "GET", "/api/v1/kv/data/keys/c", w.acmeTok, nil), 200).header.Get("Pier-KV-Expires"); h == "" {
		t.Error("the item with a ttl does not expire")
	}
	if got := w.changes.take(); len(got) != 3 {
		t.Errorf("OnKVChange calls %v, want one per key", got)
	}
	for _, tc := range []struct {
		name   string
		items  []map[string]any
		status int
		code   string
		field  string
	}{
		{"empty key", []map[string]any{{"key": "ok", "value": "1"}, {"key": "", "value": "2"}}, 400, "invalid", "[1].key"},
		{"bad base64", []map[string]any{{"key": "x", "value": "!!", "base64": true}}, 400, "invalid", "[0].value"},
		{"negative ttl", []map[string]any{{"key": "x", "value": "1"}, {"key": "y", "value": "1", "ttl": -5}}, 400, "invalid", "[1].ttl"},
		{"value too large", []map[string]any{{"key": "x", "value": "1"}, {"key": "y", "value": strings.Repeat("x", 1<<20+1)}}, 413, "value_too_large", ""},
		{"a value of the wrong type", []map[string]any{{"key": "x", "value": "1"}, {"key": "y", "value": 5}}, 400, "invalid", "[1].value"},
		{"a ttl that is not an integer", []map[string]any{{"key": "x", "value": "1", "ttl": 1.5}}, 400, "invalid", "[0].ttl"},
		{"an unknown field", []map[string]any{{"key": "x", "value": "1"}, {"key": "y", "value": "1", "tll": 5}}, 400, "invalid", "[1].tll"},
	} {
		t.Run("refuses "+tc.name+", writing nothing", func(t *testing.T) {
			r := e.do(t, "POST", bulk, w.acmeTok, tc.items)
			wantErr(t, r, tc.status, tc.code)
			if tc.field != "" && r.errField("field") != tc.field {
				t.Errorf("field %v, want %s", r.errField("field"), tc.field)
			}
			if tc.code == "value_too_large" && r.errField("index") != 1.0 {
				t.Errorf("refusal %s, want index 1", r.raw)
			}
			for _, it := range tc.items {
				if k, _ := it["key"].(string); k != "" {
					wantErr(t, e.do(t, "GET", "/api/v1/kv/data/keys/"+k, w.acmeTok, nil), 404, "not_found")
				}
			}
		})
	}
}

// TestKVBulkNotUTF8: a bulk item whose key or value is not valid UTF-8
// (an invalid byte, a lone surrogate escape) is refused, naming it,
// rather than written under U+FFFD; a U+FFFD sent as such is a key.
func TestKVBulkNotUTF8(t *testing.T) {
	t.Parallel()
	w := newKVWorld(t)
	e := w.e
	bulk := "/api/v1/kv/data/bulk"
	for _, tc := range []struct{ name, body, field string }{
		{"an invalid byte", "[{\"key\":\"ok\",\"value\":\"1\"},{\"key\":\"a\xffb\",\"value\":\"x\"}]", "[1]"},
		{"a lone surrogate in a key", `[{"key":"a\ud800b","value":"x"}]`, "[0].key"},
		{"a lone surrogate in a value", `[{"key":"k","value":"\udc00"}]`, "[0].value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "POST", bulk, w.acmeTok, []byte(tc.body))
			wantErr(t, r, 400, "invalid")
			if r.errField("field") != tc.field {
				t.Errorf("field %v, want %s (%s)", r.errField("field"), tc.field, r.raw)
			}
		})
	}
	if n := must(t, e.do(t, "GET", "/api/v1/kv/data/keys", w.acmeTok, nil), 200).body["keys"].([]any); len(n) != 0 {
		t.Errorf("keys written: %v", n)
	}
	must(t, e.do(t, "POST", bulk, w.acmeTok, []byte(`[{"key":"a\ufffdb","value":"x"},{"key":"c�d","value":"\ud83d\ude00"}]`)), 200)
	if v := must(t, e.do(t, "GET", "/api/v1/kv/data/keys/c%EF%BF%BDd", w.acmeTok, nil), 200).raw; string(v) != "\U0001F600" {
		t.Errorf("value %q", v)
	}
}

// TestKVIsolation: a tenant reaches another tenant's namespace neither by
// ID nor by name; an admin token reaches any by ID.
func TestKVIsolation(t *testing.T) {
	t.Parallel()
	w := newKVWorld(t)
	e := w.e
	must(t, e.do(t, "PUT", "/api/v1/kv/"+w.nsID+"/keys/secret", w.acmeTok, "acme's"), 204)
	must(t, e.do(t, "PUT", "/api/v1/kv/data/keys/secret", w.otherTok, "other's"), 204)

	for _, ref := range []string{w.nsID, "data"} {
		t.Run("other tenant by "+ref, func(t *testing.T) {
			r := e.do(t, "GET", "/api/v1/kv/"+ref+"/keys/secret", w.otherTok, nil)
			if ref == "data" { // its own namespace of that name
				if must(t, r, 200); string(r.raw) != "other's" {
					t.Errorf("GET = %q, want its own value", r.raw)
				}
				return
			}
			wantErr(t, r, 404, "not_found")
			wantErr(t, e.do(t, "PUT", "/api/v1/kv/"+ref+"/keys/secret", w.otherTok, "overwritten"), 404, "not_found")
			wantErr(t, e.do(t, "DELETE", "/api/v1/kv/"+ref+"/keys/secret", w.otherTok, nil), 404, "not_found")
			wantErr(t, e.do(t, "GET", "/api/v1/kv/"+ref+"/keys", w.otherTok, nil), 404, "not_found")
			wantErr(t, e.do(t, "POST", "/api/v1/kv/"+ref+"/bulk", w.otherTok, []any{}), 404, "not_found")
		})
	}
	t.Run("admin by id, not by name", func(t *testing.T) {
		r := must(t, e.do(t, "GET", "/api/v1/kv/"+w.nsID+"/keys/secret", e.admin, nil), 200)
		if string(r.raw) != "acme's" {
			t.Errorf("admin GET = %q", r.raw)
		}
		wantErr(t, e.do(t, "GET", "/api/v1/kv/data/keys/secret", e.admin, nil), 404, "not_found")
	})
	if r := must(t, e.do(t, "GET", "/api/v1/kv/data/keys/secret", w.acmeTok, nil), 200); string(r.raw) != "acme's" {
		t.Errorf("acme's value after the other tenant's attempts: %q", r.raw)
	}
	t.Run("a disabled tenant reads but does not write", func(t *testing.T) {
		must(t, e.do(t, "PATCH", "/api/v1/tenants/"+w.otherID, e.admin, map[string]any{"disabled": true}), 200)
		must(t, e.do(t, "GET", "/api/v1/kv/data/keys/secret", w.otherTok, nil), 200)
		wantErr(t, e.do(t, "PUT", "/api/v1/kv/data/keys/secret", w.otherTok, "x"), 403, "tenant_disabled")
	})
}

// TestKVBindingsAtDeploy: a deployment's config.kv names namespaces of
// the site's tenant, resolved to their IDs; a client's namespace_id is
// replaced, so no deployment binds another tenant's namespace.
func TestKVBindingsAtDeploy(t *testing.T) {
	t.Parallel()
	w := newKVWorld(t)
	e := w.e
	salt := e.site(t, w.acmeTok, "blog")
	publish := func(kv any) resp {
		return e.publish(t, w.acmeTok, "blog", salt, files{"/index.html": "hi"}, map[string]any{"config": map[string]any{"kv": kv}})
	}
	r := must(t, publish([]map[string]any{
		{"binding": "STORE", "namespace": "data", "namespace_id": w.otherNS}, // a foreign ID is ignored
	}), 201)
	kv := r.body["config"].(map[string]any)["kv"].([]any)
	if len(kv) != 1 || kv[0].(map[string]any)["namespace_id"] != w.nsID || kv[0].(map[string]any)["binding"] != "STORE" {
		t.Errorf("config.kv %v, want STORE bound to %s", kv, w.nsID)
	}
	dep, err := e.store.Deployment(t.Context(), r.str("site_id"), r.str("id"))
	if err != nil || len(dep.Config.KV) != 1 || dep.Config.KV[0].NamespaceID != w.nsID {
		t.Errorf("stored config.kv %+v, %v", dep.Config.KV, err)
	}
	for _, tc := range []struct {
		name  string
		kv    any
		field string
	}{
		{"unknown namespace", []map[string]any{{"binding": "A", "namespace": "nope"}}, "config.kv[0].namespace"},
		{"namespace by id", []map[string]any{{"binding": "A", "namespace": w.nsID}}, "config.kv[0].namespace"},
		{"bad binding", []map[string]any{{"binding": "A", "namespace": "data"}, {"binding": "1st", "namespace": "data"}}, "config.kv[1].binding"},
		{"long binding", []map[string]any{{"binding": strings.Repeat("B", 65), "namespace": "data"}}, "config.kv[0].binding"},
		{"duplicate binding", []map[string]any{{"binding": "A", "namespace": "data"}, {"binding": "A", "namespace": "data"}}, "config.kv[1].binding"},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			r := publish(tc.kv)
			wantErr(t, r, 400, "invalid")
			if r.errField("field") != tc.field {
				t.Errorf("field %v, want %s (%s)", r.errField("field"), tc.field, r.raw)
			}
		})
	}
}

// TestExpireKV: ExpireKV deletes the keys whose TTL passed, and only
// those.
func TestExpireKV(t *testing.T) {
	t.Parallel()
	w := newKVWorld(t)
	e := w.e
	must(t, e.do(t, "PUT", "/api/v1/kv/data/keys/brief?ttl=1", w.acmeTok, "b"), 204)
	must(t, e.do(t, "PUT", "/api/v1/kv/data/keys/long?ttl=3600", w.acmeTok, "l"), 204)
	must(t, e.do(t, "PUT", "/api/v1/kv/data/keys/forever", w.acmeTok, "f"), 204)
	deadline := time.Now().Add(30 * time.Second)
	for e.do(t, "GET", "/api/v1/kv/data/keys/brief", w.acmeTok, nil).status != 404 {
		if time.Now().After(deadline) {
			t.Fatal("a key with ttl=1 is still there 30 s later")
		}
		time.Sleep(50 * time.Millisecond)
	}
	n, err := e.api.ExpireKV(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("ExpireKV = %d, %v; want the one expired key", n, err)
	}
	if n, err := e.api.ExpireKV(t.Context()); err != nil || n != 0 {
		t.Errorf("ExpireKV again = %d, %v; want 0", n, err)
	}
	r := must(t, e.do(t, "GET", "/api/v1/tenants/acme/kv/data", w.acmeTok, nil), 200)
	if r.body["keys"] != 2.0 {
		t.Errorf("after the sweep: %s, want 2 keys", r.raw)
	}
}

// TestAllowKVWrite: a worker's KV write counts against the tenant's
// storageMB; the limit read is reused for a second, but raising it
// through the API applies to the next write at once.
func TestAllowKVWrite(t *testing.T) {
	e := newEnv(t)
	id, _ := e.tenant(t, "acme")
	must(t, e.do(t, "PATCH", "/api/v1/tenants/"+id, e.admin, map[string]any{"limits": map[string]int{"storageMB": 1}}), 200)
	ctx := context.Background()
	if err := e.api.AllowKVWrite(ctx, id, 600<<10); err != nil {
		t.Fatalf("a 600 KiB write within 1 MiB: %v", err)
	}
	err := e.api.AllowKVWrite(ctx, id, 600<<10)
	var qe *admin.QuotaError
	if !errors.As(err, &qe) || qe.Quota != "storageMB" {
		t.Fatalf("a second 600 KiB write: %v, want a storageMB quota error", err)
	}
	must(t, e.do(t, "PATCH", "/api/v1/tenants/"+id, e.admin, map[string]any{"limits": map[string]int{"storageMB": 2}}), 200)
	if err := e.api.AllowKVWrite(ctx, id, 600<<10); err != nil {
		t.Fatalf("after raising storageMB to 2: %v", err)
	}
	if err := e.api.AllowKVWrite(ctx, "t_nobody", 1); err == nil {
		t.Error("a write of an unknown tenant was allowed")
	}
}

// TestKVBindingsBySiteToken: a site token acts on its site only, so its
// deploy may keep the KV namespaces the site's live deployment binds but
// not bind another of the tenant's (which other sites may own): 403
// site_token_forbidden naming the binding, and the live site unchanged.
func TestKVBindingsBySiteToken(t *testing.T) {
	t.Parallel()
	w := newKVWorld(t)
	e := w.e
	salt := e.site(t, w.acmeTok, "blog")
	must(t, e.do(t, "POST", "/api/v1/tenants/acme/kv", w.acmeTok, map[string]any{"name": "private"}), 201)
	siteTok := must(t, e.do(t, "POST", "/api/v1/sites/blog/tokens", w.acmeTok, map[string]any{"name": "ci"}), 201).str("token")
	publish := func(tok string, kv any) resp {
		return e.publish(t, tok, "blog", salt, files{"/index.html": "hi"}, map[string]any{"config": map[string]any{"kv": kv}})
	}
	data := map[string]any{"binding": "STORE", "namespace": "data"}
	private := map[string]any{"binding": "OTHER", "namespace": "private"}

	// Nothing is live yet: the site token binds nothing.
	r := publish(siteTok, []any{data})
	wantErr(t, r, 403, "site_token_forbidden")
	if r.errField("field") != "config.kv[0].namespace" || !strings.Contains(string(r.raw), `\"data\"`) {
		t.Errorf("refusal %s", r.raw)
	}
	// The tenant binds data; the site token may then keep it (and drop it).
	live := must(t, publish(w.acmeTok, []any{data}), 201).str("id")
	must(t, publish(siteTok, []any{data}), 201)
	must(t, publish(siteTok, []any{map[string]any{"binding": "RENAMED", "namespace": "data"}}), 201)
	// But not add another namespace of the tenant's.
	r = publish(siteTok, []any{data, private})
	wantErr(t, r, 403, "site_token_forbidden")
	if r.errField("field") != "config.kv[1].namespace" {
		t.Errorf("refusal %s", r.raw)
	}
	site := must(t, e.do(t, "GET", "/api/v1/sites/blog", w.acmeTok, nil), 200)
	if site.str("active_deployment") == live {
		t.Errorf("the site token's good deploys did not go live")
	}
	dep := must(t, e.do(t, "GET", "/api/v1/sites/blog/deployments/"+site.str("active_deployment"), w.acmeTok, nil), 200)
	if kv := dep.body["config"].(map[string]any)["kv"].([]any); len(kv) != 1 || kv[0].(map[string]any)["namespace"] != "data" {
		t.Errorf("live bindings after the refused deploy: %v", kv)
	}
	// The tenant token binds both.
	must(t, publish(w.acmeTok, []any{data, private}), 201)
}
