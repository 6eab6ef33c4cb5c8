package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pierhq/pier/assets"
)

// pierProc is a `pier serve` started by the benchmark.
type pierProc struct {
	cmd   *exec.Cmd
	bin   string // the binary serving, whose CLI cli runs
	API   string
	Edge  string
	Token string
	Data  string
}

func startPierServe(ctx context.Context, data string, extra []string, env []string) (*pierProc, error) {
	return startPierServeBin(ctx, pierBin(), data, extra, env)
}

// startPierServeBin starts bin serve on data and waits for its API.
func startPierServeBin(ctx context.Context, bin, data string, extra []string, env []string) (*pierProc, error) {
	edge, err := freeAddr()
	if err != nil {
		return nil, err
	}
	adm, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--data", data, "--http", edge, "--admin", adm, "--log-level", "warn"}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w (run make build)", bin, err)
	}
	p := &pierProc{cmd: cmd, bin: bin, API: "http://" + adm, Edge: edge, Data: data}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.API + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("pier serve did not become ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		p.Stop()
		return nil, err
	}
	p.Token = strings.TrimSpace(string(tok))
	return p, nil
}

func (p *pierProc) Stop() {
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// cli runs a pier client command against p and returns its stdout.
func (p *pierProc) cli(ctx context.Context, args ...string) ([]byte, error) {
	bin := p.bin
	if bin == "" {
		bin = pierBin()
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "PIER_API="+p.API, "PIER_TOKEN="+p.Token)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("pier %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

type minioProc struct {
	stop                func()
	Endpoint, User, Key string
}

func startMinIO(ctx context.Context, dir string) (*minioProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	console, err := freeAddr()
	if err != nil {
		return nil, err
	}
	m := &minioProc{Endpoint: "http://" + addr, User: "pierbench", Key: "pierbench-secret"}
	m.stop, err = startProcess(ctx, minioBin(), []string{"server", "--quiet", "--address", addr, "--console-address", console, dir},
		[]string{"MINIO_ROOT_USER=" + m.User, "MINIO_ROOT_PASSWORD=" + m.Key, "MINIO_BROWSER=off"})
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w (run make tools)", minioBin(), err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(m.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return m, nil
			}
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, fmt.Errorf("minio did not become ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type deployJSON struct {
	Deployment    string `json:"deployment"`
	Files         int    `json:"files"`
	Uploaded      int    `json:"uploaded"`
	Reused        int    `json:"reused"`
	BytesUploaded int64  `json:"bytes_uploaded"`
}

// benchDeploy: a 10,000-file / 200 MB site deployed to MinIO through the
// real CLI and server, then redeployed with one changed file.
func benchDeploy(ctx context.Context) error {
	work, err := os.MkdirTemp("", "pier-bench-deploy")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	// The site: 10,000 files averaging 20 KiB (200 MB): 80% binary
	// (images, fonts: stored as is), 20% HTML/CSS/JS (also compressed).
	site := filepath.Join(work, "site")
	var total int64
	contents := make([][]byte, 0, 10_000)
	for i := 0; i < 10_000; i++ {
		rel, b := siteFile(i)
		p := filepath.Join(site, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
		total += int64(len(b))
		contents = append(contents, b)
	}

	// Hashing throughput, in memory (the client's and the server's hash).
	salt := make([]byte, 16)
	start := time.Now()
	for _, c := range contents {
		assets.Hash(salt, c)
	}
	hashRate := float64(total) / time.Since(start).Seconds() / 1e9

	m, err := startMinIO(ctx, filepath.Join(work, "minio"))
	if err != nil {
		return err
	}
	defer m.stop()
	p, err := startPierServe(ctx, filepath.Join(work, "data"),
		[]string{"--s3-endpoint", m.Endpoint, "--s3-bucket", "pier-bench"},
		[]string{"AWS_ACCESS_KEY_ID=" + m.User, "AWS_SECRET_ACCESS_KEY=" + m.Key})
	if err != nil {
		return err
	}
	defer p.Stop()
	if _, err := p.cli(ctx, "tenants", "create", "bench"); err != nil {
		return err
	}
	if _, err := p.cli(ctx, "sites", "create", "big", "--tenant", "bench"); err != nil {
		return err
	}

	deploy := func() (deployJSON, time.Duration, error) {
		start := time.Now()
		out, err := p.cli(ctx, "deploy", site, "--site", "big", "--json")
		d := time.Since(start)
		var res deployJSON
		if err == nil {
			err = json.Unmarshal(out, &res)
		}
		return res, d, err
	}
	first, d1, err := deploy()
	if err != nil {
		return err
	}
	// One changed file.
	changed := filepath.Join(site, "d00", "f00000.html")
	if err := os.WriteFile(changed, []byte("<h1>changed at "+time.Now().String()+"</h1>"), 0o644); err != nil {
		return err
	}
	second, d2, err := deploy()
	if err != nil {
		return err
	}

	fmt.Println("deploy benchmark: 10,000 files, 200 MB, pier CLI → pier serve → MinIO on this machine")
	fmt.Printf("  hashing (salted XXH64, in memory)   %.2f GB/s   (target ≥ 1 GB/s)\n", hashRate)
	fmt.Printf("  first deploy                        %v   files %d, uploaded %d (%.0f MB), %.0f MB/s end to end\n",
		d1.Round(time.Millisecond), first.Files, first.Uploaded, float64(first.BytesUploaded)/1e6, float64(first.BytesUploaded)/1e6/d1.Seconds())
	fmt.Printf("  redeploy, one file changed          %v   uploaded %d, reused %d   (target: exactly 1 upload, < 2 s)\n",
		d2.Round(time.Millisecond), second.Uploaded, second.Reused)
	if second.Uploaded != 1 {
		return fmt.Errorf("redeploy uploaded %d blobs, want exactly 1", second.Uploaded)
	}
	return nil
}

// siteFile is file i of the benchmarks' 10,000-file site (the deploy
// and git push benchmarks): its path and contents, deterministic (the
// same on every run and for any i alone). 80% are binary (images, fonts:
// stored as is), 20% HTML (also compressed); 4–36 KiB each, ≈ 200 MB in
// all.
func siteFile(i int) (string, []byte) {
	r := rand.New(rand.NewPCG(uint64(i), 0x9e3779b97f4a7c15))
	size := 4<<10 + r.IntN(32<<10)
	b := make([]byte, size)
	ext := "jpg"
	if i%5 == 0 {
		ext = "html"
		const alphabet = "<div class=\"card\">lorem ipsum dolor sit amet</div>\n"
		for j := range b {
			b[j] = alphabet[(j+r.IntN(3))%len(alphabet)]
		}
	} else {
		var seed [32]byte
		for k := 0; k < len(seed); k += 8 {
			v := r.Uint64()
			for n := range 8 {
				seed[k+n] = byte(v >> (8 * n))
			}
		}
		rand.NewChaCha8(seed).Read(b)
	}
	return fmt.Sprintf("d%02d/f%05d.%s", i%100, i, ext), b
}
