package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/apiclient"
	"github.com/pierhq/pier/internal/httperr"
)

// dropConnection as a failPut status closes the connection without an answer.
const dropConnection = -1

const (
	fakeToken = "pier_test_token"
	fakeSite  = "blog"
)

// fakeAPI implements the publishing endpoints of docs/api.md for one site
// of one tenant, faithfully enough to exercise the deploy protocol: it
// answers the hashes it lacks, recomputes every uploaded blob's salted hash,
// refuses deployments with missing blobs, reads the rules files as
// configuration (not files), and keeps deployments with an active one.
type fakeAPI struct {
	t    testing.TB
	srv  *httptest.Server
	salt []byte // the tenant's salt, used to check uploads
	// shownSalt, when set, is the salt GET /sites/{site} shows instead.
	shownSalt []byte

	mu          sync.Mutex
	blobs       map[string][]byte
	sessions    map[string]fakeSession
	deployments []*apiclient.Deployment // newest first
	active      string
	puts        map[string]int // hash → PUT requests received
	calls       map[string]int // "METHOD pattern" → requests received
	lastDeploy  map[string]any // body of the last POST deployments
	// failPut, when set, may fail the n-th (1-based) PUT of a hash with a
	// status and code instead of storing it, or with dropConnection.
	failPut func(hash string, n int) (status int, code string)
	// validateWorker, when set, checks a deployment's worker module like
	// the server's runtime: an error becomes 400 worker_invalid.
	validateWorker func(wasm []byte) error
}

// fakeSession is an upload session: its manifest and worker.
type fakeSession struct {
	manifest assets.Manifest
	worker   *apiclient.ManifestEntry
}

// hashes returns the blobs of the session.
func (s fakeSession) hashes() map[string]int64 {
	out := make(map[string]int64, len(s.manifest)+1)
	for _, e := range s.manifest {
		out[e.Hash] = e.Size
	}
	if s.worker != nil {
		out[s.worker.Hash] = s.worker.Size
	}
	return out
}

func newFakeAPI(t testing.TB) *fakeAPI {
	t.Helper()
	f := &fakeAPI{
		t:        t,
		salt:     []byte("0123456789abcdef"),
		blobs:    map[string][]byte{},
		sessions: map[string]fakeSession{},
		puts:     map[string]int{},
		calls:    map[string]int{},
	}
	mux := http.NewServeMux()
	handle := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			f.calls[pattern]++
			f.mu.Unlock()
			if r.Header.Get("Authorization") != "Bearer "+fakeToken {
				w.Header().Set("WWW-Authenticate", "Bearer")
				httperr.Write(w, nil, httperr.New(401, "unauthorized", "missing or unknown token"))
				return
			}
			if err := h(w, r); err != nil {
				httperr.Write(w, nil, err)
			}
		})
	}
	handle("GET /api/v1/sites/{site}", f.getSite)
	handle("POST /api/v1/sites/{site}/uploads", f.createUpload)
	handle("PUT /api/v1/uploads/{upload}/blobs/{hash}", f.putBlob)
	handle("POST /api/v1/sites/{site}/deployments", f.createDeployment)
	handle("GET /api/v1/sites/{site}/deployments", f.listDeployments)
	handle("GET /api/v1/sites/{site}/deployments/{id}", f.getDeployment)
	handle("POST /api/v1/sites/{site}/deployments/{id}/activate", f.activate)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) siteURL() string { return "http://" + fakeSite + ".localhost:8080/" }

