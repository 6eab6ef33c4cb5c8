package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestParseProjectConfig parses every testdata/config/*.toml and compares
// the result (or the error) with the .golden file beside it. Run with
// -update to rewrite the golden files after a deliberate change.
func TestParseProjectConfig(t *testing.T) {
	inputs, err := filepath.Glob("testdata/config/*.toml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".toml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			c, err := parseProjectConfig("pier.toml", data)
			if err != nil {
				got = []byte("error: " + err.Error() + "\n")
			} else {
				got, _ = json.MarshalIndent(c, "", "  ")
				got = append(got, '\n')
			}
			golden := strings.TrimSuffix(in, ".toml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("parse %s:\ngot:\n%s\nwant:\n%s", in, got, want)
			}
		})
	}
}

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
