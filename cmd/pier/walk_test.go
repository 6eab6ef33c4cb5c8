package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func walkPaths(t *testing.T, dir string) ([]string, error) {
	t.Helper()
	tree, err := walkAssets(dir)
	if err != nil {
		return nil, err
	}
	defer tree.Close()
	var paths []string
	for _, f := range tree.files {
		paths = append(paths, f.path)
	}
	return paths, nil
}

func TestWalkAssets(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		setup   func(t *testing.T, dir string)
		want    []string
		wantErr string
	}{
		{
			name: "skips VCS, node_modules, .DS_Store, pier.toml and .assetsignore",
			files: map[string]string{
				"index.html": "x", "a/b/c.css": "x", ".git/HEAD": "x", ".hg/x": "x", ".svn/x": "x",
				"node_modules/m/i.js": "x", "a/.DS_Store": "x", "pier.toml": "site = \"x\"", ".assetsignore": "",
				".well-known/security.txt": "x",
			},
			want: []string{"/.well-known/security.txt", "/a/b/c.css", "/index.html"},
		},
		{
			name: "assetsignore",
			files: map[string]string{
				"index.html": "x", "app.js": "x", "app.js.map": "x", "drafts/a.html": "x", "keep/x.md": "x", "other/x.md": "x",
				".assetsignore": "*.map\ndrafts/\n*.md\n!keep/*.md\n",
			},
			want: []string{"/app.js", "/index.html", "/keep/x.md"},
		},
		{
			name:  "symlinks inside are followed",
			files: map[string]string{"real/a.txt": "x", "b.txt": "y"},
			setup: func(t *testing.T, dir string) {
				symlink(t, "real", filepath.Join(dir, "alias"))
				symlink(t, "../b.txt", filepath.Join(dir, "real", "c.txt"))
			},
			want: []string{"/alias/a.txt", "/alias/c.txt", "/b.txt", "/real/a.txt", "/real/c.txt"},
		},
		{
			name:  "symlink leaving the directory",
			files: map[string]string{"index.html": "x"},
			setup: func(t *testing.T, dir string) {
				outside := filepath.Join(t.TempDir(), "secret")
				if err := os.WriteFile(outside, []byte("s"), 0o600); err != nil {
					t.Fatal(err)
				}
				symlink(t, outside, filepath.Join(dir, "leak.txt"))
			},
			wantErr: "leak.txt points outside",
		},
		{
			name:  "relative symlink climbing out",
			files: map[string]string{"sub/index.html": "x"},
			setup: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "sibling.txt"), []byte("s"), 0o600); err != nil {
					t.Fatal(err)
				}
				symlink(t, "../../sibling.txt", filepath.Join(dir, "sub", "up.txt"))
			},
			wantErr: "up.txt points outside",
		},
		{
			name:  "ignored escaping symlink is fine",
			files: map[string]string{"index.html": "x", ".assetsignore": "leak.txt\n"},
			setup: func(t *testing.T, dir string) {
				symlink(t, "/etc/passwd", filepath.Join(dir, "leak.txt"))
			},
			want: []string{"/index.html"},
		},
		{
			name:  "dangling symlink",
			files: map[string]string{"index.html": "x"},
			setup: func(t *testing.T, dir string) {
				symlink(t, "nowhere", filepath.Join(dir, "gone.txt"))
			},
			wantErr: "symlink",
		},
		{
			name:  "symlink loop",
			files: map[string]string{"a/index.html": "x"},
			setup: func(t *testing.T, dir string) {
				symlink(t, "..", filepath.Join(dir, "a", "up"))
			},
			wantErr: "loops back",
		},
		{
			name:  "irregular file",
			files: map[string]string{"index.html": "x"},
			setup: func(t *testing.T, dir string) {
				if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
					t.Skipf("mkfifo: %v", err)
				}
			},
			wantErr: "pipe is not a regular file",
		},
		{
			name:    "backslash in a name",
			files:   map[string]string{`a\b.html`: "x"},
			wantErr: "contains a backslash",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "site")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			writeTree(t, dir, tt.files)
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			got, err := walkPaths(t, dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q (files %v)", err, tt.wantErr, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("files = %v, want %v", got, tt.want)
			}
		})
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestWalkAssetsSecrets: what looks secret is never walked into the
// deployment, whatever .assetsignore says, and is reported unless
// .assetsignore already leaves it out. Names are compared ignoring case,
// and a symlink is judged by its target's path as well as by its name.
func TestWalkAssetsSecrets(t *testing.T) {
	const envReason = "an environment file, secret by convention"
	tests := []struct {
		name        string
		files       map[string]string
		links       [][2]string // link, target: symlinks made after files
		want        []string
		wantSkipped []skippedFile
	}{
		{
			name: "data directory of make run",
			files: map[string]string{
				"index.html": "x", "data/admin.token": "secret", "data/pier.db": "db", "data/blobs/t1/ab": "blob",
			},
			want:        []string{"/index.html"},
			wantSkipped: []skippedFile{{"/data/", dataDirReason}},
		},
		{
			name:        "data directory with only a database",
			files:       map[string]string{"index.html": "x", "state/pier.db": "db", "state/notes.txt": "x"},
			want:        []string{"/index.html"},
			wantSkipped: []skippedFile{{"/state/", dataDirReason}},
		},
		{
			name:  "token files at any depth",
			files: map[string]string{"index.html": "x", "ci.token": "s", "a/b/deploy.token": "s", "tokens.html": "x"},
			want:  []string{"/index.html", "/tokens.html"},
			wantSkipped: []skippedFile{
				{"/a/b/deploy.token", "a token file"},
				{"/ci.token", "a token file"},
			},
		},
		{
			name:  "env files",
			files: map[string]string{"index.html": "x", ".env": "K=v", ".env.production": "K=v", "sub/.env.local": "K=v", "env.js": "x"},
			want:  []string{"/env.js", "/index.html"},
			wantSkipped: []skippedFile{
				{"/.env", "an environment file, secret by convention"},
				{"/.env.production", "an environment file, secret by convention"},
				{"/sub/.env.local", "an environment file, secret by convention"},
			},
		},
		{
			name:  "keys and credentials",
			files: map[string]string{"index.html": "x", "tls/site.key": "k", "tls/site.pem": "k", ".ssh/id_ed25519": "k", "id_rsa": "k", ".netrc": "x", ".npmrc": "x"},
			want:  []string{"/index.html"},
			wantSkipped: []skippedFile{
				{"/.netrc", "a credentials file"},
				{"/.npmrc", "may hold a registry token"},
				{"/.ssh/", "a directory of keys"},
				{"/id_rsa", "a private key"},
				{"/tls/site.key", "a private key"},
				{"/tls/site.pem", "a key or certificate file"},
			},
		},
		{
			name:        ".assetsignore cannot re-include a secret",
			files:       map[string]string{"index.html": "x", "x.token": "s", ".assetsignore": "!x.token\n!*.token\n"},
			want:        []string{"/index.html"},
			wantSkipped: []skippedFile{{"/x.token", "a token file"}},
		},
		{
			name:  "a secret .assetsignore leaves out is not reported",
			files: map[string]string{"index.html": "x", "x.token": "s", "data/admin.token": "s", ".assetsignore": "*.token\ndata/\n"},
			want:  []string{"/index.html"},
		},
		{
			name:  "names in any case",
			files: map[string]string{"index.html": "x", "CI.TOKEN": "s", "server.KEY": "k", ".ENV.Local": "K=v", "Id_Rsa": "k", "Site.Pem": "k"},
			want:  []string{"/index.html"},
			wantSkipped: []skippedFile{
				{"/.ENV.Local", envReason},
				{"/CI.TOKEN", "a token file"},
				{"/Id_Rsa", "a private key"},
				{"/Site.Pem", "a key or certificate file"},
				{"/server.KEY", "a private key"},
			},
		},
		{
			name:  "data directory markers in any case",
			files: map[string]string{"index.html": "x", "state/PIER.DB": "db", "state/blobs/t1/ab": "blob", "old/ADMIN.TOKEN": "s", "old/notes.txt": "x"},
			want:  []string{"/index.html"},
			wantSkipped: []skippedFile{
				{"/old/", dataDirReason},
				{"/state/", dataDirReason},
			},
		},
		{
			name:  "symlink to a file in a data directory",
			files: map[string]string{"index.html": "x", "sub/data/admin.token": "secret", "sub/data/blobs/t1/ab": "blob"},
			links: [][2]string{{"token.txt", "sub/data/admin.token"}, {"blob.bin", "sub/data/blobs/t1/ab"}},
			want:  []string{"/index.html"},
			wantSkipped: []skippedFile{
				{"/blob.bin", "a symlink into /sub/data/: " + dataDirReason},
				{"/sub/data/", dataDirReason},
				{"/token.txt", "a symlink into /sub/data/: " + dataDirReason},
			},
		},
		{
			name:  "symlink to an env file",
			files: map[string]string{"index.html": "x", ".env": "K=v"},
			links: [][2]string{{"env.txt", ".env"}},
			want:  []string{"/index.html"},
			wantSkipped: []skippedFile{
				{"/.env", envReason},
				{"/env.txt", "a symlink to /.env: " + envReason},
			},
		},
		{
			name:  "symlink to a key directory",
			files: map[string]string{"index.html": "x", ".ssh/config": "Host x", ".ssh/id_ed25519": "k"},
			links: [][2]string{{"keys", ".ssh"}},
			want:  []string{"/index.html"},
			wantSkipped: []skippedFile{
				{"/.ssh/", "a directory of keys"},
				{"/keys/", "a symlink to /.ssh/: a directory of keys"},
			},
		},
		{
			name:  "symlink into a key directory, through a linked directory",
			files: map[string]string{"index.html": "x", "home/.aws/credentials": "k"},
			links: [][2]string{{"h", "home"}, {"creds.txt", "h/.aws/credentials"}},
			want:  []string{"/index.html"},
			wantSkipped: []skippedFile{
				{"/creds.txt", "a symlink into /home/.aws/: a directory of credentials"},
				{"/h/.aws/", "a directory of credentials"},
				{"/home/.aws/", "a directory of credentials"},
			},
		},
		{
			name:  "chain of symlinks to a secret in another case",
			files: map[string]string{"index.html": "x", "conf/Deploy.Token": "s"},
			links: [][2]string{{"a.txt", "b.txt"}, {"b.txt", "conf/Deploy.Token"}},
			want:  []string{"/index.html"},
			wantSkipped: []skippedFile{
				{"/a.txt", "a symlink to /conf/Deploy.Token: a token file"},
				{"/b.txt", "a symlink to /conf/Deploy.Token: a token file"},
				{"/conf/Deploy.Token", "a token file"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "site")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			writeTree(t, dir, tt.files)
			for _, l := range tt.links {
				symlink(t, l[1], filepath.Join(dir, l[0]))
			}
			tree, err := walkAssets(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer tree.Close()
			var got []string
			for _, f := range tree.files {
				got = append(got, f.path)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("files = %v, want %v", got, tt.want)
			}
			if !slices.Equal(tree.skipped, tt.wantSkipped) {
				t.Errorf("skipped = %v, want %v", tree.skipped, tt.wantSkipped)
			}
		})
	}
}

// TestWalkAssetsDataDirectory: a server's data directory, a directory
// inside one, or a symlink into one is refused as a whole.
func TestWalkAssetsDataDirectory(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	writeTree(t, data, map[string]string{"admin.token": "secret", "blobs/t1/ab": "blob"})
	pub := filepath.Join(t.TempDir(), "pub")
	symlink(t, filepath.Join(data, "blobs"), pub)
	for _, dir := range []string{data, filepath.Join(data, "blobs"), pub} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tree, err := walkAssets(dir)
			if err == nil {
				tree.Close()
				t.Fatalf("walkAssets(%s) succeeded, want a refusal", dir)
			}
			if !strings.Contains(err.Error(), "a Pier server's data directory (it holds admin.token): it is never published") {
				t.Errorf("err = %v", err)
			}
		})
	}
}
