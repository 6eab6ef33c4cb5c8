package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

// Conformance of tenants.SecretStore: sealed values stored as given,
// listings without them, the per-site limit, the rekey walk and its
// compare-and-swap, deletion with the site.

func (h *harness) secrets(t *testing.T) tenants.SecretStore {
	t.Helper()
	ss, ok := h.s.(tenants.SecretStore)
	if !ok {
		t.Fatalf("%T does not implement tenants.SecretStore", h.s)
	}
	return ss
}

func sealed(site, name, v string) []byte { return []byte("sealed:" + site + "/" + name + "=" + v) }

func (h *harness) putSecret(t *testing.T, ss tenants.SecretStore, site, name, v, key string, at time.Time) bool {
	t.Helper()
	created, err := ss.PutSecret(h.ctx, tenants.Secret{SiteID: site, Name: name, Ciphertext: sealed(site, name, v), KeyID: key, Updated: at}, tenants.MaxSecretsPerSite)
	mustNil(t, "PutSecret "+site+"/"+name, err)
	return created
}

func secretName(s tenants.Secret) string { return s.Name }

func testSecrets(t *testing.T, h *harness) {
	ss := h.secrets(t)
	h.tenant(t, "t1", "acme")
	h.site(t, "s1", "t1", "one")
	h.site(t, "s2", "t1", "two")

	if !h.putSecret(t, ss, "s1", "B_KEY", "b1", "k1", baseTime) {
		t.Error("first put of B_KEY: created = false")
	}
	h.putSecret(t, ss, "s1", "A_KEY", "a1", "k1", baseTime.Add(time.Second))
	h.putSecret(t, ss, "s2", "A_KEY", "other", "k1", baseTime)
	if h.putSecret(t, ss, "s1", "B_KEY", "b2", "k2", baseTime.Add(time.Minute)) {
		t.Error("second put of B_KEY: created = true")
	}

	t.Run("metadata listing", func(t *testing.T) {
		list, err := ss.Secrets(h.ctx, "s1")
		mustNil(t, "Secrets", err)
		if names := keys(list, secretName); !slices.Equal(names, []string{"A_KEY", "B_KEY"}) {
			t.Fatalf("Secrets(s1) = %v", names)
		}
		b := list[1]
		if b.Ciphertext != nil {
			t.Errorf("the listing carries a ciphertext: %q", b.Ciphertext)
		}
		if b.SiteID != "s1" || b.KeyID != "k2" || !b.Created.Equal(ms(baseTime)) || !b.Updated.Equal(ms(baseTime.Add(time.Minute))) {
			t.Errorf("B_KEY = %+v: want created at the first put, updated at the second", b)
		}
		if b.Created.Location() != time.UTC {
			t.Errorf("times in %v, want UTC", b.Created.Location())
		}
	})
	t.Run("values", func(t *testing.T) {
		list, err := ss.SecretValues(h.ctx, "s1")
		mustNil(t, "SecretValues", err)
		want := map[string]string{"A_KEY": "a1", "B_KEY": "b2"}
		if len(list) != 2 {
			t.Fatalf("SecretValues(s1) = %d secrets", len(list))
		}
		for _, s := range list {
			if !bytes.Equal(s.Ciphertext, sealed("s1", s.Name, want[s.Name])) {
				t.Errorf("%s = %q", s.Name, s.Ciphertext)
			}
		}
		none, err := ss.SecretValues(h.ctx, "s9")
		mustNil(t, "SecretValues(unknown site)", err)
		if none == nil || len(none) != 0 {
			t.Errorf("unknown site: %v, want an empty list", none)
		}
	})
	t.Run("errors", func(t *testing.T) {
		_, err := ss.PutSecret(h.ctx, tenants.Secret{SiteID: "s9", Name: "X", Ciphertext: []byte("c"), KeyID: "k1"}, 100)
		wantErr(t, "PutSecret(unknown site)", err, tenants.ErrNotFound)
		for _, bad := range []string{"", "1X", "A-B", "É"} {
			_, err := ss.PutSecret(h.ctx, tenants.Secret{SiteID: "s1", Name: bad, Ciphertext: []byte("c"), KeyID: "k1"}, 100)
			wantErr(t, fmt.Sprintf("PutSecret(name %q)", bad), err, tenants.ErrInvalid)
		}
		_, err = ss.PutSecret(h.ctx, tenants.Secret{SiteID: "s1", Name: "X"}, 100)
		wantErr(t, "PutSecret(no ciphertext)", err, tenants.ErrInvalid)
		wantErr(t, "DeleteSecret(absent)", ss.DeleteSecret(h.ctx, "s1", "NOPE"), tenants.ErrNotFound)
	})
	t.Run("delete", func(t *testing.T) {
		h.putSecret(t, ss, "s2", "GONE", "x", "k1", baseTime)
		mustNil(t, "DeleteSecret", ss.DeleteSecret(h.ctx, "s2", "GONE"))
		list, err := ss.Secrets(h.ctx, "s2")
		mustNil(t, "Secrets", err)
		if names := keys(list, secretName); !slices.Equal(names, []string{"A_KEY"}) {
			t.Errorf("after delete: %v", names)
		}
	})
	t.Run("deleted with the site", func(t *testing.T) {
		mustNil(t, "DeleteSite", h.s.DeleteSite(h.ctx, "s2"))
		h.site(t, "s2", "t1", "two")
		list, err := ss.SecretValues(h.ctx, "s2")
		mustNil(t, "SecretValues", err)
		if len(list) != 0 {
			t.Errorf("a site re-created under the same id sees %d old secrets", len(list))
		}
	})
}

