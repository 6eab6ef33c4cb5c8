package admin_test

import (
	"slices"
	"testing"
)

// TestBulkTenants: every tenant with a tag changes in one request; a
// tenant already in the asked state is matched but not changed; bad
// requests change nothing and name the field; only an admin may.
func TestBulkTenants(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for name, tags := range map[string][]string{"acme": {"env:dev"}, "beta": {"env:dev"}, "gamma": {"env:prod"}} {
		must(t, e.do(t, "POST", "/api/v1/tenants", e.admin, map[string]any{"name": name, "tags": tags}), 201)
	}
	tok := must(t, e.do(t, "POST", "/api/v1/tenants/acme/tokens", e.admin, map[string]any{"name": "ci"}), 201).str("token")
	e.site(t, tok, "acme-www")
	plans := func() map[string]string {
		r := must(t, e.do(t, "GET", "/api/v1/tenants", e.admin, nil), 200)
		out := map[string]string{}
		for _, x := range r.body["tenants"].([]any) {
			m := x.(map[string]any)
			out[m["name"].(string)] = m["plan"].(string)
			if m["disabled"] == true {
				out[m["name"].(string)] += ",disabled"
			}
		}
		return out
	}
	changedNames := func(r resp) []string {
		var names []string
		for _, x := range r.body["changed"].([]any) {
			names = append(names, x.(map[string]any)["name"].(string))
		}
		slices.Sort(names)
		return names
	}

	r := must(t, e.do(t, "POST", "/api/v1/tenants/bulk", e.admin, map[string]any{"tag": "env:dev", "plan": "pro"}), 200)
	if r.body["matched"] != 2.0 || !slices.Equal(changedNames(r), []string{"acme", "beta"}) {
		t.Fatalf("bulk plan change: %s", r.raw)
	}
	if got := plans(); got["acme"] != "pro" || got["beta"] != "pro" || got["gamma"] != "free" {
		t.Fatalf("plans after the bulk change: %v", got)
	}

	// Disabling reaches the edge for every site of every tenant changed.
	before := len(e.acts.list())
	r = must(t, e.do(t, "POST", "/api/v1/tenants/bulk", e.admin, map[string]any{"tag": "env:dev", "plan": "pro", "disabled": true}), 200)
	if !slices.Equal(changedNames(r), []string{"acme", "beta"}) {
		t.Fatalf("bulk disable: %s", r.raw)
	}
	if acts := e.acts.list(); len(acts) != before+1 || acts[len(acts)-1].Name != "acme-www" {
		t.Errorf("sites invalidated: %v", acts[before:])
	}
	wantErr(t, e.do(t, "POST", "/api/v1/sites", tok, map[string]any{"name": "more"}), 403, "tenant_disabled")

	r = must(t, e.do(t, "POST", "/api/v1/tenants/bulk", e.admin, map[string]any{"tag": "env:dev", "plan": "pro"}), 200)
	if r.body["matched"] != 2.0 || len(r.body["changed"].([]any)) != 0 {
		t.Errorf("a change to the state they are in: %s", r.raw)
	}

	for _, tc := range []struct {
		name string
		body map[string]any
		want string
	}{
		{"no tag", map[string]any{"plan": "pro"}, "tag"},
		{"bad tag", map[string]any{"tag": "nocolon", "plan": "pro"}, "tag"},
		{"nothing to change", map[string]any{"tag": "env:prod"}, "plan"},
		{"bad plan", map[string]any{"tag": "env:prod", "plan": "gold"}, "plan"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "POST", "/api/v1/tenants/bulk", e.admin, tc.body)
			wantErr(t, r, 400, "invalid")
			if f, _ := r.body["error"].(map[string]any)["field"].(string); f != tc.want {
				t.Errorf("field %q, want %q: %s", f, tc.want, r.raw)
			}
		})
	}
	if got := plans(); got["gamma"] != "free" {
		t.Errorf("a refused bulk request changed gamma: %v", got)
	}
	other := must(t, e.do(t, "POST", "/api/v1/tenants/gamma/tokens", e.admin, map[string]any{"name": "ci"}), 201).str("token")
	wantErr(t, e.do(t, "POST", "/api/v1/tenants/bulk", other, map[string]any{"tag": "env:prod", "plan": "pro"}), 403, "forbidden")
}
