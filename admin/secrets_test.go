package admin_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/internal/secretbox"
	"github.com/pierhq/pier/tenants"
)

// swapKeys is an admin.SecretKeys whose ring a test replaces, as a
// restart with a new key file does.
type swapKeys struct {
	mu   sync.Mutex
	ring *secretbox.Keyring
}

func newSwapKeys(t testing.TB, raw ...[]byte) *swapKeys {
	k := &swapKeys{}
	k.set(t, raw...)
	return k
}

func (k *swapKeys) set(t testing.TB, raw ...[]byte) {
	t.Helper()
	r, err := secretbox.NewKeyring(raw...)
	if err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ring = r
}

func (k *swapKeys) get() *secretbox.Keyring {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ring
}

func (k *swapKeys) Seal(pt []byte, c ...string) []byte         { return k.get().Seal(pt, c...) }
func (k *swapKeys) Open(s []byte, c ...string) ([]byte, error) { return k.get().Open(s, c...) }
func (k *swapKeys) PrimaryID() string                          { return k.get().PrimaryID() }

func withSecretKeys(k admin.SecretKeys) envOption {
	return withConfig(func(c *admin.Config) { c.SecretKeys = k })
}

// secretPath is the API path of a site's secret.
func secretPath(site, name string) string { return "/api/v1/sites/" + site + "/secrets/" + name }

