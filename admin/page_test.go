package admin_test

import (
	"fmt"
	"net/url"
	"slices"
	"testing"
)

// listAll walks a list endpoint page by page and returns the value of
// key of every row, checking page sizes and next_cursor on the way.
// between(i) runs after page i.
func (e *env) listAll(t *testing.T, token, path, field, key string, limit int, between func(i int)) []string {
	t.Helper()
	var out []string
	cursor := ""
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatalf("%s: walk does not end", path)
		}
		u, _ := url.Parse(path)
		q := u.Query()
		q.Set("limit", fmt.Sprint(limit))
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		u.RawQuery = q.Encode()
		r := must(t, e.do(t, "GET", u.String(), token, nil), 200)
		rows, ok := r.body[field].([]any)
		if !ok {
			t.Fatalf("%s: no %q list: %s", path, field, r.raw)
		}
		if len(rows) > limit {
			t.Fatalf("%s page %d: %d rows, limit %d", path, i, len(rows), limit)
		}
		for _, row := range rows {
			out = append(out, row.(map[string]any)[key].(string))
		}
		next, has := r.body["next_cursor"]
		if !has {
			return out
		}
		if cursor, ok = next.(string); !ok || cursor == "" {
			t.Fatalf("%s: next_cursor %v: present but not a non-empty string", path, next)
		}
		if between != nil {
			between(i)
		}
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acme, acmeTok := e.tenant(t, "acme")
	e.tenant(t, "globex")
	must(t, e.do(t, "PATCH", "/api/v1/tenants/acme", e.admin, map[string]any{"tags": []string{"env:prod"}}), 200)
	for _, n := range []string{"e", "a", "d", "c", "b"} {
		e.site(t, acmeTok, "site-"+n)
	}
	salt := e.site(t, acmeTok, "www")
	var deployments []string
	for i := range 5 {
		r := e.publish(t, acmeTok, "www", salt, files{"/index.html": fmt.Sprint("v", i)}, nil)
		deployments = append([]string{r.str("id")}, deployments...) // newest first
	}
	for _, h := range []string{"c.example.com", "a.example.com", "b.example.com"} {
		must(t, e.do(t, "POST", "/api/v1/sites/www/domains", acmeTok, map[string]any{"hostname": h}), 201)
	}
	for i := range 3 {
		must(t, e.do(t, "POST", "/api/v1/tenants/acme/tokens", e.admin, map[string]any{"name": fmt.Sprint("t", i)}), 201)
	}

	tests := []struct {
		name, token, path, field, key string
		want                          []string
	}{
		{"tenants", e.admin, "/api/v1/tenants", "tenants", "name", []string{"acme", "globex"}},
		{"tenants by tag", e.admin, "/api/v1/tenants?tag=env:prod", "tenants", "name", []string{"acme"}},
		{"tenant sees itself", acmeTok, "/api/v1/tenants", "tenants", "name", []string{"acme"}},
		{"sites", e.admin, "/api/v1/sites", "sites", "name", []string{"site-a", "site-b", "site-c", "site-d", "site-e", "www"}},
		{"sites of a tenant", e.admin, "/api/v1/sites?tenant=globex", "sites", "name", nil},
		{"sites as the tenant", acmeTok, "/api/v1/sites", "sites", "name", []string{"site-a", "site-b", "site-c", "site-d", "site-e", "www"}},
		{"deployments", acmeTok, "/api/v1/sites/www/deployments", "deployments", "id", deployments},
		{"domains", acmeTok, "/api/v1/sites/www/domains", "domains", "hostname", []string{"a.example.com", "b.example.com", "c.example.com"}},
		{"tenant tokens", acmeTok, "/api/v1/tenants/" + acme + "/tokens", "tokens", "name", []string{"ci", "t0", "t1", "t2"}},
		{"admin tokens", e.admin, "/api/v1/tokens", "tokens", "name", []string{"bootstrap"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int{1, 2, 1000} {
				got := e.listAll(t, tc.token, tc.path, tc.field, tc.key, limit, nil)
				if !slices.Equal(got, tc.want) {
					t.Errorf("limit %d: %v, want %v", limit, got, tc.want)
				}
			}
		})
	}

	t.Run("no limit is one page of up to 100 without next_cursor", func(t *testing.T) {
		r := must(t, e.do(t, "GET", "/api/v1/sites", e.admin, nil), 200)
		if len(r.body["sites"].([]any)) != 6 {
			t.Errorf("sites %s", r.raw)
		}
		if _, has := r.body["next_cursor"]; has {
			t.Errorf("last page carries next_cursor: %s", r.raw)
		}
	})

	t.Run("stable while sites are added between pages", func(t *testing.T) {
		got := e.listAll(t, e.admin, "/api/v1/sites?tenant=acme", "sites", "name", 2, func(i int) {
			if i == 0 { // after site-a, site-b
				e.site(t, acmeTok, "site-aa")
				e.site(t, acmeTok, "site-bb")
			}
		})
		want := []string{"site-a", "site-b", "site-bb", "site-c", "site-d", "site-e", "www"}
		if !slices.Equal(got, want) {
			t.Errorf("%v, want %v", got, want)
		}
	})

	for _, tc := range []struct{ name, query string }{
		{"zero", "limit=0"},
		{"negative", "limit=-1"},
		{"over the maximum", "limit=1001"},
		{"not a number", "limit=ten"},
		{"empty", "limit="},
	} {
		t.Run("limit "+tc.name+" is refused", func(t *testing.T) {
			for _, p := range []string{"/api/v1/tenants", "/api/v1/sites", "/api/v1/sites/www/deployments", "/api/v1/sites/www/domains", "/api/v1/tokens", "/api/v1/tenants/acme/tokens"} {
				r := e.do(t, "GET", p+"?"+tc.query, e.admin, nil)
				wantErr(t, r, 400, "invalid")
				if r.errField("field") != "limit" || r.errField("limit") != 1000.0 {
					t.Errorf("%s: error %s, want field limit and limit 1000", p, r.raw)
				}
			}
		})
	}

	r := must(t, e.do(t, "GET", "/api/v1/sites?limit=1", e.admin, nil), 200)
	siteCursor := r.str("next_cursor")
	if siteCursor == "" {
		t.Fatalf("no next_cursor: %s", r.raw)
	}
	for _, tc := range []struct{ name, token, path, cursor string }{
		{"garbage", e.admin, "/api/v1/sites", "garbage!"},
		{"tampered", e.admin, "/api/v1/sites", tamper(siteCursor)},
		{"of another listing", e.admin, "/api/v1/tenants", siteCursor},
		{"of another listing, as a tenant", acmeTok, "/api/v1/tenants", siteCursor},
		{"deployments", acmeTok, "/api/v1/sites/www/deployments", siteCursor},
		{"domains", acmeTok, "/api/v1/sites/www/domains", siteCursor},
		{"tokens", e.admin, "/api/v1/tokens", siteCursor},
	} {
		t.Run("cursor "+tc.name+" is refused", func(t *testing.T) {
			r := e.do(t, "GET", tc.path+"?cursor="+url.QueryEscape(tc.cursor), tc.token, nil)
			wantErr(t, r, 400, "invalid")
			if r.errField("field") != "cursor" {
				t.Errorf("error %s, want field cursor", r.raw)
			}
		})
	}
}

// tamper changes one character in the middle of s.
func tamper(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