func (f *fakeAPI) checkSite(r *http.Request) error {
	if r.PathValue("site") != fakeSite {
		return httperr.New(404, "not_found", "site %q not found", r.PathValue("site"))
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

func (f *fakeAPI) getSite(w http.ResponseWriter, r *http.Request) error {
	if err := f.checkSite(r); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	salt := f.salt
	if f.shownSalt != nil {
		salt = f.shownSalt
	}
	return writeJSON(w, 200, map[string]any{
		"id": "s_1", "tenant_id": "t_1", "name": fakeSite, "active_deployment": f.active,
		"url": f.siteURL(), "hash_salt": fmt.Sprintf("%x", salt), "created_at": time.Unix(0, 0).UTC(),
	})
}

func (f *fakeAPI) createUpload(w http.ResponseWriter, r *http.Request) error {
	if err := f.checkSite(r); err != nil {
		return err
	}
	var body struct {
		Manifest assets.Manifest          `json:"manifest"`
		Worker   *apiclient.ManifestEntry `json:"worker"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return httperr.New(400, "invalid", "bad JSON: %v", err)
	}
	missing := []string{}
	f.mu.Lock()
	defer f.mu.Unlock()
	if body.Worker != nil && (!assets.ValidHash(body.Worker.Hash) || body.Worker.Size <= 0) {
		return httperr.New(400, "invalid", "bad worker %+v", *body.Worker).With("field", "worker")
	}
	for p, e := range body.Manifest {
		if !strings.HasPrefix(p, "/") || !assets.ValidHash(e.Hash) {
			return httperr.New(400, "path_invalid", "bad manifest entry %q", p).With("path", p)
		}
	}
	sess := fakeSession{manifest: body.Manifest, worker: body.Worker}
	for h := range sess.hashes() {
		if _, ok := f.blobs[h]; !ok {
			missing = append(missing, h)
		}
	}
	slices.Sort(missing)
	id := fmt.Sprintf("u%d", len(f.sessions)+1)
	f.sessions[id] = sess
	return writeJSON(w, 201, map[string]any{"id": id, "missing": missing, "expires_at": time.Now().Add(time.Hour).UTC()})
}

func (f *fakeAPI) putBlob(w http.ResponseWriter, r *http.Request) error {
	hash := r.PathValue("hash")
	f.mu.Lock()
	sess, ok := f.sessions[r.PathValue("upload")]
	f.puts[hash]++
	n := f.puts[hash]
	fail := f.failPut
	f.mu.Unlock()
	if !ok {
		return httperr.New(404, "not_found", "upload session not found")
	}
	if r.ContentLength < 0 {
		return httperr.New(411, "length_required", "Content-Length required")
	}
	if _, ok := sess.hashes()[hash]; !ok {
		return httperr.New(404, "not_found", "hash %s is not in the session's manifest", hash)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return httperr.New(400, "invalid", "reading body: %v", err)
	}
	if fail != nil {
		status, code := fail(hash, n)
		if status == dropConnection {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return err
			}
			return conn.Close()
		}
		if status != 0 {
			return httperr.New(status, code, "injected failure %d of %s", n, hash)
		}
	}
	if got := assets.Hash(f.salt, body); got != hash {
		return httperr.New(400, "hash_mismatch", "content hashes to %s, not %s", got, hash).With("hash", hash).With("computed", got)
	}
	f.mu.Lock()
	f.blobs[hash] = body
	f.mu.Unlock()
	w.WriteHeader(204)
	return nil
}

func (f *fakeAPI) createDeployment(w http.ResponseWriter, r *http.Request) error {
	if err := f.checkSite(r); err != nil {
		return err
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return httperr.New(400, "invalid", "bad JSON: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastDeploy = body
	upload, _ := body["upload"].(string)
	sess, ok := f.sessions[upload]
	if !ok {
		return httperr.New(404, "not_found", "upload session %q not found", upload)
	}
	var missing []string
	for h := range sess.hashes() {
		if _, ok := f.blobs[h]; !ok {
			missing = append(missing, h)
		}
	}
	m := maps.Clone(sess.manifest)
	maps.DeleteFunc(m, func(p string, _ assets.Entry) bool { return assets.IsRulesFile(p) })
	if len(missing) > 0 {
		return httperr.New(400, "missing_blobs", "%d blobs of the manifest were not uploaded", len(missing)).With("missing", missing)
	}
	var worker string
	if sess.worker != nil {
		worker = sess.worker.Hash
		if f.validateWorker != nil {
			if err := f.validateWorker(f.blobs[worker]); err != nil {
				return httperr.New(400, "worker_invalid", "worker: %v", err).With("hash", worker)
			}
		}
	}
	id := fmt.Sprintf("d%d", len(f.deployments)+1)
	d := &apiclient.Deployment{
		ID: id, SiteID: "s_1", Files: m.Files(), Bytes: m.Bytes(), Worker: worker,
		Source: apiclient.Source{Type: "cli"}, URL: f.siteURL(),
		PreviewURL: "http://" + id + "--" + fakeSite + ".localhost:8080/",
		CreatedAt:  time.Unix(1700000000+int64(len(f.deployments)), 0).UTC(),
		Manifest:   m,
	}
	if activate, ok := body["activate"].(bool); !ok || activate {
		f.active = id
	}
	f.deployments = append([]*apiclient.Deployment{d}, f.deployments...)
	return writeJSON(w, 201, f.view(d, false))
}

// view returns a deployment as the API shows it.
func (f *fakeAPI) view(d *apiclient.Deployment, withManifest bool) apiclient.Deployment {
	c := *d
	c.Active = d.ID == f.active
	if !withManifest {
		c.Manifest = nil
	}
	return c
}

func (f *fakeAPI) listDeployments(w http.ResponseWriter, r *http.Request) error {
	if err := f.checkSite(r); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []apiclient.Deployment{}
	for _, d := range f.deployments {
		out = append(out, f.view(d, false))
	}
	return writeJSON(w, 200, map[string]any{"deployments": out})
}

func (f *fakeAPI) find(r *http.Request) (*apiclient.Deployment, error) {
	if err := f.checkSite(r); err != nil {
		return nil, err
	}
	for _, d := range f.deployments {
		if d.ID == r.PathValue("id") {
			return d, nil
		}
	}
	return nil, httperr.New(404, "not_found", "deployment %q not found", r.PathValue("id"))
}

func (f *fakeAPI) getDeployment(w http.ResponseWriter, r *http.Request) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.find(r)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, f.view(d, true))
}

func (f *fakeAPI) activate(w http.ResponseWriter, r *http.Request) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.find(r)
	if err != nil {
		return err
	}
	f.active = d.ID
	return writeJSON(w, 200, f.view(d, false))
}

func (f *fakeAPI) putCount(hash string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.puts[hash]
}

func (f *fakeAPI) callCount(pattern string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[pattern]
}

// cliResult is what one in-process run of pier produced.
type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs pier in-process against api (nil: an unreachable one) with
// PIER_API and PIER_TOKEN set; terminal says whether stderr is a terminal.
func runCLI(t *testing.T, api *fakeAPI, terminal bool, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	vars := map[string]string{"PIER_TOKEN": fakeToken}
	if api != nil {
		vars["PIER_API"] = api.srv.URL
	}
	e := &env{
		stdout:   &stdout,
		stderr:   &stderr,
		getenv:   func(k string) string { return vars[k] },
		readFile: func(string) ([]byte, error) { return nil, os.ErrNotExist },
		terminal: terminal,
		http:     &http.Client{Timeout: time.Minute},
	}
	code := run(context.Background(), e, args)
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// writeTree creates files (slash paths → contents) below dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := dir + "/" + p
		if err := os.MkdirAll(full[:strings.LastIndex(full, "/")], 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