func TestSecretsAPI(t *testing.T) {
	t.Parallel()
	keys := newSwapKeys(t, secretbox.NewKey())
	e := newEnv(t, withSecretKeys(keys))
	_, acme := e.tenant(t, "acme")
	_, other := e.tenant(t, "other")
	e.site(t, acme, "blog")
	e.site(t, other, "foreign")
	const value = "sk_live_3f9a-VALUE-MUST-NOT-LEAK"
	var answers [][]byte
	do := func(method, path, token string, body any) resp {
		r := e.do(t, method, path, token, body)
		answers = append(answers, r.raw)
		return r
	}

	r := must(t, do("PUT", secretPath("blog", "API_KEY"), acme, map[string]any{"value": value}), 201)
	if r.str("name") != "API_KEY" || r.str("created_at") == "" || r.str("created_at") != r.str("updated_at") {
		t.Errorf("created: %s", r.raw)
	}
	created := r.str("created_at")
	acts := e.acts.list()
	if len(acts) == 0 || acts[len(acts)-1].Name != "blog" {
		t.Errorf("after a put, the site's change was not told: %v", acts)
	}

	t.Run("replace keeps created_at", func(t *testing.T) {
		e.clock.Advance(time.Minute)
		r := must(t, do("PUT", secretPath("blog", "API_KEY"), acme, map[string]any{"value": value + "2"}), 200)
		if r.str("created_at") != created || r.str("updated_at") == created {
			t.Errorf("replaced: %s (created %s)", r.raw, created)
		}
		must(t, do("PUT", secretPath("blog", "API_KEY"), acme, map[string]any{"value": value}), 200)
		must(t, do("PUT", secretPath("blog", "EMPTY"), acme, map[string]any{"value": ""}), 201)
	})
	t.Run("listing shows names and times", func(t *testing.T) {
		r := must(t, do("GET", "/api/v1/sites/blog/secrets", acme, nil), 200)
		list := r.body["secrets"].([]any)
		if len(list) != 2 {
			t.Fatalf("listing %s", r.raw)
		}
		first := list[0].(map[string]any)
		if first["name"] != "API_KEY" || first["created_at"] != created || len(first) != 3 {
			t.Errorf("first %v", first)
		}
		must(t, do("GET", "/api/v1/sites/blog/secrets", e.admin, nil), 200)
		if r := must(t, do("GET", "/api/v1/sites/foreign/secrets", other, nil), 200); len(r.body["secrets"].([]any)) != 0 {
			t.Errorf("another site's listing %s", r.raw)
		}
	})
	t.Run("the store holds only the sealed value, for this site and name", func(t *testing.T) {
		ss := e.store.(tenants.SecretStore)
		site, _ := e.store.Site(context.Background(), "blog")
		vals, err := ss.SecretValues(context.Background(), site.ID)
		if err != nil || len(vals) != 2 {
			t.Fatalf("%v, %v", vals, err)
		}
		v := vals[0]
		if bytes.Contains(v.Ciphertext, []byte(value)) || v.KeyID != keys.PrimaryID() {
			t.Errorf("stored %+v", v)
		}
		if pt, err := keys.Open(v.Ciphertext, site.ID, "API_KEY"); err != nil || string(pt) != value {
			t.Errorf("opens to %q, %v", pt, err)
		}
		if _, err := keys.Open(v.Ciphertext, site.ID, "EMPTY"); err == nil {
			t.Error("the sealed value opens under another name")
		}
	})
	t.Run("errors", func(t *testing.T) {
		cases := []struct {
			name, method, path, token string
			body                      any
			status                    int
			code, field               string
		}{
			{"bad name", "PUT", secretPath("blog", "1BAD"), acme, map[string]any{"value": "x"}, 400, "invalid", "name"},
			{"name too long", "PUT", secretPath("blog", strings.Repeat("A", 65)), acme, map[string]any{"value": "x"}, 400, "invalid", "name"},
			{"a request header's CGI name", "PUT", secretPath("blog", "HTTP_X_UPSTREAM_KEY"), acme, map[string]any{"value": "x"}, 400, "invalid", "name"},
			{"an RFC 3875 name", "PUT", secretPath("blog", "REMOTE_HOST"), acme, map[string]any{"value": "x"}, 400, "invalid", "name"},
			{"no value", "PUT", secretPath("blog", "X"), acme, map[string]any{}, 400, "invalid", "value"},
			{"value not a string", "PUT", secretPath("blog", "X"), acme, map[string]any{"value": 5}, 400, "invalid", "value"},
			{"unknown field", "PUT", secretPath("blog", "X"), acme, map[string]any{"value": "x", "secret": value}, 400, "invalid", "secret"},
			{"value too large", "PUT", secretPath("blog", "X"), acme, map[string]any{"value": strings.Repeat("v", 5<<10+1)}, 413, "value_too_large", "value"},
			// encoding/json would store U+FFFD for what was sent.
			{"value not UTF-8", "PUT", secretPath("blog", "X"), acme, []byte("{\"value\":\"a\xffb\"}"), 400, "invalid", "value"},
			{"value with a lone surrogate", "PUT", secretPath("blog", "X"), acme, []byte(`{"value":"a\ud800b"}`), 400, "invalid", "value"},
			{"a lone surrogate after a U+FFFD", "PUT", secretPath("blog", "X"), acme, []byte(`{"value":"\ufffd\ud800"}`), 400, "invalid", "value"},
			{"another tenant's site", "PUT", secretPath("blog", "X"), other, map[string]any{"value": "x"}, 404, "not_found", ""},
			{"another tenant lists", "GET", "/api/v1/sites/blog/secrets", other, nil, 404, "not_found", ""},
			{"another tenant deletes", "DELETE", secretPath("blog", "API_KEY"), other, nil, 404, "not_found", ""},
			{"delete an absent secret", "DELETE", secretPath("blog", "NOPE"), acme, nil, 404, "not_found", ""},
			{"unknown site", "PUT", secretPath("nope", "X"), e.admin, map[string]any{"value": "x"}, 404, "not_found", ""},
			{"rekey by a tenant", "POST", "/api/v1/secrets/rekey", acme, nil, 403, "forbidden", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := do(tc.method, tc.path, tc.token, tc.body)
				wantErr(t, r, tc.status, tc.code)
				if tc.field != "" && r.errField("field") != tc.field {
					t.Errorf("field %v, want %s: %s", r.errField("field"), tc.field, r.raw)
				}
			})
		}
		if r := do("PUT", secretPath("blog", "X"), acme, map[string]any{"value": strings.Repeat("v", 5<<10+1)}); r.errField("limit") != float64(5<<10) {
			t.Errorf("value_too_large names no limit: %s", r.raw)
		}
		// U+FFFD itself, escaped or not, is text like any other.
		for _, body := range []string{`{"value":"a\ufffdb"}`, "{\"value\":\"a\uFFFDb\"}", "{\"value\":\"a\xef\xbf\xbdb\"}"} {
			if r := do("PUT", secretPath("blog", "REPLACEMENT"), acme, []byte(body)); r.status != 200 && r.status != 201 {
				t.Errorf("PUT %s: %d %s", body, r.status, r.raw)
			}
		}
		do("DELETE", secretPath("blog", "REPLACEMENT"), acme, nil)
	})
	t.Run("at most 100 per site", func(t *testing.T) {
		for i := 2; i < tenants.MaxSecretsPerSite; i++ {
			must(t, e.do(t, "PUT", secretPath("blog", fmt.Sprintf("S%d", i)), acme, map[string]any{"value": "v"}), 201)
		}
		r := do("PUT", secretPath("blog", "ONE_MORE"), acme, map[string]any{"value": "v"})
		wantErr(t, r, 403, "quota_exceeded")
		if r.errField("quota") != "secrets" || r.errField("limit") != float64(100) {
			t.Errorf("refusal %s", r.raw)
		}
		must(t, do("PUT", secretPath("blog", "API_KEY"), acme, map[string]any{"value": value}), 200)
	})
	t.Run("delete", func(t *testing.T) {
		n := len(e.acts.list())
		must(t, do("DELETE", secretPath("blog", "EMPTY"), acme, nil), 204)
		if acts := e.acts.list(); len(acts) != n+1 || acts[n].Name != "blog" {
			t.Errorf("after a delete, the site's change was not told: %v", acts[n:])
		}
		wantErr(t, do("DELETE", secretPath("blog", "EMPTY"), acme, nil), 404, "not_found")
	})
	t.Run("the value appears in no answer, log line or the database file", func(t *testing.T) {
		for _, a := range answers {
			if bytes.Contains(a, []byte(value)) || bytes.Contains(a, []byte("VALUE-MUST-NOT-LEAK")) {
				t.Errorf("an answer shows the value: %s", a)
			}
		}
		if strings.Contains(e.logBuf.String(), "VALUE-MUST-NOT-LEAK") {
			t.Error("the log shows the value")
		}
		for _, suffix := range []string{"", "-wal"} {
			b, err := os.ReadFile(e.dbPath + suffix)
			if err != nil && suffix == "" {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("VALUE-MUST-NOT-LEAK")) {
				t.Errorf("%s holds the plaintext", e.dbPath+suffix)
			}
		}
	})
}

func TestSecretsUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, acme := e.tenant(t, "acme")
	e.site(t, acme, "blog")
	wantErr(t, e.do(t, "PUT", secretPath("blog", "X"), acme, map[string]any{"value": "x"}), 503, "secrets_unavailable")
	wantErr(t, e.do(t, "GET", "/api/v1/sites/blog/secrets", acme, nil), 503, "secrets_unavailable")
	wantErr(t, e.do(t, "POST", "/api/v1/secrets/rekey", e.admin, nil), 503, "secrets_unavailable")
	// The site is checked first: another tenant learns nothing.
	_, other := e.tenant(t, "other")
	wantErr(t, e.do(t, "GET", "/api/v1/sites/blog/secrets", other, nil), 404, "not_found")
}

// TestSecretsRotation: a new primary key is added before the old one,
// rekey re-seals every secret under it, and the old key can then leave
// the ring with every value still readable.
func TestSecretsRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := secretbox.NewKey(), secretbox.NewKey()
	keys := newSwapKeys(t, oldKey)
	e := newEnv(t, withSecretKeys(keys))
	_, acme := e.tenant(t, "acme")
	want := map[string]string{}
	for _, site := range []string{"one", "two"} {
		e.site(t, acme, site)
		for i := range 3 {
			name := fmt.Sprintf("K%d", i)
			v := fmt.Sprintf("value of %s/%s", site, name)
			must(t, e.do(t, "PUT", secretPath(site, name), acme, map[string]any{"value": v}), 201)
			want[site+"/"+name] = v
		}
	}
	listed := times(must(t, e.do(t, "GET", "/api/v1/sites/one/secrets", acme, nil), 200))
	e.clock.Advance(time.Hour) // a rekey is not an update

	// A rekey with one key does nothing.
	r := must(t, e.do(t, "POST", "/api/v1/secrets/rekey", e.admin, nil), 200)
	if r.body["rekeyed"] != float64(0) || r.str("key_id") != secretbox.KeyID(oldKey) {
		t.Fatalf("rekey before rotation: %s", r.raw)
	}

	keys.set(t, newKey, oldKey) // the new key's line first, the old one below
	// Puts seal under the new key at once, and both are read.
	must(t, e.do(t, "PUT", secretPath("one", "FRESH"), acme, map[string]any{"value": "fresh"}), 201)
	want["one/FRESH"] = "fresh"
	e.checkSecrets(t, keys.get(), want, "")

	r = must(t, e.do(t, "POST", "/api/v1/secrets/rekey", e.admin, nil), 200)
	if r.body["rekeyed"] != float64(6) || r.str("key_id") != secretbox.KeyID(newKey) {
		t.Fatalf("rekey: %s", r.raw)
	}
	if r := must(t, e.do(t, "POST", "/api/v1/secrets/rekey", e.admin, nil), 200); r.body["rekeyed"] != float64(0) {
		t.Fatalf("a second rekey: %s", r.raw)
	}
	if got := times(must(t, e.do(t, "GET", "/api/v1/sites/one/secrets", acme, nil), 200)); got["K0"] != listed["K0"] || got["K2"] != listed["K2"] {
		t.Errorf("rekeying changed the listing's times: before %v, after %v", listed, got)
	}

	keys.set(t, newKey) // the old line removed
	e.checkSecrets(t, keys.get(), want, secretbox.KeyID(newKey))

	t.Run("a secret of a key no longer in the ring", func(t *testing.T) {
		stray := secretbox.NewKey()
		keys.set(t, stray)
		must(t, e.do(t, "PUT", secretPath("two", "STRAY"), acme, map[string]any{"value": "s"}), 201)
		keys.set(t, newKey)
		r := e.do(t, "POST", "/api/v1/secrets/rekey", e.admin, nil)
		wantErr(t, r, 409, "rekey_incomplete")
		if ids, _ := r.errField("unknown_key_ids").([]any); len(ids) != 1 || ids[0] != secretbox.KeyID(stray) || r.errField("failed") != float64(1) {
			t.Errorf("answer %s", r.raw)
		}
	})
}

