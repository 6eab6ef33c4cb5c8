package assets_test

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pierhq/pier/assets"
)

const goodHash = "0123456789abcdef"

func TestValidatePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		path string
		ok   bool
	}{
		{"root file", "/index.html", true},
		{"nested", "/a/b/c.html", true},
		{"unicode", "/blog/über-uns/日本.html", true},
		{"dots in name", "/a..b/c...d.txt", true},
		{"dot file", "/.well-known/security.txt", true},
		{"spaces", "/my file.pdf", true},
		{"max length", "/" + strings.Repeat("a", assets.MaxPathLen-1), true},
		{"empty", "", false},
		{"too long", "/" + strings.Repeat("a", assets.MaxPathLen), false},
		{"relative", "index.html", false},
		{"dot relative", "./index.html", false},
		{"root only", "/", false},
		{"trailing slash", "/a/", false},
		{"double slash", "/a//b", false},
		{"leading double slash", "//a", false},
		{"dotdot", "/a/../b", false},
		{"dotdot at end", "/a/..", false},
		{"dotdot at start", "/../a", false},
		{"dot segment", "/a/./b", false},
		{"dot at end", "/a/.", false},
		{"nul", "/a\x00b", false},
		{"newline", "/a\nb", false},
		{"tab", "/a\tb", false},
		{"carriage return", "/a\rb", false},
		{"escape", "/a\x1bb", false},
		{"del", "/a\x7fb", false},
		{"backslash", `/a\b`, false},
		{"backslash dotdot", `/a\..\b`, false},
		{"invalid utf8", "/a\xffb", false},
		{"truncated utf8", "/a\xe6\x97", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := assets.ValidatePath(tc.path)
			if tc.ok {
				if err != nil {
					t.Fatalf("ValidatePath(%q) = %v, want nil", tc.path, err)
				}
				return
			}
			var me *assets.ManifestError
			if !errors.As(err, &me) {
				t.Fatalf("ValidatePath(%q) = %v, want a *ManifestError", tc.path, err)
			}
			if me.Code != assets.CodePathInvalid || me.Path != tc.path {
				t.Errorf("got code %q path %q, want %q path %q", me.Code, me.Path, assets.CodePathInvalid, tc.path)
			}
			if !errors.Is(err, assets.ErrInvalidManifest) {
				t.Error("error does not wrap ErrInvalidManifest")
			}
			if !strings.Contains(me.Msg, fmt.Sprintf("%q", tc.path)) {
				t.Errorf("message %q does not name the path", me.Msg)
			}
		})
	}
}

func TestValidatePathTooLongNamesLimit(t *testing.T) {
	t.Parallel()
	p := "/" + strings.Repeat("x", 2000)
	var me *assets.ManifestError
	if !errors.As(assets.ValidatePath(p), &me) {
		t.Fatal("want a *ManifestError")
	}
	if me.Limit != assets.MaxPathLen || !strings.Contains(me.Msg, "1024") {
		t.Errorf("limit %d, message %q: want the limit 1024 named", me.Limit, me.Msg)
	}
}

