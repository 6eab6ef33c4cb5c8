package e2e

import (
	"strings"
	"testing"
)

// TestQuotas drives the quotas through the real binary: a free-plan
// tenant's sites stop at 10, a deploy past storageMB or past the open
// upload sessions is refused before anything is uploaded (the live
// deployment stays), and tenants show prints the use against the limits.
func TestQuotas(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s := startPier(t, "", nil)
	s.pier("tenants", "create", "acme")
	for _, name := range []string{"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"} {
		s.pier("sites", "create", name, "--tenant", "acme")
	}
	if errOut := s.pierFail("sites", "create", "s10", "--tenant", "acme"); !strings.Contains(errOut, "quota sites exceeded: 10 of 10 used") ||
		!strings.Contains(errOut, "(quota_exceeded)") {
		t.Errorf("the 11th site: %s", errOut)
	}
	if errOut := s.pierFail("sites", "get", "s10"); !strings.Contains(errOut, "not_found") {
		t.Errorf("the refused site exists: %s", errOut)
	}

	t.Run("storage", func(t *testing.T) {
		s.pier("tenants", "set-limits", "acme", "storageMB=1")
		v1 := s.deploy(writeSite(t, map[string]string{"index.html": strings.Repeat("a", 700<<10)}), "s0")
		errOut := s.pierFail("deploy", writeSite(t, map[string]string{"index.html": strings.Repeat("b", 700<<10)}), "--site", "s0")
		if !strings.Contains(errOut, "quota storageMB exceeded") || !strings.Contains(errOut, "over the limit of 1 MB") {
			t.Errorf("deploy past storageMB: %s", errOut)
		}
		if r := s.get("s0.localhost", "/"); r.Status != 200 || r.Body != strings.Repeat("a", 700<<10) {
			t.Errorf("after the refusal the site serves %d (%d bytes), want %s", r.Status, len(r.Body), v1.Deployment)
		}
		s.pier("tenants", "set-limits", "acme", "storageMB=0")
	})

	t.Run("upload sessions", func(t *testing.T) {
		s.pier("tenants", "set-limits", "acme", "uploadSessions=1")
		var up struct{ ID string }
		if st := s.api("POST", "/api/v1/sites/s1/uploads", s.Token, map[string]any{"manifest": map[string]any{}}, &up); st != 201 {
			t.Fatalf("opening an upload session: %d", st)
		}
		errOut := s.pierFail("deploy", writeSite(t, map[string]string{"index.html": "hello"}), "--site", "s1")
		if !strings.Contains(errOut, "quota uploadSessions exceeded: 1 of 1 used") {
			t.Errorf("deploy past uploadSessions: %s", errOut)
		}
	})

	out := s.pier("tenants", "show", "acme")
	for _, want := range []string{"sites           10 / 10", "uploadSessions  1 / 1", "uploadEntries   0 / 200000", "storageMB       0.7 / 2048"} {
		if !strings.Contains(out, want) {
			t.Errorf("tenants show lacks %q:\n%s", want, out)
		}
	}
}
