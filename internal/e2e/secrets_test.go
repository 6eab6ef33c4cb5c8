package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
)

// pierStdin runs a client command with stdin piped in; a non-zero exit
// fails the test.
func (s *server) pierStdin(stdin string, args ...string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pierBin(s.t), args...)
	cmd.Env = append(os.Environ(), "PIER_API="+s.API, "PIER_TOKEN="+s.Token)
	cmd.Dir = s.t.TempDir()
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("pier %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, o.String(), e.String())
	}
	return o.String() + e.String()
}

// keyLine returns the key line (the last line not a comment) of a key file.
func keyLine(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var key string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			key = l
		}
	}
	return key
}

// TestSecrets drives secrets through the real binary: a worker reads a
// secret put with `pier secrets put` (over a var of the same name); the
// value is in no API answer, no line of the server's output or of
// `pier logs`, and not in the database file; rotating the key (a new key
// first, the old below, restart, `pier secrets rekey`, the old removed)
// keeps the worker reading the same value.
func TestSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	value := "e2e-secret-" + hex.EncodeToString(rnd[:]) // unique: grep for it
	var outputs []string                                // every CLI output and API answer
	s := startPier(t, "", nil)
	var serverLog strings.Builder // the server's output across restarts
	restart := func(extra ...string) {
		t.Helper()
		s.stop()
		serverLog.WriteString(s.out.String())
		s.args = append(s.args, extra...)
		s.start()
	}
	s.pier("tenants", "create", "acme")
	s.pier("sites", "create", "app", "--tenant", "acme")
	wasm, err := os.ReadFile(filepath.Join(repoRoot(t), "hosting", "worker", "testdata", "vars.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	dir := writeSite(t, map[string]string{
		"public/index.html": "home",
		"worker.wasm":       string(wasm),
		"pier.toml":         "[assets]\ndirectory = \"public\"\n[vars]\ngreeting = \"from-var\"\n[worker]\nmain = \"worker.wasm\"\n",
	})
	dep := s.deploy(dir, "app")
	read := func() string {
		t.Helper()
		r := s.get("app.localhost", "/vars")
		outputs = append(outputs, r.Body)
		if r.Status != 200 {
			t.Fatalf("GET /vars = %d %q", r.Status, r.Body)
		}
		return r.Body
	}
	if got, want := read(), `{"greeting":"from-var"}|from-var|unset`; got != want {
		t.Fatalf("before any secret: %q, want %q", got, want)
	}
	logs := s.followLogs("app")
	testenv.WaitFor(t, testenv.Patience, func() error {
		read()
		if !strings.Contains(strings.Join(logs.Lines(), "\n"), `"outcome":"ok"`) {
			return errors.New("pier logs shows no invocation yet")
		}
		return nil
	})

	outputs = append(outputs, s.pierStdin(value+"\n", "secrets", "put", "greeting", "--site", "app", "--json"))
	want := `{"greeting":"from-var"}|` + value + `|unset` // the secret wins; get_config shows vars only
	if got := read(); got != want {
		t.Fatalf("after the put: %q, want %q", got, want)
	}
	list := s.pier("secrets", "list", "--site", "app")
	outputs = append(outputs, list)
	if !strings.Contains(list, "greeting") {
		t.Errorf("pier secrets list: %q", list)
	}
	for _, path := range []string{"/api/v1/sites/app/secrets", "/api/v1/sites/app", "/api/v1/sites/app/deployments/" + dep.Deployment, "/api/v1/sites/app/deployments"} {
		outputs = append(outputs, s.apiRaw(path))
	}

	t.Run("rotation", func(t *testing.T) {
		oldKey := keyLine(t, filepath.Join(s.Data, "secrets.key"))
		var k [32]byte
		rand.Read(k[:])
		newKey := hex.EncodeToString(k[:])
		keyFile := filepath.Join(t.TempDir(), "keys")

		// Only the new key: the secret cannot be opened, so the worker does
		// not start (503), rather than run without it.
		os.WriteFile(keyFile, []byte(newKey+"\n"), 0o600)
		restart("--secrets-key-file", keyFile)
		if r := s.get("app.localhost", "/vars"); r.Status != 503 || !strings.Contains(r.Body, "worker_unavailable") {
			t.Fatalf("without the old key: %d %q, want 503 worker_unavailable", r.Status, r.Body)
		}
		// The new key first, the old one below: read, then rekeyed.
		os.WriteFile(keyFile, []byte("# new\n"+newKey+"\n# old\n"+oldKey+"\n"), 0o600)
		restart()
		if got := read(); got != want {
			t.Fatalf("with both keys: %q", got)
		}
		out := s.pier("secrets", "rekey")
		outputs = append(outputs, out)
		if !strings.Contains(out, "rekeyed 1 secrets") {
			t.Fatalf("pier secrets rekey: %q", out)
		}
		// The old key removed.
		os.WriteFile(keyFile, []byte(newKey+"\n"), 0o600)
		restart()
		if got := read(); got != want {
			t.Fatalf("after removing the old key: %q", got)
		}
		if out := s.pier("secrets", "rekey"); !strings.Contains(out, "rekeyed 0 secrets") {
			t.Errorf("a second rekey: %q", out)
		}
	})

	t.Run("delete", func(t *testing.T) {
		outputs = append(outputs, s.pier("secrets", "delete", "greeting", "--site", "app"))
		if got := read(); got != `{"greeting":"from-var"}|from-var|unset` {
			t.Fatalf("after the delete: %q", got)
		}
	})

	s.stop()
	serverLog.WriteString(s.out.String())
	t.Run("the value is nowhere but in the worker's answers", func(t *testing.T) {
		for _, o := range outputs {
			if strings.Contains(o, value) && !strings.HasPrefix(o, `{"greeting":"from-var"}|`) {
				t.Errorf("an answer shows the value: %q", o)
			}
		}
		if strings.Contains(serverLog.String(), value) {
			t.Errorf("the server's output shows the value:\n%s", serverLog.String())
		}
		if strings.Contains(strings.Join(logs.Lines(), "\n"), value) {
			t.Errorf("pier logs shows the value:\n%s", strings.Join(logs.Lines(), "\n"))
		}
		if len(logs.Lines()) < 3 {
			t.Errorf("pier logs followed %d lines: the check above saw nothing", len(logs.Lines()))
		}
		entries, err := os.ReadDir(s.Data)
		if err != nil {
			t.Fatal(err)
		}
		var dbFiles int
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), "pier.db") {
				continue
			}
			dbFiles++
			b, err := os.ReadFile(filepath.Join(s.Data, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(value)) || bytes.Contains(b, []byte(value[len("e2e-secret-"):])) {
				t.Errorf("%s holds the plaintext", e.Name())
			}
		}
		if dbFiles == 0 {
			t.Fatalf("no database file in %s", s.Data)
		}
	})
}

