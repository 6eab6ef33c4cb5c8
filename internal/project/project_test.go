package project

import (
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path"
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
			c, err := Parse("pier.toml", data)
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

func TestIgnoreRules(t *testing.T) {
	tests := []struct {
		name     string
		patterns string
		path     string
		isDir    bool
		want     bool
	}{
		{name: "basename anywhere", patterns: "*.map", path: "js/app.js.map", want: true},
		{name: "basename at root", patterns: "*.map", path: "app.js.map", want: true},
		{name: "no match", patterns: "*.map", path: "app.js", want: false},
		{name: "anchored", patterns: "/secret.txt", path: "secret.txt", want: true},
		{name: "anchored not deeper", patterns: "/secret.txt", path: "a/secret.txt", want: false},
		{name: "middle slash anchors", patterns: "docs/*.md", path: "docs/a.md", want: true},
		{name: "middle slash anchors not deeper", patterns: "docs/*.md", path: "x/docs/a.md", want: false},
		{name: "dir only matches dir", patterns: "build/", path: "build", isDir: true, want: true},
		{name: "dir only skips file", patterns: "build/", path: "build", want: false},
		{name: "double star prefix", patterns: "**/cache", path: "a/b/cache", isDir: true, want: true},
		{name: "double star suffix", patterns: "drafts/**", path: "drafts/x/y.html", want: true},
		{name: "double star suffix not the dir", patterns: "drafts/**", path: "drafts", isDir: true, want: false},
		{name: "double star middle", patterns: "a/**/z.txt", path: "a/b/c/z.txt", want: true},
		{name: "double star middle zero", patterns: "a/**/z.txt", path: "a/z.txt", want: true},
		{name: "negation re-includes", patterns: "*.txt\n!keep.txt", path: "keep.txt", want: false},
		{name: "last match wins", patterns: "!keep.txt\n*.txt", path: "keep.txt", want: true},
		{name: "comments and blanks", patterns: "# *.html\n\n", path: "index.html", want: false},
		{name: "escaped hash", patterns: `\#notes`, path: "#notes", want: true},
		{name: "question mark", patterns: "v?.js", path: "v1.js", want: true},
		{name: "class", patterns: "[ab].txt", path: "b.txt", want: true},
		{name: "trailing spaces trimmed", patterns: "*.log   ", path: "x.log", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := ParseIgnore([]byte(tt.patterns))
			if err != nil {
				t.Fatal(err)
			}
			if got := rules.Ignored(tt.path, tt.isDir); got != tt.want {
				t.Errorf("ignored(%q, dir=%v) with %q = %v, want %v", tt.path, tt.isDir, tt.patterns, got, tt.want)
			}
		})
	}
}

func TestParseIgnoreBadPattern(t *testing.T) {
	_, err := ParseIgnore([]byte("ok\n[z-\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("err = %v, want a bad pattern on line 2", err)
	}
}

// backtrackSegs is the recursive matcher matchSegs replaced: the
// reference it must agree with (exponential in the number of "**").
func backtrackSegs(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			if len(rest) == 0 {
				return len(name) > 0
			}
			for i := 0; i <= len(name); i++ {
				if backtrackSegs(rest, name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

func TestMatchSegsAgreesWithBacktracking(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	segs := func(choices []string, n int) []string {
		out := make([]string, r.IntN(n+1))
		for i := range out {
			out[i] = choices[r.IntN(len(choices))]
		}
		return out
	}
	for range 100_000 {
		pat := segs([]string{"**", "a", "b", "*", "a*"}, 5)
		name := segs([]string{"a", "b", "ab", "c"}, 6)
		var cost int
		if got, want := matchSegs(pat, name, &cost), backtrackSegs(pat, name); got != want {
			t.Fatalf("matchSegs(%q, %q) = %v, want %v", pat, name, got, want)
		}
	}
}

// TestMatchSegsBounded: many "**" against a deep path, which a
// backtracking matcher takes exponential time on, costs at most
// len(name)·len(pat) steps.
func TestMatchSegsBounded(t *testing.T) {
	rules, err := ParseIgnore([]byte(strings.Repeat("**/a/", 12) + "b\n"))
	if err != nil {
		t.Fatal(err)
	}
	rel := strings.TrimSuffix(strings.Repeat("a/", 300), "/")
	ignored, cost := rules.IgnoredCost(rel, false)
	if ignored {
		t.Error("matched a path without b")
	}
	if limit := 300 * len(rules[0].segs); cost > limit || cost == 0 {
		t.Errorf("cost %d, want 1..%d", cost, limit)
	}
}
