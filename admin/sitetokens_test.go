package admin_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/secretbox"
)

// siteTokenWorld is tenant acme with sites own and sibling, tenant other
// with site foreign, and a site token of own created by acme.
type siteTokenWorld struct {
	e                *env
	acmeID, acmeTok  string
	otherTok         string
	siteTok, tokenID string
	salt             []byte
}

func newSiteTokenWorld(t *testing.T) *siteTokenWorld {
	t.Helper()
	e := newEnv(t, withConfig(func(c *admin.Config) { c.Verifier = newFakeChecker() }), withSecretKeys(newSwapKeys(t, secretbox.NewKey())))
	w := &siteTokenWorld{e: e}
	w.acmeID, w.acmeTok = e.tenant(t, "acme")
	_, w.otherTok = e.tenant(t, "other")
	w.salt = e.site(t, w.acmeTok, "own")
	e.site(t, w.acmeTok, "sibling")
	e.site(t, w.otherTok, "foreign")
	r := must(t, e.do(t, "POST", "/api/v1/sites/own/tokens", w.acmeTok, map[string]any{"name": "ci deploy"}), 201)
	w.siteTok, w.tokenID = r.str("token"), r.str("id")
	return w
}

func TestSiteTokenCreate(t *testing.T) {
	t.Parallel()
	w := newSiteTokenWorld(t)
	e := w.e
	ownID := must(t, e.do(t, "GET", "/api/v1/sites/own", w.acmeTok, nil), 200).str("id")

	t.Run("answer shows the secret once", func(t *testing.T) {
		r := must(t, e.do(t, "POST", "/api/v1/sites/own/tokens", w.acmeTok, map[string]any{"name": "second"}), 201)
		want := map[string]string{"name": "second", "site": "own", "site_id": ownID, "tenant_id": w.acmeID}
		for k, v := range want {
			if r.str(k) != v {
				t.Errorf("%s = %q, want %q (%s)", k, r.str(k), v, r.raw)
			}
		}
		if !strings.HasPrefix(r.str("token"), admin.TokenPrefix) || !strings.HasPrefix(r.str("id"), "tok_") || r.str("created_at") == "" {
			t.Errorf("answer %s", r.raw)
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		stored, err := e.store.TokenByHash(context.Background(), admin.HashToken(r.str("token")))
		if err != nil || stored.SiteID != ownID || stored.TenantID != w.acmeID {
			t.Fatalf("stored %+v, %v", stored, err)
		}
	})
	t.Run("site listing", func(t *testing.T) {
		r := must(t, e.do(t, "GET", "/api/v1/sites/own/tokens", w.acmeTok, nil), 200)
		list := r.body["tokens"].([]any)
		if len(list) != 2 {
			t.Fatalf("%d tokens, want 2: %s", len(list), r.raw)
		}
		first := list[0].(map[string]any)
		if first["id"] != w.tokenID || first["name"] != "ci deploy" || first["site"] != "own" || first["site_id"] != ownID {
			t.Errorf("first token %v", first)
		}
		if strings.Contains(string(r.raw), `"token"`) || strings.Contains(string(r.raw), admin.TokenPrefix) {
			t.Errorf("listing shows a secret: %s", r.raw)
		}
		must(t, e.do(t, "GET", "/api/v1/sites/sibling/tokens", w.acmeTok, nil), 200)
	})
	t.Run("paginated", func(t *testing.T) {
		p1 := must(t, e.do(t, "GET", "/api/v1/sites/own/tokens?limit=1", w.acmeTok, nil), 200)
		next := p1.str("next_cursor")
		if len(p1.body["tokens"].([]any)) != 1 || next == "" {
			t.Fatalf("page 1: %s", p1.raw)
		}
		p2 := must(t, e.do(t, "GET", "/api/v1/sites/own/tokens?limit=1&cursor="+next, w.acmeTok, nil), 200)
		if l := p2.body["tokens"].([]any); len(l) != 1 || l[0].(map[string]any)["name"] != "second" || p2.str("next_cursor") != "" {
			t.Fatalf("page 2: %s", p2.raw)
		}
		wantErr(t, e.do(t, "GET", "/api/v1/sites/own/tokens?cursor=garbage", w.acmeTok, nil), 400, "invalid")
	})
	t.Run("tenant listing includes site tokens", func(t *testing.T) {
		r := must(t, e.do(t, "GET", "/api/v1/tenants/acme/tokens", w.acmeTok, nil), 200)
		var siteTokens int
		for _, x := range r.body["tokens"].([]any) {
			if x.(map[string]any)["site_id"] == ownID {
				siteTokens++
			}
		}
		if siteTokens != 2 {
			t.Errorf("tenant listing shows %d site tokens, want 2: %s", siteTokens, r.raw)
		}
	})
	t.Run("admin creates one for any site", func(t *testing.T) {
		r := must(t, e.do(t, "POST", "/api/v1/sites/foreign/tokens", e.admin, map[string]any{"name": "ops"}), 201)
		if r.str("site") != "foreign" || r.str("tenant_id") == w.acmeID || r.str("tenant_id") == "" {
			t.Errorf("admin-made site token %s", r.raw)
		}
		must(t, e.do(t, "GET", "/api/v1/sites/foreign", r.str("token"), nil), 200)
		wantErr(t, e.do(t, "GET", "/api/v1/sites/own", r.str("token"), nil), 404, "not_found")
	})
	t.Run("errors", func(t *testing.T) {
		r := e.do(t, "POST", "/api/v1/sites/own/tokens", w.acmeTok, map[string]any{"name": ""})
		wantErr(t, r, 400, "invalid")
		if r.errField("field") != "name" {
			t.Errorf("field %v", r.errField("field"))
		}
		wantErr(t, e.do(t, "POST", "/api/v1/sites/own/tokens", w.otherTok, map[string]any{"name": "x"}), 404, "not_found")
		wantErr(t, e.do(t, "GET", "/api/v1/sites/own/tokens", w.otherTok, nil), 404, "not_found")
		wantErr(t, e.do(t, "POST", "/api/v1/sites/nope/tokens", e.admin, map[string]any{"name": "x"}), 404, "not_found")
	})
}

// TestSiteTokenScope sends every route of the router with a site token
// and checks its answer: its own site works, any other site is not found,
// acting on the tenant as a whole is 403. Every route must be covered, so
// a new route has to be classified here.
func TestSiteTokenScope(t *testing.T) {
	t.Parallel()
	w := newSiteTokenWorld(t)
	e := w.e
	tok := w.siteTok
	ctx := context.Background()

	// Fixtures the site token could touch: a deployment and a claim on
	// each acme site, an upload session on each.
	dep := must(t, e.publish(t, tok, "own", w.salt, files{"/index.html": "own"}, nil), 201).str("id")
	sibDep := must(t, e.publish(t, w.acmeTok, "sibling", w.salt, files{"/index.html": "sib"}, nil), 201).str("id")
	must(t, e.do(t, "POST", "/api/v1/sites/sibling/domains", w.acmeTok, map[string]any{"hostname": "www.sibling.example"}), 201)
	must(t, e.do(t, "PUT", "/api/v1/sites/sibling/secrets/API_KEY", w.acmeTok, map[string]any{"value": "sibling's"}), 201)
	fs := files{"/a.txt": "pending"}
	hash := assets.Hash(w.salt, []byte("pending"))
	sibUp, _ := e.startUpload(t, w.acmeTok, "sibling", w.salt, fs)

	type row struct {
		route        string // the router's pattern (for the coverage check)
		method, path string
		body         any
		status       int
		code         string // error code when status >= 400
	}
	forbidden := func(route, method, path string, body any) row {
		return row{route, method, path, body, 403, "site_token_forbidden"}
	}
	adminOnly := func(route, method, path string, body any) row {
		return row{route, method, path, body, 403, "forbidden"}
	}
	notFound := func(route, method, path string, body any) row {
		return row{route, method, path, body, 404, "not_found"}
	}
	const (
		site  = "/api/v1/sites/{site}"
		dom   = site + "/domains/{host}"
		deps  = site + "/deployments"
		onDep = deps + "/{deployment}"
	)
	var ownUp string // set by the upload row
	rows := []row{
		{"/healthz", "GET", "/healthz", nil, 200, ""},
		{"/api/v1/openapi.json", "GET", "/api/v1/openapi.json", nil, 200, ""},
		{"/api/v1/session", "GET", "/api/v1/session", nil, 200, ""},
		// POST and DELETE /api/v1/session: TestSiteTokenConsoleSession.

		// The tenant as a whole.
		adminOnly("/api/v1/tenants", "POST", "/api/v1/tenants", map[string]any{"name": "x"}),
		forbidden("/api/v1/tenants", "GET", "/api/v1/tenants", nil),
		forbidden("/api/v1/tenants/{tenant}", "GET", "/api/v1/tenants/acme", nil),
		forbidden("/api/v1/tenants/{tenant}", "GET", "/api/v1/tenants/other", nil),
		adminOnly("/api/v1/tenants/bulk", "POST", "/api/v1/tenants/bulk", map[string]any{"tag": "a:b", "disabled": true}),
		adminOnly("/api/v1/attention", "GET", "/api/v1/attention", nil),
		adminOnly("/api/v1/gc", "POST", "/api/v1/gc", map[string]any{"dry_run": true}),
		adminOnly("/api/v1/secrets/rekey", "POST", "/api/v1/secrets/rekey", nil),
		adminOnly("/api/v1/tenants/{tenant}", "PATCH", "/api/v1/tenants/acme", map[string]any{"plan": "pro"}),
		adminOnly("/api/v1/tenants/{tenant}", "DELETE", "/api/v1/tenants/acme", nil),
		forbidden("/api/v1/tenants/{tenant}/tokens", "POST", "/api/v1/tenants/acme/tokens", map[string]any{"name": "x"}),
		forbidden("/api/v1/tenants/{tenant}/tokens", "GET", "/api/v1/tenants/acme/tokens", nil),
		forbidden("/api/v1/tenants/{tenant}/usage", "GET", "/api/v1/tenants/acme/usage", nil),
		forbidden("/api/v1/tenants/{tenant}/kv", "POST", "/api/v1/tenants/acme/kv", map[string]any{"name": "data"}),
		forbidden("/api/v1/tenants/{tenant}/kv", "GET", "/api/v1/tenants/acme/kv", nil),
		forbidden("/api/v1/tenants/{tenant}/kv/{ns}", "GET", "/api/v1/tenants/acme/kv/data", nil),
		forbidden("/api/v1/tenants/{tenant}/kv/{ns}", "DELETE", "/api/v1/tenants/acme/kv/data", nil),
		forbidden("/api/v1/kv/{ns}/keys", "GET", "/api/v1/kv/data/keys", nil),
		forbidden("/api/v1/kv/{ns}/keys/{key}", "GET", "/api/v1/kv/data/keys/k", nil),
		forbidden("/api/v1/kv/{ns}/keys/{key}", "HEAD", "/api/v1/kv/data/keys/k", nil),
		forbidden("/api/v1/kv/{ns}/keys/{key}", "PUT", "/api/v1/kv/data/keys/k", []byte("v")),
		forbidden("/api/v1/kv/{ns}/keys/{key}", "DELETE", "/api/v1/kv/data/keys/k", nil),
		forbidden("/api/v1/kv/{ns}/bulk", "POST", "/api/v1/kv/data/bulk", []any{}),
		adminOnly("/api/v1/tokens", "POST", "/api/v1/tokens", map[string]any{"name": "x"}),
		adminOnly("/api/v1/tokens", "GET", "/api/v1/tokens", nil),
		forbidden("/api/v1/tokens/{token}", "DELETE", "/api/v1/tokens/"+w.tokenID, nil),
		forbidden("/api/v1/sites", "POST", "/api/v1/sites", map[string]any{"name": "more"}),
		forbidden("/api/v1/sites", "GET", "/api/v1/sites?tenant=acme", nil),
		forbidden(site, "DELETE", "/api/v1/sites/own", nil),
		forbidden(site, "DELETE", "/api/v1/sites/sibling", nil),
		// A site token mints no tokens, not even for its own site.
		forbidden(site+"/tokens", "POST", "/api/v1/sites/own/tokens", map[string]any{"name": "x"}),
		forbidden(site+"/tokens", "GET", "/api/v1/sites/own/tokens", nil),

		// Its own site.
		{"/api/v1/sites", "GET", "/api/v1/sites", nil, 200, ""},
		{site, "GET", "/api/v1/sites/own", nil, 200, ""},
		{site, "PATCH", "/api/v1/sites/own", map[string]any{"production_branch": "release"}, 200, ""},
		{site + "/git", "GET", "/api/v1/sites/own/git", nil, 200, ""},
		{site + "/logs", "GET", "/api/v1/sites/own/logs", nil, 503, "logs_unavailable"},
		{site + "/usage", "GET", "/api/v1/sites/own/usage", nil, 200, ""},
		{site + "/secrets/{name}", "PUT", "/api/v1/sites/own/secrets/API_KEY", map[string]any{"value": "v"}, 201, ""},
		{site + "/secrets", "GET", "/api/v1/sites/own/secrets", nil, 200, ""},
		{site + "/secrets/{name}", "DELETE", "/api/v1/sites/own/secrets/API_KEY", nil, 204, ""},
		{site + "/domains", "POST", "/api/v1/sites/own/domains", map[string]any{"hostname": "www.own.example"}, 201, ""},
		{site + "/domains", "GET", "/api/v1/sites/own/domains", nil, 200, ""},
		{dom, "GET", "/api/v1/sites/own/domains/www.own.example", nil, 200, ""},
		{dom + "/verify", "POST", "/api/v1/sites/own/domains/www.own.example/verify", nil, 200, ""},
		adminOnly(dom+"/block", "POST", "/api/v1/sites/own/domains/www.own.example/block", nil),
		adminOnly(dom+"/unblock", "POST", "/api/v1/sites/own/domains/www.own.example/unblock", nil),
		{dom, "DELETE", "/api/v1/sites/own/domains/www.own.example", nil, 204, ""},
		{site + "/uploads", "POST", "/api/v1/sites/own/uploads", manifestOf(w.salt, fs), 201, ""},
		{"/api/v1/uploads/{upload}/blobs/{hash}", "PUT", "own upload", []byte("pending"), 204, ""},
		{deps, "POST", "/api/v1/sites/own/deployments", "own upload", 201, ""},
		{deps, "GET", "/api/v1/sites/own/deployments", nil, 200, ""},
		{onDep, "GET", "/api/v1/sites/own/deployments/" + dep, nil, 200, ""},
		{onDep + "/activate", "POST", "/api/v1/sites/own/deployments/" + dep + "/activate", nil, 200, ""},

		// Its tenant's other site, as another tenant's.
		notFound(site, "GET", "/api/v1/sites/sibling", nil),
		notFound(site, "GET", "/api/v1/sites/foreign", nil),
		notFound(site, "PATCH", "/api/v1/sites/sibling", map[string]any{"production_branch": "release"}),
		notFound(site+"/git", "GET", "/api/v1/sites/sibling/git", nil),
		notFound(site+"/git", "GET", "/api/v1/sites/foreign/git", nil),
		notFound(site+"/logs", "GET", "/api/v1/sites/sibling/logs", nil),
		notFound(site+"/usage", "GET", "/api/v1/sites/sibling/usage", nil),
		notFound(site+"/secrets/{name}", "PUT", "/api/v1/sites/sibling/secrets/API_KEY", map[string]any{"value": "v"}),
		notFound(site+"/secrets", "GET", "/api/v1/sites/sibling/secrets", nil),
		notFound(site+"/secrets", "GET", "/api/v1/sites/foreign/secrets", nil),
		notFound(site+"/secrets/{name}", "DELETE", "/api/v1/sites/sibling/secrets/API_KEY", nil),
		notFound(site+"/domains", "POST", "/api/v1/sites/sibling/domains", map[string]any{"hostname": "x.sibling.example"}),
		notFound(site+"/domains", "GET", "/api/v1/sites/sibling/domains", nil),
		notFound(dom, "GET", "/api/v1/sites/sibling/domains/www.sibling.example", nil),
		notFound(dom+"/verify", "POST", "/api/v1/sites/sibling/domains/www.sibling.example/verify", nil),
		notFound(dom, "DELETE", "/api/v1/sites/sibling/domains/www.sibling.example", nil),
		notFound(site+"/uploads", "POST", "/api/v1/sites/sibling/uploads", manifestOf(w.salt, fs)),
		notFound("/api/v1/uploads/{upload}/blobs/{hash}", "PUT", "/api/v1/uploads/"+sibUp+"/blobs/"+hash, []byte("pending")),
		notFound(deps, "POST", "/api/v1/sites/sibling/deployments", map[string]any{"upload": sibUp}),
		notFound(deps, "GET", "/api/v1/sites/sibling/deployments", nil),
		notFound(deps, "GET", "/api/v1/sites/foreign/deployments", nil),
		notFound(onDep, "GET", "/api/v1/sites/sibling/deployments/"+sibDep, nil),
		notFound(onDep+"/activate", "POST", "/api/v1/sites/sibling/deployments/"+sibDep+"/activate", nil),
	}

	covered := map[string]bool{}
	for _, rw := range rows {
		covered[rw.method+" "+rw.route] = true
		covered["POST /api/v1/session"], covered["DELETE /api/v1/session"] = true, true
		path, body := rw.path, rw.body
		if path == "own upload" {
			path = "/api/v1/uploads/" + ownUp + "/blobs/" + hash
		}
		if body == "own upload" {
			body = map[string]any{"upload": ownUp}
		}
		t.Run(rw.method+" "+path, func(t *testing.T) {
			r := e.do(t, rw.method, path, tok, body)
			if rw.status >= 400 && rw.method == "HEAD" { // no body to name the code
				must(t, r, rw.status)
			} else if rw.status >= 400 {
				wantErr(t, r, rw.status, rw.code)
			} else {
				must(t, r, rw.status)
			}
			if rw.route == site+"/uploads" && r.status == 201 {
				ownUp = r.str("id")
			}
		})
	}

	t.Run("every route is covered", func(t *testing.T) {
		err := chi.Walk(e.api.Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
			if key := method + " " + strings.TrimSuffix(route, "/"); !covered[key] {
				t.Errorf("route %s has no row", key)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("nothing else changed", func(t *testing.T) {
		sites, err := e.store.Sites(ctx, w.acmeID)
		if err != nil || len(sites) != 2 {
			t.Fatalf("acme's sites %v, %v", sites, err)
		}
		if sib, err := e.store.Site(ctx, "sibling"); err != nil || sib.ProductionBranch != "main" {
			t.Errorf("sibling's production branch %q, %v; want main", sib.ProductionBranch, err)
		}
		if got := e.activeDeployment(t, w.acmeTok, "sibling"); got != sibDep {
			t.Errorf("sibling's live deployment %s, want %s", got, sibDep)
		}
		must(t, e.do(t, "GET", "/api/v1/sites/sibling/domains/www.sibling.example", w.acmeTok, nil), 200)
		if r := must(t, e.do(t, "GET", "/api/v1/sites/sibling/secrets", w.acmeTok, nil), 200); len(r.body["secrets"].([]any)) != 1 {
			t.Errorf("sibling's secrets: %s", r.raw)
		}
		if _, err := e.store.TokenByHash(ctx, admin.HashToken(tok)); err != nil {
			t.Errorf("site token gone: %v", err)
		}
	})
}

func TestSiteTokenListsOnlyItsSite(t *testing.T) {
	t.Parallel()
	w := newSiteTokenWorld(t)
	e := w.e
	names := func(r resp) []string {
		var out []string
		for _, s := range r.body["sites"].([]any) {
			out = append(out, s.(map[string]any)["name"].(string))
		}
		return out
	}
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"all", "", []string{"own"}},
		{"matching search", "?q=OW", []string{"own"}},
		{"search matching a sibling", "?q=sib", nil},
		{"limit 1", "?limit=1", []string{"own"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := must(t, e.do(t, "GET", "/api/v1/sites"+tc.query, w.siteTok, nil), 200)
			if got := names(r); !slices.Equal(got, tc.want) {
				t.Errorf("sites %v, want %v", got, tc.want)
			}
			if r.str("next_cursor") != "" {
				t.Errorf("next_cursor %q", r.str("next_cursor"))
			}
		})
	}
	t.Run("carries the salt", func(t *testing.T) {
		r := must(t, e.do(t, "GET", "/api/v1/sites", w.siteTok, nil), 200)
		s := r.body["sites"].([]any)[0].(map[string]any)
		if got := mustHex(t, s["hash_salt"].(string)); !slices.Equal(got, w.salt) {
			t.Errorf("hash_salt %x, want %x", got, w.salt)
		}
	})
	t.Run("a cursor of the tenant's listing", func(t *testing.T) {
		p := must(t, e.do(t, "GET", "/api/v1/sites?limit=1", w.acmeTok, nil), 200)
		r := must(t, e.do(t, "GET", "/api/v1/sites?cursor="+p.str("next_cursor"), w.siteTok, nil), 200)
		if got := names(r); len(got) != 0 {
			t.Errorf("second page %v, want none", got)
		}
		wantErr(t, e.do(t, "GET", "/api/v1/sites?cursor=garbage", w.siteTok, nil), 400, "invalid")
		wantErr(t, e.do(t, "GET", "/api/v1/sites?q=a_b", w.siteTok, nil), 400, "invalid")
	})
}

func TestSiteTokenRevocation(t *testing.T) {
	t.Parallel()
	w := newSiteTokenWorld(t)
	e := w.e
	t.Run("another tenant cannot revoke it", func(t *testing.T) {
		wantErr(t, e.do(t, "DELETE", "/api/v1/tokens/"+w.tokenID, w.otherTok, nil), 404, "not_found")
		must(t, e.do(t, "GET", "/api/v1/sites/own", w.siteTok, nil), 200)
	})
	t.Run("its tenant revokes it", func(t *testing.T) {
		must(t, e.do(t, "DELETE", "/api/v1/tokens/"+w.tokenID, w.acmeTok, nil), 204)
		wantErr(t, e.do(t, "GET", "/api/v1/sites/own", w.siteTok, nil), 401, "unauthorized")
		l := must(t, e.do(t, "GET", "/api/v1/sites/own/tokens", w.acmeTok, nil), 200)
		if n := len(l.body["tokens"].([]any)); n != 0 {
			t.Errorf("%d tokens left: %s", n, l.raw)
		}
	})
	t.Run("deleting the site revokes its tokens", func(t *testing.T) {
		r := must(t, e.do(t, "POST", "/api/v1/sites/sibling/tokens", w.acmeTok, map[string]any{"name": "x"}), 201)
		c := e.login(t, r.str("token"))
		must(t, e.cookieDo(t, "GET", "/api/v1/session", c, nil, nil), 200)
		must(t, e.do(t, "DELETE", "/api/v1/sites/sibling", w.acmeTok, nil), 204)
		wantErr(t, e.do(t, "GET", "/api/v1/sites", r.str("token"), nil), 401, "unauthorized")
		if r := e.cookieDo(t, "GET", "/api/v1/session", c, nil, nil); r.status != 401 {
			t.Errorf("console session of a deleted site's token: %d %s", r.status, r.raw)
		}
		must(t, e.do(t, "GET", "/api/v1/sites", w.acmeTok, nil), 200)
	})
}

func TestSiteTokenConsoleSession(t *testing.T) {
	t.Parallel()
	w := newSiteTokenWorld(t)
	e := w.e
	r := must(t, e.cookieDo(t, "POST", "/api/v1/session", nil, map[string]string{"token": w.siteTok}, e.csrf()), 201)
	c := sessionCookie(r)
	for _, r := range []resp{r, must(t, e.cookieDo(t, "GET", "/api/v1/session", c, nil, nil), 200)} {
		site, _ := r.body["site"].(map[string]any)
		tenant, _ := r.body["tenant"].(map[string]any)
		if r.str("kind") != "tenant" || r.str("token_id") != w.tokenID || site["name"] != "own" || site["id"] == "" || tenant["name"] != "acme" {
			t.Errorf("session %s", r.raw)
		}
	}
	t.Run("tenant sessions carry no site", func(t *testing.T) {
		r := must(t, e.cookieDo(t, "POST", "/api/v1/session", nil, map[string]string{"token": w.acmeTok}, e.csrf()), 201)
		if _, ok := r.body["site"]; ok {
			t.Errorf("tenant session %s", r.raw)
		}
	})
	t.Run("the cookie is scoped as the token", func(t *testing.T) {
		must(t, e.cookieDo(t, "GET", "/api/v1/sites/own", c, nil, nil), 200)
		wantErr(t, e.cookieDo(t, "GET", "/api/v1/sites/sibling", c, nil, nil), 404, "not_found")
		wantErr(t, e.cookieDo(t, "POST", "/api/v1/sites/own/tokens", c, map[string]any{"name": "x"}, e.csrf()), 403, "site_token_forbidden")
		wantErr(t, e.cookieDo(t, "DELETE", "/api/v1/sites/own", c, nil, e.csrf()), 403, "site_token_forbidden")
	})
	t.Run("sign out", func(t *testing.T) {
		must(t, e.cookieDo(t, "DELETE", "/api/v1/session", c, nil, e.csrf()), 204)
		wantErr(t, e.cookieDo(t, "GET", "/api/v1/session", c, nil, nil), 401, "unauthorized")
	})
}
