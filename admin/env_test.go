package admin_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/assets/fsblob"
	"github.com/pierhq/pier/internal/logstream"
	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/sqlitestore"
)

// clock is a settable clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// activations records Config.OnActivate calls.
type activations struct {
	mu    sync.Mutex
	sites []tenants.Site
}

func (a *activations) record(s tenants.Site) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sites = append(a.sites, s)
}

func (a *activations) list() []tenants.Site {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]tenants.Site(nil), a.sites...)
}

// env is an API over a real SQLite store and a directory blob backend in a
// temp dir, served by httptest.
type env struct {
	api    *admin.API
	store  tenants.Store
	dbPath string // the store's SQLite file
	blobs  assets.Backend
	srv    *httptest.Server
	clock  *clock
	acts   *activations
	admin  string // admin token secret
	logBuf *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// envSetup is what envOptions change before the API is built.
type envSetup struct {
	cfg       admin.Config
	backend   assets.Backend
	wrapStore func(tenants.Store) tenants.Store
	tls       bool // serve over HTTPS (httptest's certificate)
}

type envOption func(*envSetup)

func withLimits(l assets.Limits) envOption {
	return func(s *envSetup) { s.cfg.Limits = l }
}

func withMaxBody(n int64) envOption {
	return func(s *envSetup) { s.cfg.MaxRequestBody = n }
}

func withBackend(wrap func(assets.Backend) assets.Backend) envOption {
	return func(s *envSetup) { s.backend = wrap(s.backend) }
}

func withWorkers(validate func(ctx context.Context, wasm []byte) error) envOption {
	return func(s *envSetup) { s.cfg.ValidateWorker = validate }
}

func withMaxWorkerSize(n int64) envOption {
	return func(s *envSetup) { s.cfg.MaxWorkerSize = n }
}

func withLogs(hub *logstream.Hub, keepalive time.Duration) envOption {
	return func(s *envSetup) { s.cfg.Logs, s.cfg.LogKeepalive = hub, keepalive }
}

// withStore wraps the store the API uses; the env's own helpers keep
// using the real one.
func withStore(wrap func(tenants.Store) tenants.Store) envOption {
	return func(s *envSetup) { s.wrapStore = wrap }
}

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	fs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		store:  store,
		dbPath: filepath.Join(dir, "pier.db"),
		clock:  &clock{t: time.Now().UTC()},
		acts:   &activations{},
		logBuf: &syncBuffer{},
	}
	setup := envSetup{
		cfg: admin.Config{
			Domain:     "pier.test",
			EdgeURL:    func(h string) string { return "http://" + h + ":8080/" },
			OnActivate: e.acts.record,
			Logger:     slog.New(slog.NewJSONHandler(e.logBuf, nil)),
			Now:        e.clock.Now,
			SpoolDir:   t.TempDir(),
		},
		backend: fs,
	}
	for _, o := range opts {
		o(&setup)
	}
	var apiStore tenants.Store = store
	if setup.wrapStore != nil {
		apiStore = setup.wrapStore(store)
	}
	e.blobs = setup.backend
	e.api = admin.New(setup.cfg, apiStore, setup.backend)
	e.srv = httptest.NewUnstartedServer(e.api.Handler())
	if setup.tls {
		e.srv.StartTLS()
	} else {
		e.srv.Start()
	}
	t.Cleanup(e.srv.Close)

	secret := admin.NewTokenSecret()
	if err := store.CreateToken(ctx, tenants.Token{ID: "tok_boot", Name: "bootstrap", Hash: admin.HashToken(secret)}); err != nil {
		t.Fatal(err)
	}
	e.admin = secret
	return e
}

// resp is a decoded answer.
type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// errCode returns error.code of an error answer.
func (r resp) errCode() string {
	if e, ok := r.body["error"].(map[string]any); ok {
		s, _ := e["code"].(string)
		return s
	}
	return ""
}

// errField returns error.<k> of an error answer.
func (r resp) errField(k string) any {
	if e, ok := r.body["error"].(map[string]any); ok {
		return e[k]
	}
	return nil
}