func testSecretsLimit(t *testing.T, h *harness) {
	ss := h.secrets(t)
	h.tenant(t, "t1", "acme")
	h.site(t, "s1", "t1", "one")
	const limit = 5
	put := func(name string) error {
		_, err := ss.PutSecret(h.ctx, tenants.Secret{SiteID: "s1", Name: name, Ciphertext: []byte("c"), KeyID: "k"}, limit)
		return err
	}
	// Concurrent puts of new names: exactly limit succeed.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ok, too int
	)
	for i := range 2 * limit {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := put(fmt.Sprintf("S%d", i))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, tenants.ErrTooManySecrets):
				too++
			default:
				t.Errorf("PutSecret: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != limit || too != limit {
		t.Fatalf("%d puts succeeded and %d were refused, want %d and %d", ok, too, limit, limit)
	}
	list, err := ss.Secrets(h.ctx, "s1")
	mustNil(t, "Secrets", err)
	if len(list) != limit {
		t.Fatalf("%d secrets stored, want %d", len(list), limit)
	}
	// At the limit, an existing name may still be replaced.
	mustNil(t, "replacing at the limit", put(list[0].Name))
	wantErr(t, "a new name at the limit", put("NEW"), tenants.ErrTooManySecrets)
	mustNil(t, "DeleteSecret", ss.DeleteSecret(h.ctx, "s1", list[0].Name))
	mustNil(t, "a new name after a delete", put("NEW"))
}

