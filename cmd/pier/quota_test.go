package main

import (
	"strings"
	"testing"
)

// TestTenantQuotasCLI: tenants show prints each quota as used / limit,
// set-limits overrides some and keeps the others, 0 resets one, and a
// refusal names the quota, its use and its limit.
func TestTenantQuotasCLI(t *testing.T) {
	api := newRealAPI(t)
	adm := api.admin
	api.must(t, adm, "tenants", "create", "acme")
	api.must(t, adm, "sites", "create", "blog", "--tenant", "acme")

	out := api.must(t, adm, "tenants", "show", "acme")
	for _, want := range []string{"Quotas:", "sites           1 / 10", "domains         0 / 10", "uploadSessions  0 / 10",
		"uploadEntries   0 / 200000", "storageMB       0.0 / 2048", "kvNamespaces    0 / 10", "workerMB        16 per worker",
		"KV:", "kvOps 50, kvValueKB 1024"} {
		if !strings.Contains(out, want) {
			t.Errorf("tenants show lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "-") {
			t.Errorf("tenants show: a quota line starts with a dash: %q", line)
		}
	}
	if get := api.must(t, adm, "tenants", "get", "acme"); get != out {
		t.Errorf("tenants get (the alias) printed\n%s\nnot\n%s", get, out)
	}

	out = api.must(t, adm, "tenants", "set-limits", "acme", "sites=1", "cpuMs=30")
	if !strings.Contains(out, "sites           1 / 1") || !strings.Contains(out, "cpuMs 30") {
		t.Errorf("set-limits:\n%s", out)
	}
	res := api.pier(t, adm, "sites", "create", "shop", "--tenant", "acme")
	if res.code != 1 || !strings.Contains(res.stderr, "quota sites exceeded: 1 of 1 used") ||
		!strings.Contains(res.stderr, "(quota_exceeded)") {
		t.Errorf("site past the quota: exit %d, stderr %q", res.code, res.stderr)
	}
	out = api.must(t, adm, "tenants", "set-limits", "acme", "sites=0")
	if !strings.Contains(out, "sites           1 / 10") || !strings.Contains(out, "cpuMs 30") {
		t.Errorf("set-limits sites=0 (other overrides kept):\n%s", out)
	}
	api.must(t, adm, "sites", "create", "shop", "--tenant", "acme")

	for _, tc := range []struct{ name, arg string }{
		{"unknown limit", "colour=3"},
		{"not NAME=VALUE", "sites"},
		{"negative", "sites=-1"},
		{"not a number", "sites=ten"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if res := api.pier(t, adm, "tenants", "set-limits", "acme", tc.arg); res.code != exitUsage {
				t.Errorf("exit %d, stderr %q", res.code, res.stderr)
			}
		})
	}
}
