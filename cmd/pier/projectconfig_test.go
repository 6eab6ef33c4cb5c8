package main

import (
	"path/filepath"
	"testing"
)

func TestFindProjectConfig(t *testing.T) {
	cwd := t.TempDir()
	writeTree(t, cwd, map[string]string{
		"pier.toml":          "site = \"from-cwd\"\n",
		"with/pier.toml":     "site = \"from-dir\"\n",
		"without/index.html": "x",
	})
	t.Chdir(cwd)
	tests := []struct {
		name     string
		dir      string
		wantSite string
		wantFile string
	}{
		{name: "in DIR", dir: "with", wantSite: "from-dir", wantFile: filepath.Join("with", "pier.toml")},
		{name: "falls back to the current directory", dir: "without", wantSite: "from-cwd", wantFile: "pier.toml"},
		{name: "current directory", dir: ".", wantSite: "from-cwd", wantFile: "pier.toml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, file, err := findProjectConfig(tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			if c.Site != tt.wantSite || file != tt.wantFile {
				t.Errorf("got site %q from %q, want %q from %q", c.Site, file, tt.wantSite, tt.wantFile)
			}
		})
	}
	t.Run("none", func(t *testing.T) {
		t.Chdir(t.TempDir())
		c, file, err := findProjectConfig(".")
		if err != nil || file != "" || c.Site != "" {
			t.Errorf("got %+v, %q, %v; want an empty config and no file", c, file, err)
		}
	})
}