func testSecretsRekey(t *testing.T, h *harness) {
	ss := h.secrets(t)
	h.tenant(t, "t1", "acme")
	h.site(t, "s1", "t1", "one")
	h.site(t, "s2", "t1", "two")
	for i := range 5 {
		h.putSecret(t, ss, "s1", fmt.Sprintf("N%d", i), "v", "old", baseTime)
		h.putSecret(t, ss, "s2", fmt.Sprintf("N%d", i), "v", "old", baseTime)
	}
	h.putSecret(t, ss, "s1", "FRESH", "v", "new", baseTime)

	// Walk two at a time, as rekeying does, replacing each.
	var seen []string
	afterSite, afterName := "", ""
	for {
		page, err := ss.SecretsToRekey(h.ctx, "new", afterSite, afterName, 2)
		mustNil(t, "SecretsToRekey", err)
		if len(page) == 0 {
			break
		}
		for _, s := range page {
			seen = append(seen, s.SiteID+"/"+s.Name)
			if s.KeyID != "old" || !bytes.Equal(s.Ciphertext, sealed(s.SiteID, s.Name, "v")) {
				t.Errorf("to rekey: %+v", s)
			}
			mustNil(t, "ReplaceSecret", ss.ReplaceSecret(h.ctx, s.SiteID, s.Name, s.Ciphertext, []byte("resealed"), "new"))
		}
		last := page[len(page)-1]
		afterSite, afterName = last.SiteID, last.Name
	}
	want := []string{"s1/N0", "s1/N1", "s1/N2", "s1/N3", "s1/N4", "s2/N0", "s2/N1", "s2/N2", "s2/N3", "s2/N4"}
	if !slices.Equal(seen, want) {
		t.Fatalf("walk = %v, want %v", seen, want)
	}
	left, err := ss.SecretsToRekey(h.ctx, "new", "", "", 100)
	mustNil(t, "SecretsToRekey", err)
	if len(left) != 0 {
		t.Errorf("%d secrets left to rekey", len(left))
	}
	list, err := ss.Secrets(h.ctx, "s1")
	mustNil(t, "Secrets", err)
	for _, s := range list {
		if s.KeyID != "new" || !s.Updated.Equal(ms(baseTime)) {
			t.Errorf("after rekey %+v: want key new and the update time kept", s)
		}
	}

	t.Run("compare and swap", func(t *testing.T) {
		h.putSecret(t, ss, "s1", "RACE", "v1", "old", baseTime)
		page, err := ss.SecretsToRekey(h.ctx, "new", "", "", 100)
		mustNil(t, "SecretsToRekey", err)
		if len(page) != 1 {
			t.Fatalf("to rekey: %d", len(page))
		}
		// A put lands between the read and the replace.
		h.putSecret(t, ss, "s1", "RACE", "v2", "old", baseTime)
		err = ss.ReplaceSecret(h.ctx, "s1", "RACE", page[0].Ciphertext, []byte("resealed v1"), "new")
		wantErr(t, "ReplaceSecret after a put", err, tenants.ErrConflict)
		vals, _ := ss.SecretValues(h.ctx, "s1")
		for _, v := range vals {
			if v.Name == "RACE" && !bytes.Equal(v.Ciphertext, sealed("s1", "RACE", "v2")) {
				t.Errorf("the put was overwritten: %q", v.Ciphertext)
			}
		}
		mustNil(t, "DeleteSecret", ss.DeleteSecret(h.ctx, "s1", "RACE"))
		err = ss.ReplaceSecret(h.ctx, "s1", "RACE", page[0].Ciphertext, []byte("x"), "new")
		wantErr(t, "ReplaceSecret of a deleted secret", err, tenants.ErrNotFound)
	})
}

// secretChangeSteps: a put or delete of a secret notifies its site's
// change (every node retires the site's workers); a rekey's replace and
// failed writes notify nothing.
func secretChangeSteps(t *testing.T, c *changeSteps) {
	h := c.h
	ss := h.secrets(t)
	site := tenants.Change{Kind: tenants.ChangeSite, Key: "blog"}
	h.putSecret(t, ss, "s1", "API_KEY", "v1", "k1", baseTime)
	c.step(t, "secret created", site)
	h.putSecret(t, ss, "s1", "API_KEY", "v2", "k1", baseTime)
	c.step(t, "secret replaced", site)
	mustNil(t, "ReplaceSecret", ss.ReplaceSecret(h.ctx, "s1", "API_KEY", sealed("s1", "API_KEY", "v2"), []byte("resealed"), "k2"))
	c.step(t, "secret rekeyed")
	mustNil(t, "DeleteSecret", ss.DeleteSecret(h.ctx, "s1", "API_KEY"))
	c.step(t, "secret deleted", site)
	wantErr(t, "DeleteSecret(absent)", ss.DeleteSecret(h.ctx, "s1", "API_KEY"), tenants.ErrNotFound)
	_, err := ss.PutSecret(h.ctx, tenants.Secret{SiteID: "s1", Name: "X", Ciphertext: []byte("c"), KeyID: "k"}, -1)
	mustNil(t, "PutSecret", err)
	_, err = ss.PutSecret(h.ctx, tenants.Secret{SiteID: "s1", Name: "Y", Ciphertext: []byte("c"), KeyID: "k"}, 1)
	wantErr(t, "PutSecret past the limit", err, tenants.ErrTooManySecrets)
	c.step(t, "a put and a refused put", site)
	mustNil(t, "DeleteSecret", ss.DeleteSecret(h.ctx, "s1", "X"))
	c.step(t, "cleanup", site)
}
