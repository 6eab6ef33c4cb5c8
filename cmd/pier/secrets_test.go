package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/internal/secretbox"
	"github.com/pierhq/pier/tenants"
)

// secretsCLI runs one command line against api with stdin (nil: none) or,
// with password set, a terminal answering the prompt with it.
func (r *realAPI) secretsCLI(t *testing.T, token string, stdin io.Reader, password []byte, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	vars := map[string]string{"PIER_API": r.url, "PIER_TOKEN": token}
	e := &env{
		stdout:   &stdout,
		stderr:   &stderr,
		getenv:   func(k string) string { return vars[k] },
		readFile: func(string) ([]byte, error) { return nil, os.ErrNotExist },
		http:     http.DefaultClient,
		stdin:    stdin,
	}
	if password != nil {
		e.stdinTerminal = true
		e.readPassword = func() ([]byte, error) { return password, nil }
	}
	code := run(context.Background(), e, args)
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestSecretsCommands(t *testing.T) {
	ring, err := secretbox.NewKeyring(secretbox.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	api := newRealAPI(t, func(c *admin.Config) { c.SecretKeys = ring })
	adm := api.admin
	api.must(t, adm, "tenants", "create", "acme")
	api.must(t, adm, "sites", "create", "blog", "--tenant", "acme")
	const value = "piped-VALUE-never-shown"
	var outputs []string
	cli := func(stdin io.Reader, password []byte, args ...string) cliResult {
		t.Helper()
		res := api.secretsCLI(t, adm, stdin, password, args...)
		outputs = append(outputs, res.stdout, res.stderr)
		return res
	}
	stored := func(name string) string {
		t.Helper()
		site, err := api.store.Site(context.Background(), "blog")
		if err != nil {
			t.Fatal(err)
		}
		vals, err := api.store.(tenants.SecretStore).SecretValues(context.Background(), site.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if v.Name == name {
				pt, err := ring.Open(v.Ciphertext, site.ID, name)
				if err != nil {
					t.Fatal(err)
				}
				return string(pt)
			}
		}
		return "(absent)"
	}

	t.Run("put from standard input drops one trailing newline", func(t *testing.T) {
		res := cli(strings.NewReader(value+"\n"), nil, "secrets", "put", "API_KEY", "--site", "blog")
		if res.code != 0 || !strings.Contains(res.stdout, "secret API_KEY of site blog set") {
			t.Fatalf("exit %d: %s %s", res.code, res.stdout, res.stderr)
		}
		if got := stored("API_KEY"); got != value {
			t.Errorf("stored %q, want %q", got, value)
		}
		cli(strings.NewReader("two\nlines\r\n"), nil, "secrets", "put", "MULTI", "--site", "blog")
		if got := stored("MULTI"); got != "two\nlines" {
			t.Errorf("stored %q", got)
		}
	})
	t.Run("put from a no-echo prompt", func(t *testing.T) {
		res := cli(nil, []byte("typed-"+value), "secrets", "put", "TYPED", "--site", "blog")
		if res.code != 0 || !strings.Contains(res.stderr, "Value of secret TYPED (not shown): ") {
			t.Fatalf("exit %d: %s %s", res.code, res.stdout, res.stderr)
		}
		if got := stored("TYPED"); got != "typed-"+value {
			t.Errorf("stored %q", got)
		}
	})
	t.Run("list shows names, never values", func(t *testing.T) {
		res := cli(nil, nil, "secrets", "list", "--site", "blog")
		if res.code != 0 || !strings.Contains(res.stdout, "API_KEY") || !strings.Contains(res.stdout, "TYPED") || !strings.HasPrefix(res.stdout, "NAME") {
			t.Fatalf("exit %d: %s %s", res.code, res.stdout, res.stderr)
		}
		res = cli(nil, nil, "secrets", "list", "--site", "blog", "--json")
		if res.code != 0 || !strings.Contains(res.stdout, `"name": "MULTI"`) {
			t.Fatalf("--json: %s", res.stdout)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		cases := []struct {
			name  string
			stdin io.Reader
			args  []string
			code  int
			want  string
		}{
			{"a value flag does not exist", strings.NewReader("x"), []string{"secrets", "put", "X", "--site", "blog", "--value", value}, exitUsage, "flag provided but not defined: -value"},
			{"no site", strings.NewReader("x"), []string{"secrets", "put", "X"}, exitUsage, "--site is required"},
			{"bad name", strings.NewReader("x"), []string{"secrets", "put", "1X", "--site", "blog"}, exitUsage, "must be letters, digits and _"},
			{"empty input", strings.NewReader("\n"), []string{"secrets", "put", "X", "--site", "blog"}, exitError, "is empty: nothing was set"},
			{"no input", nil, []string{"secrets", "put", "X", "--site", "blog"}, exitError, "pipe it into standard input"},
			{"not UTF-8", strings.NewReader("key\xff\xfe"), []string{"secrets", "put", "X", "--site", "blog"}, exitError, "not valid UTF-8 text: nothing was set"},
			{"too large", strings.NewReader(strings.Repeat("v", 5<<10+1)), []string{"secrets", "put", "X", "--site", "blog"}, exitError, "over the limit of 5120 bytes"},
			{"unknown site", strings.NewReader("x"), []string{"secrets", "put", "X", "--site", "nope"}, exitError, `site "nope" not found`},
			{"delete an absent secret", nil, []string{"secrets", "delete", "NOPE", "--site", "blog"}, exitError, `secret "NOPE" not found`},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := cli(tc.stdin, nil, tc.args...)
				if res.code != tc.code || !strings.Contains(res.stderr, tc.want) {
					t.Fatalf("exit %d, stderr %q; want %d and %q", res.code, res.stderr, tc.code, tc.want)
				}
			})
		}
		if got := stored("X"); got != "(absent)" {
			t.Errorf("a refused put stored %q", got)
		}
	})
	t.Run("delete", func(t *testing.T) {
		res := cli(nil, nil, "secrets", "delete", "MULTI", "--site", "blog")
		if res.code != 0 || stored("MULTI") != "(absent)" {
			t.Fatalf("exit %d: %s", res.code, res.stderr)
		}
	})
	t.Run("rekey", func(t *testing.T) {
		res := cli(nil, nil, "secrets", "rekey")
		if res.code != 0 || !strings.Contains(res.stdout, "rekeyed 0 secrets; every secret is sealed under key "+ring.PrimaryID()) {
			t.Fatalf("exit %d: %s %s", res.code, res.stdout, res.stderr)
		}
	})
	for _, o := range outputs {
		if strings.Contains(o, "VALUE-never-shown") {
			t.Errorf("a command printed the value: %q", o)
		}
	}
}

func TestEnsureSecretsKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets.key")
	made, err := ensureSecretsKey(path)
	if err != nil || !made {
		t.Fatalf("ensureSecretsKey = %v, %v", made, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v, %v; want mode 0600", fi.Mode(), err)
	}
	first, _ := os.ReadFile(path)
	ring, err := secretbox.ParseKeyring(first)
	if err != nil || len(ring.IDs()) != 1 {
		t.Fatalf("the generated file: %v", err)
	}
	made, err = ensureSecretsKey(path)
	if err != nil || made {
		t.Fatalf("second call = %v, %v; want the key kept", made, err)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, first) {
		t.Fatal("the key file was replaced")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

// TestServeSecretsKey: pier serve generates <data>/secrets.key once and
// logs its id; --secrets-key-file is used as given, and a bad one stops
// start-up naming the line.
func TestServeSecretsKey(t *testing.T) {
	data := t.TempDir()
	var out syncBuffer
	s, err := openServer(context.Background(), testServeConfig(t, "--data", data), io.Discard, &out)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	b, err := os.ReadFile(filepath.Join(data, "secrets.key"))
	if err != nil {
		t.Fatal(err)
	}
	ring, err := secretbox.ParseKeyring(b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "primary_key_id="+ring.PrimaryID()) || !strings.Contains(out.String(), "generated=true") {
		t.Errorf("log: %s", out.String())
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if key := lines[len(lines)-1]; len(key) != 64 || strings.Contains(out.String(), key[:16]) {
		t.Errorf("the key line %d characters, or the log shows it", len(key))
	}

	t.Run("restart keeps the key", func(t *testing.T) {
		var out syncBuffer
		s, err := openServer(context.Background(), testServeConfig(t, "--data", data), io.Discard, &out)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if !strings.Contains(out.String(), "primary_key_id="+ring.PrimaryID()) || !strings.Contains(out.String(), "generated=false") {
			t.Errorf("log: %s", out.String())
		}
	})
	t.Run("a given key file", func(t *testing.T) {
		k1, k2 := secretbox.NewKey(), secretbox.NewKey()
		file := filepath.Join(t.TempDir(), "keys")
		os.WriteFile(file, []byte("# new\n"+hex.EncodeToString(k1)+"\n# old\n"+hex.EncodeToString(k2)+"\n"), 0o600)
		var out syncBuffer
		d := t.TempDir()
		s, err := openServer(context.Background(), testServeConfig(t, "--data", d, "--secrets-key-file", file), io.Discard, &out)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if !strings.Contains(out.String(), "primary_key_id="+secretbox.KeyID(k1)) || !strings.Contains(out.String(), "keys=2") {
			t.Errorf("log: %s", out.String())
		}
		if _, err := os.Stat(filepath.Join(d, "secrets.key")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a key was generated beside the given file: %v", err)
		}
	})
	t.Run("a bad key file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "keys")
		os.WriteFile(file, []byte("# comment\nnot-a-key\n"), 0o600)
		_, err := openServer(context.Background(), testServeConfig(t, "--secrets-key-file", file), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), "not-a-key") {
			t.Fatalf("openServer = %v", err)
		}
		_, err = openServer(context.Background(), testServeConfig(t, "--secrets-key-file", file+".missing"), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--secrets-key-file") {
			t.Fatalf("a missing file: %v", err)
		}
	})
}