// apiRaw GETs an admin API path with the admin token and returns the
// answer's body; a status other than 200 fails the test.
func (s *server) apiRaw(path string) string {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.API+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		s.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// TestSecretsTwoNodes: nodes sharing PostgreSQL, the blob store and the
// key file: a secret put through one node reaches the other's worker
// (the change feed retires its workers). A node with a key of its own
// warns at start and cannot start the worker (503), never serving without
// the secret.
func TestSecretsTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	minio := testenv.StartMinIO(t)
	pg := testenv.StartPostgres(t)
	dsn := pg.NewDatabase(t)
	s3env := []string{"AWS_ACCESS_KEY_ID=" + minio.AccessKey, "AWS_SECRET_ACCESS_KEY=" + minio.SecretKey}
	flags := []string{"--db", dsn, "--s3-endpoint", minio.Endpoint, "--s3-bucket", "pier-secrets", "--s3-region", minio.Region}
	var k [32]byte
	rand.Read(k[:])
	keyFile := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(k[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startPier(t, "", append(flags, "--secrets-key-file", keyFile), s3env...)
	b := startPier(t, "", append(flags, "--secrets-key-file", keyFile), s3env...)
	a.pier("tenants", "create", "acme")
	a.pier("sites", "create", "app", "--tenant", "acme")
	wasm := filepath.Join(repoRoot(t), "hosting", "worker", "testdata", "vars.wasm")
	a.deploy(writeSite(t, map[string]string{"index.html": "home"}), "app", "--worker", wasm)

	readOn := func(s *server, want string) {
		t.Helper()
		testenv.WaitFor(t, testenv.Patience, func() error {
			r := s.get("app.localhost", "/vars")
			if r.Status != 200 || r.Body != want {
				return fmt.Errorf("GET /vars on %s = %d %q, want %q", s.EdgeAddr, r.Status, r.Body, want)
			}
			return nil
		})
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	first, second := "first-"+hex.EncodeToString(rnd[:4]), "second-"+hex.EncodeToString(rnd[4:])
	readOn(b, `{}|unset|unset`) // b's worker is running before the put
	a.pierStdin(first, "secrets", "put", "greeting", "--site", "app")
	readOn(a, `{}|`+first+`|unset`)
	readOn(b, `{}|`+first+`|unset`)
	b.pierStdin(second, "secrets", "put", "greeting", "--site", "app")
	readOn(a, `{}|`+second+`|unset`)
	readOn(b, `{}|`+second+`|unset`)

	t.Run("a node with a key of its own", func(t *testing.T) {
		c := startPier(t, "", flags, s3env...)
		c.waitOutput("a secrets key was generated for this node only")
		if r := c.get("app.localhost", "/vars"); r.Status != 503 || !strings.Contains(r.Body, "worker_unavailable") {
			t.Fatalf("GET /vars on the node without the key = %d %q, want 503 worker_unavailable", r.Status, r.Body)
		}
		if strings.Contains(c.out.String(), second) {
			t.Errorf("its output shows the value:\n%s", c.out.String())
		}
	})
}