func (r resp) str(k string) string { s, _ := r.body[k].(string); return s }

// do sends a request with token (if non-empty) and body (JSON-encoded
// unless it is a []byte or io.Reader).
func (e *env) do(t testing.TB, method, path, token string, body any) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(t, req)
}

func (e *env) send(t testing.TB, req *http.Request) resp {
	t.Helper()
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: bad JSON %q: %v", req.Method, req.URL.Path, raw, err)
		}
	}
	return r
}

// must asserts the status of r and returns r.
func must(t testing.TB, r resp, status int) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.raw)
	}
	return r
}

// wantErr asserts an error answer's status and code.
func wantErr(t testing.TB, r resp, status int, code string) {
	t.Helper()
	if r.status != status || r.errCode() != code {
		t.Fatalf("got %d %q, want %d %q; body %s", r.status, r.errCode(), status, code, r.raw)
	}
}

// tenant creates a tenant and a tenant token; it returns the tenant's id
// and the token secret.
func (e *env) tenant(t testing.TB, name string) (id, token string) {
	t.Helper()
	r := must(t, e.do(t, "POST", "/api/v1/tenants", e.admin, map[string]any{"name": name}), 201)
	id = r.str("id")
	tok := must(t, e.do(t, "POST", "/api/v1/tenants/"+id+"/tokens", e.admin, map[string]any{"name": "ci"}), 201)
	return id, tok.str("token")
}

// site creates a site with token and returns its name and salt.
func (e *env) site(t testing.TB, token, name string) (salt []byte) {
	t.Helper()
	r := must(t, e.do(t, "POST", "/api/v1/sites", token, map[string]any{"name": name}), 201)
	return mustHex(t, r.str("hash_salt"))
}

// files is a site's content by path.
type files map[string]string

// manifest builds the upload request body of fs hashed with salt.
func manifestOf(salt []byte, fs files) map[string]any {
	m := map[string]any{}
	for p, c := range fs {
		m[p] = map[string]any{"hash": assets.Hash(salt, []byte(c)), "size": len(c)}
	}
	return map[string]any{"manifest": m}
}

// startUpload creates an upload session and returns its id and missing
// hashes.
func (e *env) startUpload(t testing.TB, token, site string, salt []byte, fs files) (string, []string) {
	t.Helper()
	r := must(t, e.do(t, "POST", "/api/v1/sites/"+site+"/uploads", token, manifestOf(salt, fs)), 201)
	var missing []string
	for _, h := range r.body["missing"].([]any) {
		missing = append(missing, h.(string))
	}
	return r.str("id"), missing
}

func (e *env) putBlob(t testing.TB, token, upload, hash string, content []byte) resp {
	t.Helper()
	return e.do(t, "PUT", "/api/v1/uploads/"+upload+"/blobs/"+hash, token, content)
}

// publish runs the whole pipeline and returns the deployment answer.
func (e *env) publish(t testing.TB, token, site string, salt []byte, fs files, extra map[string]any) resp {
	t.Helper()
	up, missing := e.startUpload(t, token, site, salt, fs)
	byHash := map[string]string{}
	for _, c := range fs {
		byHash[assets.Hash(salt, []byte(c))] = c
	}
	for _, h := range missing {
		must(t, e.putBlob(t, token, up, h, []byte(byHash[h])), 204)
	}
	body := map[string]any{"upload": up}
	for k, v := range extra {
		body[k] = v
	}
	return e.do(t, "POST", "/api/v1/sites/"+site+"/deployments", token, body)
}

func (e *env) activeDeployment(t testing.TB, token, site string) string {
	t.Helper()
	return must(t, e.do(t, "GET", "/api/v1/sites/"+site, token, nil), 200).str("active_deployment")
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		t.Fatalf("hash_salt %q is not 16 bytes of hex", s)
	}
	return b
}

func withTLS() envOption {
	return func(s *envSetup) { s.tls = true }
}

func withConfig(f func(*admin.Config)) envOption {
	return func(s *envSetup) { f(&s.cfg) }
}
