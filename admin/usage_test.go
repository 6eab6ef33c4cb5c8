package admin_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

func TestUsage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	aID, aTok := e.tenant(t, "alpha")
	_, bTok := e.tenant(t, "bravo")
	e.site(t, aTok, "alpha-www")
	e.site(t, aTok, "alpha-api")
	e.site(t, bTok, "bravo-www")
	siteID := func(name string) string {
		return must(t, e.do(t, "GET", "/api/v1/sites/"+name, e.admin, nil), 200).str("id")
	}
	now := e.clock.Now()
	m := now.Truncate(time.Minute).Add(-10 * time.Minute)
	row := func(site string, minute time.Time, n int64) tenants.UsageRow {
		var c tenants.UsageCounters
		c.Requests[1] = n
		c.Requests[4] = 1
		c.BytesOut = 100 * n
		c.Invocations[0] = n
		c.Invocations[2] = 1 // exceededCpu
		c.CPU = time.Duration(n) * 1500 * time.Microsecond
		c.SubRequests = 2 * n
		return tenants.UsageRow{SiteID: siteID(site), TenantID: mustTenantOf(t, e, site), Minute: minute, UsageCounters: c}
	}
	if err := e.store.AddUsage(context.Background(), []tenants.UsageRow{
		row("alpha-www", m, 3), row("alpha-www", m.Add(time.Minute), 4),
		row("alpha-api", m, 5), row("bravo-www", m, 7),
	}); err != nil {
		t.Fatal(err)
	}
	// A second node's flush of the same minute adds up.
	if err := e.store.AddUsage(context.Background(), []tenants.UsageRow{row("alpha-www", m, 1)}); err != nil {
		t.Fatal(err)
	}
	window := "?from=" + url.QueryEscape(m.Add(-time.Minute).Format(time.RFC3339)) + "&to=" + url.QueryEscape(m.Add(3*time.Minute).Format(time.RFC3339))

	t.Run("site by minute", func(t *testing.T) {
		r := must(t, e.do(t, "GET", "/api/v1/sites/alpha-www/usage"+window+"&step=1m", aTok, nil), 200)
		if r.str("site") != "alpha-www" || r.str("step") != "1m" {
			t.Fatalf("site %q step %q", r.str("site"), r.str("step"))
		}
		pts := r.body["points"].([]any)
		if len(pts) != 4 {
			t.Fatalf("%d points, want 4 (zeros included): %s", len(pts), r.raw)
		}
		p1 := pts[1].(map[string]any)
		if p1["time"] != m.UTC().Format(time.RFC3339) {
			t.Errorf("point 1 at %v, want %v", p1["time"], m)
		}
		if got := p1["requests"].(map[string]any)["2xx"]; got != 4.0 {
			t.Errorf("2xx at minute m: %v, want 4 (3 + 1 from two nodes)", got)
		}
		if got := p1["requests"].(map[string]any)["5xx"]; got != 2.0 {
			t.Errorf("5xx at minute m: %v, want 2", got)
		}
		if got := p1["cpu_ms"]; got != 6.0 {
			t.Errorf("cpu_ms %v, want 6", got)
		}
		if got := p1["violations"].(map[string]any); got["exceededCpu"] != 2.0 || got["ok"] != nil {
			t.Errorf("violations %v", got)
		}
		if got := p1["invocations"].(map[string]any)["ok"]; got != 4.0 {
			t.Errorf("ok invocations %v", got)
		}
		if got := pts[0].(map[string]any)["bytes_out"]; got != 0.0 {
			t.Errorf("empty minute: bytes_out %v", got)
		}
		tot := r.body["totals"].(map[string]any)
		if tot["bytes_out"] != 800.0 || tot["subrequests"] != 16.0 {
			t.Errorf("totals %v", tot)
		}
	})
	t.Run("site by 5 minutes", func(t *testing.T) {
		r := must(t, e.do(t, "GET", "/api/v1/sites/alpha-www/usage"+window+"&step=5m", e.admin, nil), 200)
		pts := r.body["points"].([]any)
		if len(pts) != 1 || pts[0].(map[string]any)["bytes_out"] != 800.0 {
			t.Fatalf("points %s", r.raw)
		}
	})
	t.Run("tenant sums its sites only", func(t *testing.T) {
		for _, ref := range []string{"alpha", aID} {
			r := must(t, e.do(t, "GET", "/api/v1/tenants/"+ref+"/usage"+window, aTok, nil), 200)
			if r.str("tenant") != "alpha" {
				t.Errorf("tenant %q", r.str("tenant"))
			}
			if got := r.body["totals"].(map[string]any)["bytes_out"]; got != 1300.0 {
				t.Errorf("%s: tenant bytes_out %v, want 1300 (alpha-www 800 + alpha-api 500)", ref, got)
			}
		}
	})
	t.Run("defaults", func(t *testing.T) {
		r := must(t, e.do(t, "GET", "/api/v1/sites/alpha-www/usage", aTok, nil), 200)
		if r.str("step") != "1m" || len(r.body["points"].([]any)) != 24*60+1 {
			t.Errorf("step %q, %d points; want 1m over the last 24 h", r.str("step"), len(r.body["points"].([]any)))
		}
		r = must(t, e.do(t, "GET", "/api/v1/sites/alpha-www/usage?from="+url.QueryEscape(now.Add(-6*24*time.Hour).Format(time.RFC3339)), aTok, nil), 200)
		if r.str("step") != "1h" {
			t.Errorf("6 days: step %q, want 1h", r.str("step"))
		}
	})
	t.Run("isolation", func(t *testing.T) {
		wantErr(t, e.do(t, "GET", "/api/v1/sites/alpha-www/usage", bTok, nil), 404, "not_found")
		wantErr(t, e.do(t, "GET", "/api/v1/tenants/alpha/usage", bTok, nil), 404, "not_found")
		wantErr(t, e.do(t, "GET", "/api/v1/tenants/alpha/usage", "", nil), 401, "unauthorized")
		must(t, e.do(t, "GET", "/api/v1/tenants/bravo/usage", e.admin, nil), 200)
	})
	for _, tc := range []struct {
		name, query, field string
	}{
		{"bad from", "?from=yesterday", "from"},
		{"bad to", "?to=2026-13-01T00:00:00Z", "to"},
		{"from after to", "?from=" + url.QueryEscape(now.Format(time.RFC3339)) + "&to=" + url.QueryEscape(now.Add(-time.Hour).Format(time.RFC3339)), "from"},
		{"bad step", "?step=often", "step"},
		{"step under a minute", "?step=30s", "step"},
		{"step of 90 minutes", "?step=90m&from=" + url.QueryEscape(now.Add(-48*time.Hour).Format(time.RFC3339)), "step"},
		{"too many points", "?step=1m&from=" + url.QueryEscape(now.Add(-3*24*time.Hour).Format(time.RFC3339)), "step"},
		{"minutes older than 7 days", "?step=1m&from=" + url.QueryEscape(now.Add(-8*24*time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(now.Add(-8*24*time.Hour+time.Hour).Format(time.RFC3339)), "from"},
		{"older than 90 days", "?step=1d&from=" + url.QueryEscape(now.Add(-100*24*time.Hour).Format(time.RFC3339)), "from"},
	} {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			r := e.do(t, "GET", "/api/v1/sites/alpha-www/usage"+tc.query, aTok, nil)
			wantErr(t, r, 400, "invalid")
			if r.errField("field") != tc.field {
				t.Errorf("field %v, want %s; %s", r.errField("field"), tc.field, r.raw)
			}
		})
	}
}

func mustTenantOf(t *testing.T, e *env, site string) string {
	t.Helper()
	s, err := e.store.Site(context.Background(), site)
	if err != nil {
		t.Fatal(err)
	}
	return s.TenantID
}