// checkSecrets opens every stored secret with ring and compares it with
// want (site/name → value); keyID, when set, must have sealed each.
func (e *env) checkSecrets(t *testing.T, ring *secretbox.Keyring, want map[string]string, keyID string) {
	t.Helper()
	ctx := context.Background()
	ss := e.store.(tenants.SecretStore)
	got := map[string]string{}
	for _, name := range []string{"one", "two"} {
		site, err := e.store.Site(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		vals, err := ss.SecretValues(ctx, site.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if keyID != "" && (v.KeyID != keyID || secretbox.SealedKeyID(v.Ciphertext) != keyID) {
				t.Errorf("%s/%s sealed under %s, want %s", name, v.Name, v.KeyID, keyID)
			}
			pt, err := ring.Open(v.Ciphertext, site.ID, v.Name)
			if err != nil {
				t.Errorf("%s/%s: %v", name, v.Name, err)
			}
			got[name+"/"+v.Name] = string(pt)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("secrets %v, want %v", got, want)
	}
}

// times maps each listed secret's name to its created and updated times.
func times(r resp) map[string]string {
	out := map[string]string{}
	for _, x := range r.body["secrets"].([]any) {
		m := x.(map[string]any)
		out[m["name"].(string)] = fmt.Sprint(m["created_at"], " ", m["updated_at"])
	}
	return out
}
