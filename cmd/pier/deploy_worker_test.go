package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/assets"
)

// testWasm is a worker module as far as the fake API's validator cares.
const testWasm = "\x00asm\x01\x00\x00\x00 a worker"

func wasmMagicOnly(wasm []byte) error {
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		return errors.New("not a WebAssembly module: bad magic number")
	}
	return nil
}

func TestDeployWorker(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		// worker is the file (below the project) deployed as the worker.
		worker string
		// wantPaths are the manifest paths deployed.
		wantPaths  []string
		wantConfig map[string]any
	}{
		{
			name:      "flag",
			files:     map[string]string{"public/index.html": "home", "build/app.wasm": testWasm},
			args:      []string{"public", "--site", "blog", "--worker", "build/app.wasm"},
			worker:    "build/app.wasm",
			wantPaths: []string{"/index.html"},
		},
		{
			name: "pier.toml, relative to its directory",
			files: map[string]string{
				"index.html": "home", "api/app.wasm": testWasm,
				"pier.toml": "site = \"blog\"\n[assets]\nrun_worker_first = [\"/api/*\", \"!/api/docs/*\"]\n[worker]\nmain = \"api/app.wasm\"\n[vars]\nGREETING = \"hi\"\nRETRIES = 3\n",
			},
			args:      []string{"."},
			worker:    "api/app.wasm",
			wantPaths: []string{"/index.html"}, // the module is not published as a file
			wantConfig: map[string]any{
				"run_worker_first": []any{"/api/*", "!/api/docs/*"},
				"vars":             map[string]any{"GREETING": "hi", "RETRIES": "3"},
			},
		},
		{
			name: "flag wins over pier.toml",
			files: map[string]string{
				"index.html": "home", "old.wasm": "\x00asm old", "new.wasm": testWasm,
				"pier.toml": "site = \"blog\"\n[assets]\nrun_worker_first = true\n[worker]\nmain = \"old.wasm\"\n",
			},
			args:       []string{".", "--worker", "new.wasm"},
			worker:     "new.wasm",
			wantPaths:  []string{"/index.html", "/old.wasm"},
			wantConfig: map[string]any{"run_worker_first": []any{"*"}},
		},
		{
			name:      "worker only",
			files:     map[string]string{"app.wasm": testWasm},
			args:      []string{".", "--site", "blog", "--worker", "app.wasm"},
			worker:    "app.wasm",
			wantPaths: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			api.validateWorker = wasmMagicOnly
			project := t.TempDir()
			writeTree(t, project, tt.files)
			t.Chdir(project)

			res := runCLI(t, api, false, append([]string{"deploy", "--json"}, tt.args...)...)
			if res.code != 0 {
				t.Fatalf("exit %d\nstderr: %s", res.code, res.stderr)
			}
			hash := assets.Hash(api.salt, []byte(tt.files[tt.worker]))
			got := decodeResult(t, res.stdout)
			if got["worker"] != hash {
				t.Errorf("--json worker = %v, want %s", got["worker"], hash)
			}
			if !bytes.Equal(api.blobs[hash], []byte(tt.files[tt.worker])) {
				t.Errorf("the worker module was not uploaded")
			}
			d := api.deployments[0]
			if d.Worker != hash {
				t.Errorf("deployment worker = %q, want %s", d.Worker, hash)
			}
			paths := make([]string, 0, len(d.Manifest))
			for p := range d.Manifest {
				paths = append(paths, p)
			}
			slices.Sort(paths)
			if !slices.Equal(paths, tt.wantPaths) {
				t.Errorf("manifest paths %v, want %v", paths, tt.wantPaths)
			}
			cfg, _ := api.lastDeploy["config"].(map[string]any)
			for k, want := range tt.wantConfig {
				if g := cfg[k]; !jsonEqual(g, want) {
					t.Errorf("config.%s = %v, want %v", k, g, want)
				}
			}

			t.Run("redeploy does not upload it again", func(t *testing.T) {
				before := api.putCount(hash)
				res := runCLI(t, api, false, append([]string{"deploy", "--json"}, tt.args...)...)
				if res.code != 0 {
					t.Fatalf("exit %d\nstderr: %s", res.code, res.stderr)
				}
				if n := api.putCount(hash); n != before {
					t.Errorf("worker uploaded %d more times", n-before)
				}
				if got := decodeResult(t, res.stdout); got["worker"] != hash {
					t.Errorf("worker = %v", got["worker"])
				}
			})
		})
	}
}

func jsonEqual(a, b any) bool {
	switch a := a.(type) {
	case []any:
		b, ok := b.([]any)
		return ok && slices.EqualFunc(a, b, jsonEqual)
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			if !jsonEqual(v, b[k]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestDeployWorkerHumanOutput(t *testing.T) {
	api := newFakeAPI(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"site/index.html": "home", "app.wasm": testWasm})
	worker := filepath.Join(dir, "app.wasm")
	res := runCLI(t, api, false, "deploy", filepath.Join(dir, "site"), "--site", "blog", "--worker", worker)
	if res.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", res.code, res.stderr)
	}
	hash := assets.Hash(api.salt, []byte(testWasm))
	// The worker is not a file: one file, and the worker on its own line.
	for _, want := range []string{"Files:        1 (1 uploaded, 0 reused)\n", "Worker:       " + hash + " (" + worker + ", uploaded)\n"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout:\n%s\nwant a line %q", res.stdout, want)
		}
	}

	writeTree(t, dir, map[string]string{"site/index.html": "home v2"})
	res = runCLI(t, api, false, "deploy", filepath.Join(dir, "site"), "--site", "blog", "--worker", worker)
	for _, want := range []string{"Files:        1 (1 uploaded, 0 reused)\n", "Worker:       " + hash + " (" + worker + ", reused)\n"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("redeploy stdout:\n%s\nwant a line %q", res.stdout, want)
		}
	}
}

func TestDeployInvalidWorker(t *testing.T) {
	api := newFakeAPI(t)
	api.validateWorker = wasmMagicOnly
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "home"})
	script := filepath.Join(t.TempDir(), "app.wasm")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, api, false, "deploy", dir, "--site", "blog", "--worker", script)
	if res.code != 1 {
		t.Errorf("exit %d, want 1", res.code)
	}
	if want := "worker: not a WebAssembly module: bad magic number (worker_invalid)"; !strings.Contains(res.stderr, want) {
		t.Errorf("stderr = %q, want it to contain %q", res.stderr, want)
	}
	if api.active != "" {
		t.Errorf("deployment %s went live", api.active)
	}
}