func TestManifestValidate(t *testing.T) {
	t.Parallel()
	entry := func(hash string, size int64) assets.Entry { return assets.Entry{Hash: hash, Size: size} }
	many := func(n int) assets.Manifest {
		m := assets.Manifest{}
		for i := range n {
			m[fmt.Sprintf("/f%d.txt", i)] = entry(goodHash, 1)
		}
		return m
	}
	tests := []struct {
		name      string
		m         assets.Manifest
		limits    assets.Limits
		wantCode  string // "" = valid
		wantPath  string
		wantLimit int64
	}{
		{"empty manifest", assets.Manifest{}, assets.Limits{}, "", "", 0},
		{"valid", assets.Manifest{"/index.html": entry(goodHash, 100), "/a/b.css": entry(goodHash, 0)}, assets.Limits{}, "", "", 0},
		{"default max file size ok", assets.Manifest{"/big.bin": entry(goodHash, assets.DefaultMaxFileSize)}, assets.Limits{}, "", "", 0},
		{"default max file size exceeded", assets.Manifest{"/big.bin": entry(goodHash, assets.DefaultMaxFileSize+1)}, assets.Limits{},
			assets.CodeFileTooLarge, "/big.bin", assets.DefaultMaxFileSize},
		{"custom max file size", assets.Manifest{"/a": entry(goodHash, 11)}, assets.Limits{MaxFileSize: 10},
			assets.CodeFileTooLarge, "/a", 10},
		{"custom max files ok", many(3), assets.Limits{MaxFiles: 3}, "", "", 0},
		{"custom max files exceeded", many(4), assets.Limits{MaxFiles: 3}, assets.CodeTooManyFiles, "", 3},
		{"default max files exceeded", many(assets.DefaultMaxFiles + 1), assets.Limits{}, assets.CodeTooManyFiles, "", assets.DefaultMaxFiles},
		{"bad path", assets.Manifest{"/a/../b": entry(goodHash, 1)}, assets.Limits{}, assets.CodePathInvalid, "/a/../b", 0},
		{"uppercase hash", assets.Manifest{"/a": entry(strings.ToUpper(goodHash), 1)}, assets.Limits{}, assets.CodeHashInvalid, "/a", 0},
		{"short hash", assets.Manifest{"/a": entry("abc", 1)}, assets.Limits{}, assets.CodeHashInvalid, "/a", 0},
		{"empty hash", assets.Manifest{"/a": entry("", 1)}, assets.Limits{}, assets.CodeHashInvalid, "/a", 0},
		{"negative size", assets.Manifest{"/a": entry(goodHash, -1)}, assets.Limits{}, assets.CodeSizeInvalid, "/a", 0},
		{"first bad path reported", assets.Manifest{
			"/z":      entry("bad", 1),
			"/m":      entry(goodHash, -5),
			"/b//c":   entry(goodHash, 1),
			"/a.html": entry(goodHash, 1),
		}, assets.Limits{}, assets.CodePathInvalid, "/b//c", 0},
		{"too many files before paths", assets.Manifest{"bad": entry(goodHash, 1), "/ok": entry(goodHash, 1)},
			assets.Limits{MaxFiles: 1}, assets.CodeTooManyFiles, "", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.m.Validate(tc.limits)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var me *assets.ManifestError
			if !errors.As(err, &me) {
				t.Fatalf("Validate = %v, want a *ManifestError", err)
			}
			if me.Code != tc.wantCode || me.Path != tc.wantPath || me.Limit != tc.wantLimit {
				t.Errorf("got {%s %q %d}, want {%s %q %d} (%s)", me.Code, me.Path, me.Limit, tc.wantCode, tc.wantPath, tc.wantLimit, me.Msg)
			}
			if tc.wantPath != "" && !strings.Contains(err.Error(), tc.wantPath) {
				t.Errorf("message %q does not name the path", err)
			}
			if tc.wantLimit != 0 && !strings.Contains(err.Error(), fmt.Sprint(tc.wantLimit)) {
				t.Errorf("message %q does not name the limit", err)
			}
		})
	}
}

func TestManifestValidateDeterministic(t *testing.T) {
	t.Parallel()
	m := assets.Manifest{}
	for i := range 200 {
		m[fmt.Sprintf("/dir%03d//x", i)] = assets.Entry{Hash: goodHash}
	}
	for range 20 {
		var me *assets.ManifestError
		if !errors.As(m.Validate(assets.Limits{}), &me) || me.Path != "/dir000//x" {
			t.Fatalf("got %v, want the lexically first path /dir000//x", me)
		}
	}
}

func FuzzValidatePath(f *testing.F) {
	for _, s := range []string{"/index.html", "/a/../b", "/a//b", "", "/", "a", "/a\x00", `/a\b`, "/über", "/a/.", "/\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := assets.ValidatePath(p)
		if err != nil {
			var me *assets.ManifestError
			if !errors.As(err, &me) || me.Code != assets.CodePathInvalid || me.Path != p {
				t.Fatalf("ValidatePath(%q) = %#v, want a path_invalid *ManifestError", p, err)
			}
			return
		}
		// Whatever passes is safe to join under a directory: absolute,
		// clean, no traversal, no control characters, bounded.
		if len(p) == 0 || len(p) > assets.MaxPathLen || p[0] != '/' || strings.HasSuffix(p, "/") {
			t.Fatalf("accepted %q", p)
		}
		if strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") || strings.Contains(p, "//") || strings.ContainsAny(p, "\\\x00") {
			t.Fatalf("accepted %q", p)
		}
		if !utf8.ValidString(p) || path.Clean(p) != p {
			t.Fatalf("accepted %q", p)
		}
		for _, r := range p {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("accepted %q with control character %U", p, r)
			}
		}
		if err := (assets.Manifest{p: {Hash: goodHash}}).Validate(assets.Limits{}); err != nil {
			t.Fatalf("ValidatePath accepted %q but Validate rejects it: %v", p, err)
		}
	})
}
