package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/internal/apiclient"
	"github.com/pierhq/pier/tenants"
)

// usageAPI is a real admin API at a fixed time holding usage of two
// sites of acme (blog at 18:00 and 18:01, shop at 18:00) and a tenant
// token of acme.
func usageAPI(t *testing.T) (api *realAPI, acmeToken string, at time.Time) {
	t.Helper()
	at = time.Date(2026, 11, 22, 18, 0, 0, 0, time.UTC)
	api = newRealAPI(t, func(c *admin.Config) { c.Now = func() time.Time { return at.Add(30 * time.Minute) } })
	ctx := context.Background()
	c := apiclient.New(api.url, api.admin, nil)
	for _, tn := range []string{"acme", "globex"} {
		if _, err := c.CreateTenant(ctx, apiclient.CreateTenant{Name: tn}); err != nil {
			t.Fatal(err)
		}
	}
	sites := map[string]*apiclient.Site{}
	for _, s := range [][2]string{{"blog", "acme"}, {"shop", "acme"}, {"other", "globex"}} {
		st, err := c.CreateSite(ctx, s[0], s[1])
		if err != nil {
			t.Fatal(err)
		}
		sites[s[0]] = st
	}
	row := func(site string, minute time.Time, n int64) tenants.UsageRow {
		var u tenants.UsageCounters
		u.Requests[1] = n // 2xx
		u.Requests[3] = 1 // 4xx
		u.BytesOut = 1024 * n
		u.Invocations[0] = n // ok
		u.Invocations[2] = 1 // exceededCpu
		u.CPU = time.Duration(n) * 1500 * time.Microsecond
		u.SubRequests = 2 * n
		return tenants.UsageRow{SiteID: sites[site].ID, TenantID: sites[site].TenantID, Minute: minute, UsageCounters: u}
	}
	if err := api.store.AddUsage(ctx, []tenants.UsageRow{
		row("blog", at, 3), row("blog", at.Add(time.Minute), 4), row("shop", at, 5), row("other", at, 100),
	}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateTenantToken(ctx, "acme", "ci")
	if err != nil {
		t.Fatal(err)
	}
	return api, tok.Secret, at
}

func TestUsageCommand(t *testing.T) {
	api, acmeTok, at := usageAPI(t)
	window := []string{"--from", at.Add(-time.Minute).Format(time.RFC3339), "--to", at.Add(3 * time.Minute).Format(time.RFC3339)}

	for _, tc := range []struct {
		name  string
		token string
		args  []string
		want  []string // in the output, in order
		not   []string
	}{
		{"site totals and the steps with traffic", api.admin, append([]string{"--site", "blog", "--step", "1m"}, window...), []string{
			"Site blog, 2026-11-22 17:59:00Z to 2026-11-22 18:03:00Z, step 1m",
			"Requests", "9 (2xx 7, 4xx 2)",
			"Bytes out", "7.0 KiB",
			"Invocations", "9 (exceededCpu 2, ok 7)",
			"CPU", "10.5 ms",
			"Subrequests", "14",
			"TIME", "REQUESTS", "2XX", "BYTES OUT", "INVOCATIONS", "VIOLATIONS", "CPU", "SUBREQUESTS",
			"2026-11-22 18:00:00Z", "4", "3", "3.0 KiB", "4", "1", "4.5 ms", "6",
			"2026-11-22 18:01:00Z", "5", "4", "4.0 KiB", "5", "1", "6.0 ms", "8",
			"(2 of 4 steps without traffic not shown)",
		}, []string{"17:59:00Z  ", "18:02:00Z"}},
		{"tenant sums its sites", api.admin, append([]string{"--tenant", "acme", "--step", "1m"}, window...), []string{
			"Tenant acme,", "Requests", "15 (2xx 12, 4xx 3)", "Bytes out", "12.0 KiB", "Subrequests", "24",
			"2026-11-22 18:00:00Z", "10", "8",
		}, []string{"100"}},
		{"five-minute step", acmeTok, []string{"--site", "shop", "--step", "5m", "--from", "2026-11-22T18:00:00Z", "--to", "2026-11-22T18:10:00Z"}, []string{
			"step 5m", "Requests", "6 (2xx 5, 4xx 1)", "2026-11-22 18:00:00Z", "(1 of 2 steps without traffic not shown)",
		}, []string{"18:05:00Z"}},
		{"a tenant token reads its own tenant", acmeTok, append([]string{"--tenant", "acme"}, window...), []string{
			"Tenant acme,", "15 (2xx 12, 4xx 3)",
		}, nil},
		{"default window is the last 24 hours", api.admin, []string{"--site", "blog"}, []string{
			"2026-11-21 18:30:00Z to 2026-11-22 18:30:00Z, step 1m", "9 (2xx 7, 4xx 2)", "(1438 of 1440 steps without traffic not shown)",
		}, nil},
		{"no traffic", api.admin, []string{"--site", "blog", "--from", "2026-11-22T10:00:00Z", "--to", "2026-11-22T11:00:00Z", "--step", "1h"}, []string{
			"Requests", "0", "Invocations", "0", "CPU", "0.0 ms", "(1 of 1 steps without traffic not shown)",
		}, []string{"(2xx"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := api.must(t, tc.token, append([]string{"usage"}, tc.args...)...)
			rest := out
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order):\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("output has %q:\n%s", n, out)
				}
			}
		})
	}

	t.Run("json is the API's answer", func(t *testing.T) {
		out := api.must(t, api.admin, append([]string{"usage", "--site", "blog", "--json", "--step", "1m"}, window...)...)
		var u apiclient.Usage
		if err := json.Unmarshal([]byte(out), &u); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		if u.Site != "blog" || u.Step != "1m" || len(u.Points) != 4 || !u.Points[1].Time.Equal(at) {
			t.Fatalf("usage %+v", u)
		}
		if tot := u.Totals; tot.Requests["2xx"] != 7 || tot.BytesOut != 7*1024 || tot.Invocations["exceededCpu"] != 2 ||
			tot.Violations["exceededCpu"] != 2 || tot.CPUMillis != 10.5 || tot.SubRequests != 14 {
			t.Errorf("totals %+v", tot)
		}
		if p := u.Points[2]; p.Requests["2xx"] != 4 || p.SubRequests != 8 {
			t.Errorf("point 2 %+v", p)
		}
	})

	for _, tc := range []struct {
		name  string
		token string
		args  []string
		code  int
		want  string // in stderr
	}{
		{"neither site nor tenant", api.admin, nil, exitUsage, "exactly one of --site"},
		{"both site and tenant", api.admin, []string{"--site", "blog", "--tenant", "acme"}, exitUsage, "exactly one of --site"},
		{"bad from", api.admin, []string{"--site", "blog", "--from", "yesterday"}, exitUsage, "--from"},
		{"bad to", api.admin, []string{"--site", "blog", "--to", "2026-11-22"}, exitUsage, "--to"},
		{"a positional argument", api.admin, []string{"blog"}, exitUsage, ""},
		{"bad step", api.admin, []string{"--site", "blog", "--step", "90s"}, exitError, "(invalid)"},
		{"from after to", api.admin, []string{"--site", "blog", "--from", "2026-11-22T18:00:00Z", "--to", "2026-11-22T17:00:00Z"}, exitError, "(invalid)"},
		{"unknown site", api.admin, []string{"--site", "nope"}, exitError, "(not_found)"},
		{"another tenant's site", acmeTok, []string{"--site", "other"}, exitError, "(not_found)"},
		{"another tenant", acmeTok, []string{"--tenant", "globex"}, exitError, "(not_found)"},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			res := api.pier(t, tc.token, append([]string{"usage"}, tc.args...)...)
			if res.code != tc.code || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", res.code, res.stderr, tc.code, tc.want)
			}
		})
	}
}

// TestUsageReportShowsKV: the totals name a site's KV reads, writes and
// bytes when its workers used KV, and leave the row out otherwise.
func TestUsageReportShowsKV(t *testing.T) {
	for _, tc := range []struct {
		name   string
		totals apiclient.UsageCounters
		want   string
	}{
		{"with KV", apiclient.UsageCounters{KVReads: 7, KVWrites: 3, KVBytes: 2048}, "7 reads, 3 writes, 2.0 KiB"},
		{"without", apiclient.UsageCounters{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := printUsageReport(&b, &apiclient.Usage{Site: "blog", Step: "1h", Totals: tc.totals}); err != nil {
				t.Fatal(err)
			}
			has := strings.Contains(b.String(), "KV ")
			if tc.want == "" && has || tc.want != "" && !strings.Contains(b.String(), tc.want) {
				t.Errorf("report:\n%s\nwant KV row %q", b.String(), tc.want)
			}
		})
	}
}
