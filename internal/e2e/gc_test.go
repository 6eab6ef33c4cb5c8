package e2e

import (
	"strings"
	"testing"
)

// TestGarbageCollection drives the deployments quota and `pier gc`
// against the real binary: a deploy past the quota deletes the oldest
// preview deployment, whose preview URL answers 404 at once; a dry run
// says what a collection would free and changes nothing; a collection
// frees it, and every kept deployment still serves every file.
func TestGarbageCollection(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s := startPier(t, "", []string{"--gc-interval", "0", "--gc-grace", "0s"})
	s.pier("tenants", "create", "acme")
	if st := s.api("PATCH", "/api/v1/tenants/acme", s.Token, map[string]any{"limits": map[string]any{"deployments": 2}}, nil); st != 200 {
		t.Fatalf("PATCH limits = %d", st)
	}
	s.pier("sites", "create", "blog", "--tenant", "acme")
	shared := strings.Repeat("<p>shared by every deployment</p>\n", 50)
	v1 := s.deploy(writeSite(t, map[string]string{"index.html": "v1", "shared.html": shared}), "blog")
	v2 := s.deploy(writeSite(t, map[string]string{"index.html": "v2 only", "shared.html": shared}), "blog", "--no-activate")
	preview2 := v2.Deployment + "--blog.localhost"
	wantServed(t, s, preview2, "/", 200, "v2 only")

	// The site holds 2: the third deploy deletes v2 (v1 is live).
	v3 := s.deploy(writeSite(t, map[string]string{"index.html": "v3", "shared.html": shared}), "blog", "--no-activate")
	if r := s.get(preview2, "/"); r.Status != 404 {
		t.Errorf("preview of the deployment the quota deleted = %d %q, want 404", r.Status, r.Body)
	}
	if out := s.pier("deployments", "list", "--site", "blog"); strings.Contains(out, v2.Deployment) {
		t.Errorf("deployments list still shows %s:\n%s", v2.Deployment, out)
	}

	// v2's own file is now unused: a dry run says so, a collection frees
	// it (no grace: its object goes in the same run).
	if out := s.pier("gc", "--dry-run"); !strings.Contains(out, "Would delete 0 deployments; collect 1 blobs") || !strings.Contains(out, "acme") {
		t.Errorf("pier gc --dry-run:\n%s", out)
	}
	if out := s.pier("gc"); !strings.Contains(out, "Deleted 0 deployments; collect 1 blobs") || !strings.Contains(out, "delete 1 queued objects") {
		t.Errorf("pier gc:\n%s", out)
	}
	if out := s.pier("gc", "--dry-run"); !strings.Contains(out, "Would delete 0 deployments; collect 0 blobs") {
		t.Errorf("pier gc --dry-run after a collection:\n%s", out)
	}
	wantServed(t, s, "blog.localhost", "/", 200, "v1")
	wantServed(t, s, "blog.localhost", "/shared", 200, shared)
	wantServed(t, s, v1.Deployment+"--blog.localhost", "/", 200, "v1")
	wantServed(t, s, v3.Deployment+"--blog.localhost", "/", 200, "v3")
	wantServed(t, s, v3.Deployment+"--blog.localhost", "/shared", 200, shared)

	// A tenant's token may not run it.
	var tok struct {
		Token string `json:"token"`
	}
	s.api("POST", "/api/v1/tenants/acme/tokens", s.Token, map[string]any{"name": "ci"}, &tok)
	if st := s.api("POST", "/api/v1/gc", tok.Token, map[string]any{"dry_run": true}, nil); st != 403 {
		t.Errorf("POST /api/v1/gc with a tenant token = %d, want 403", st)
	}
}
