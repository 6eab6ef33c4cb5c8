package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/apiclient"
	"github.com/pierhq/pier/tenants"
)

// uploadParallelism is how many blobs are uploaded at once.
const uploadParallelism = 8

func runDeploy(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("deploy", "pier deploy [DIR] --site S [--worker F.wasm] [--no-activate] [--json]",
		`Publish the files of DIR as a new deployment of a site, with a WebAssembly
worker if one is given, and make it live. Without DIR, the directory that
pier.toml in the current directory names (assets.directory) is published.
Settings come from pier.toml in DIR, else in the current directory; flags
override them:

  site = "blog"
  [assets]
  directory = "public"          # relative to pier.toml; when DIR holds it, or no DIR
  html_handling = "auto-trailing-slash"
  not_found_handling = "404-page"
  run_worker_first = ["/api/*", "!/api/static/*"]   # or true: every request
  [worker]
  main = "worker.wasm"          # relative to pier.toml
  [vars]
  KEY = "value"                 # read by the worker

.git, .hg, .svn, node_modules, .DS_Store, pier.toml, the worker module and
what DIR/.assetsignore lists (gitignore syntax) are not uploaded as files.
Whatever .assetsignore says, what looks secret is never published and is
reported: .env and .env.*, *.token, private keys (*.pem, *.key, id_rsa…),
.netrc, .npmrc, .pgpass, .htpasswd, .ssh, .aws, .gnupg, and a Pier server's
data directory (one holding pier.db or admin.token), names compared ignoring
case. A symlink is followed only while it stays inside DIR (one leading out
is an error unless .assetsignore lists it) and is left out when the path it
resolves to looks secret; DIR may not resolve into a data directory.
_headers and _redirects at the root are read as configuration, not published:
they are not among the files a deploy or 'pier deployments list' counts.
Only files the server does not have yet are uploaded.`)
	o := addClientFlags(fs, true)
	site := fs.String("site", "", "`name` or id of the site (default: site in pier.toml)")
	noActivate := fs.Bool("no-activate", false, "create the deployment without making it live (preview URL only)")
	html := fs.String("html-handling", "", "`mode`: auto-trailing-slash, force-trailing-slash, drop-trailing-slash or none (default from pier.toml)")
	notFound := fs.String("not-found-handling", "", "`mode`: none, 404-page or single-page-application (default from pier.toml)")
	worker := fs.String("worker", "", "worker `module` (.wasm) to run beside the files (default: worker.main in pier.toml)")
	pos, err := parseArgs(fs, e, args, 0, 1)
	if err != nil {
		return err
	}
	dir := "" // none given
	if len(pos) == 1 {
		dir = pos[0]
	}
	plan, err := planDeploy(dir, deployFlags{site: *site, html: *html, notFound: *notFound, worker: *worker, noActivate: *noActivate})
	if err != nil {
		return err
	}
	d := &deployer{
		client:   o.client(e),
		progress: e.stderr,
		notes:    e.stderr,
		terminal: e.terminal,
	}
	res, err := d.deploy(ctx, plan)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, res)
	}
	return printDeployResult(e.stdout, plan, res)
}

// deployFlags are the command-line settings that override pier.toml.
type deployFlags struct {
	site, html, notFound, worker string
	noActivate                   bool
}

// deployPlan is what to deploy where, resolved from DIR, pier.toml and
// the flags.
type deployPlan struct {
	site     string
	dir      string // the asset directory
	worker   string // the worker module's file, "" for none
	config   apiclient.DeploymentConfig
	activate bool
}

// planDeploy resolves the asset directory and the settings: flags first,
// then pier.toml (DIR/pier.toml, else ./pier.toml). assets.directory is
// relative to the pier.toml that names it and applies when that file is in
// DIR; an explicit DIR with ./pier.toml deploys DIR. Without DIR (dir ""),
// ./pier.toml must name the directory: the current directory is never
// published by default (it may hold a server's data, sources, secrets).
func planDeploy(dir string, f deployFlags) (*deployPlan, error) {
	given := dir != ""
	if !given {
		dir = "."
	}
	pc, file, err := findProjectConfig(dir)
	if err != nil {
		return nil, err
	}
	if !given {
		if err := namesDirectory(pc, file); err != nil {
			return nil, err
		}
	}
	p := &deployPlan{
		site:     firstNonEmpty(f.site, pc.Site),
		dir:      assetDir(dir, pc, file),
		activate: !f.noActivate,
		config: apiclient.DeploymentConfig{
			HTMLHandling:     firstNonEmpty(f.html, pc.HTMLHandling),
			NotFoundHandling: firstNonEmpty(f.notFound, pc.NotFoundHandling),
			RunWorkerFirst:   pc.RunWorkerFirst,
			Vars:             pc.Vars,
			KV:               kvBindings(pc.KV),
		},
	}
	if p.site == "" {
		return nil, usagef("deploy", "no site: pass --site S or set site in pier.toml")
	}
	if p.worker, err = workerModule(f.worker, pc, file); err != nil {
		return nil, err
	}
	// Check the enumerations before any hashing; the server checks again.
	check := tenants.DeploymentConfig{HTMLHandling: p.config.HTMLHandling, NotFoundHandling: p.config.NotFoundHandling}
	if err := check.Normalize(); err != nil {
		return nil, err
	}
	st, err := os.Stat(p.dir)
	if err != nil {
		return nil, fmt.Errorf("asset directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("asset directory %s is not a directory", p.dir)
	}
	return p, nil
}

// namesDirectory checks that the project config read from file ("" for
// none) names the directory to publish, for a deploy given no DIR.
func namesDirectory(pc *projectConfig, file string) error {
	if file == "" {
		return usagef("deploy", "no directory to publish: pass it (pier deploy DIR), or name it in %s ([assets] directory = \"public\")", projectFile)
	}
	if pc.Directory == "" {
		return usagef("deploy", "%s does not name the directory to publish: pass it (pier deploy DIR), or set [assets] directory = \"public\" in %s", file, file)
	}
	return nil
}

// assetDir is the directory to publish: assets.directory of the pier.toml
// read from file when that file is in dir, else dir.
func assetDir(dir string, pc *projectConfig, file string) string {
	switch {
	case pc.Directory == "" || file == "" || filepath.Dir(file) != filepath.Clean(dir):
		return dir
	case filepath.IsAbs(pc.Directory):
		return pc.Directory
	}
	return filepath.Join(filepath.Dir(file), pc.Directory)
}

// workerModule resolves the worker module's file ("" for none): the
// --worker flag, else worker.main of the pier.toml read from file,
// relative to that file; it must be a regular file.
func workerModule(flag string, pc *projectConfig, file string) (string, error) {
	w := flag
	switch {
	case w != "":
	case pc.WorkerMain != "" && filepath.IsAbs(pc.WorkerMain):
		w = pc.WorkerMain
	case pc.WorkerMain != "":
		w = filepath.Join(filepath.Dir(file), pc.WorkerMain)
	default:
		return "", nil
	}
	st, err := os.Stat(w)
	if err != nil {
		return "", fmt.Errorf("worker module: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("worker module %s is not a regular file", w)
	}
	return w, nil
}

// deployResult is what a deploy reports; it is also the --json output.
type deployResult struct {
	Deployment string `json:"deployment"`
	URL        string `json:"url"`
	PreviewURL string `json:"preview_url"`
	// Files are the files published: the deployment's files as the server
	// counts them (assets.Manifest.Files), not the rules files, not the
	// worker. Uploaded of them had content new to the server, Reused did
	// not: Uploaded + Reused = Files.
	Files         int      `json:"files"`
	Uploaded      int      `json:"uploaded"`
	Reused        int      `json:"reused"`
	Rules         []string `json:"rules,omitempty"`  // rules files read as configuration ("/_headers")
	BytesUploaded int64    `json:"bytes_uploaded"`   // bytes sent, rules files and worker included
	Worker        string   `json:"worker,omitempty"` // content hash of the worker module
	// WorkerUploaded says whether the worker module was sent (else the
	// server had it).
	WorkerUploaded bool `json:"-"`
	// Skipped are what the deploy left out because it looks secret.
	Skipped []skippedFile `json:"skipped,omitempty"`
}

// deployer runs the publishing protocol: hash, open an upload session,
// upload the missing blobs, create the deployment.
type deployer struct {
	client   *apiclient.Client
	progress io.Writer // where progress bars go (stderr)
	notes    io.Writer // where skipped secrets are reported (stderr); nil: nowhere
	terminal bool      // draw progress bars
	retry    retryPolicy
	hashers  int // hashing goroutines; default runtime.NumCPU()
	uploads  int // parallel uploads; default uploadParallelism
}

func (d *deployer) deploy(ctx context.Context, p *deployPlan) (*deployResult, error) {
	tree, err := walkAssets(p.dir)
	if err != nil {
		return nil, err
	}
	defer tree.Close()
	if d.notes != nil {
		for _, sk := range tree.skipped {
			fmt.Fprintf(d.notes, "pier: not published: %s (%s)\n", sk.Path, sk.Reason)
		}
	}
	if p.worker != "" {
		if err := tree.exclude(p.worker); err != nil {
			return nil, err
		}
	}
	if len(tree.files) == 0 && p.worker == "" {
		return nil, fmt.Errorf("no files to deploy in %s", p.dir)
	}

	site, salt, err := d.site(ctx, p.site)
	if err != nil {
		return nil, err
	}

	prog := startProgress(d.progress, d.terminal, "hashing", len(tree.files), tree.bytes)
	files, err := hashTree(ctx, tree, salt, d.hashers, prog)
	prog.finish()
	if err != nil {
		return nil, err
	}

	manifest, worker, byHash, err := buildManifest(files, p.worker, salt)
	if err != nil {
		return nil, err
	}
	var session *apiclient.UploadSession
	err = d.retry.do(ctx, apiclient.Retryable, func(ctx context.Context) (err error) {
		session, err = d.client.CreateWorkerUpload(ctx, site.Name, manifest, worker)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("creating upload session: %w", err)
	}

	bytesUp, err := d.uploadMissing(ctx, tree, session, byHash)
	if err != nil {
		return nil, err
	}

	dep, err := d.createDeployment(ctx, site.Name, session.ID, p)
	if err != nil {
		return nil, err
	}
	res := &deployResult{
		Deployment:    dep.ID,
		URL:           dep.URL,
		PreviewURL:    dep.PreviewURL,
		Files:         dep.Files,
		BytesUploaded: bytesUp,
		Worker:        dep.Worker,
		Skipped:       tree.skipped,
	}
	countUploads(res, files, worker, session.Missing)
	return res, nil
}

// site looks the site up (retrying server errors) and returns it with
// its content-hash salt.
func (d *deployer) site(ctx context.Context, name string) (*apiclient.Site, []byte, error) {
	var site *apiclient.Site
	err := d.retry.do(ctx, retryServerErrors, func(ctx context.Context) (err error) {
		site, err = d.client.GetSite(ctx, name)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	salt, err := site.Salt()
	if err != nil {
		return nil, nil, err
	}
	return site, salt, nil
}

// buildManifest returns the manifest of the hashed files, the worker
// module's entry (nil without one; workerPath is hashed here), and the
// first file of each hash, to upload what the server lacks.
func buildManifest(files []hashedFile, workerPath string, salt []byte) (map[string]apiclient.ManifestEntry, *apiclient.ManifestEntry, map[string]*hashedFile, error) {
	manifest := make(map[string]apiclient.ManifestEntry, len(files))
	byHash := make(map[string]*hashedFile, len(files))
	for i := range files {
		f := &files[i]
		manifest[f.path] = apiclient.ManifestEntry{Hash: f.hash, Size: f.size}
		if _, ok := byHash[f.hash]; !ok {
			byHash[f.hash] = f
		}
	}
	if workerPath == "" {
		return manifest, nil, byHash, nil
	}
	w, err := hashWorker(workerPath, salt)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("worker module: %w", err)
	}
	if _, ok := byHash[w.hash]; !ok {
		byHash[w.hash] = w
	}
	return manifest, &apiclient.ManifestEntry{Hash: w.hash, Size: w.size}, byHash, nil
}

// createDeployment creates the deployment of the upload session.
// Creating a deployment is not idempotent: it is retried only when the
// server said it did nothing.
func (d *deployer) createDeployment(ctx context.Context, site, upload string, p *deployPlan) (*apiclient.Deployment, error) {
	activate := p.activate
	var dep *apiclient.Deployment
	err := d.retry.do(ctx, retryUnavailable, func(ctx context.Context) (err error) {
		dep, err = d.client.CreateDeployment(ctx, site, apiclient.CreateDeployment{
			Upload:   upload,
			Config:   p.config,
			Source:   apiclient.Source{Type: "cli"},
			Activate: &activate,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("creating deployment: %w", err)
	}
	return dep, nil
}

// countUploads fills in which of the published files (and whether the
// worker) had content this deploy sent, from the hashes the upload session
// asked for.
func countUploads(res *deployResult, files []hashedFile, worker *apiclient.ManifestEntry, sent []string) {
	missing := make(map[string]bool, len(sent))
	for _, h := range sent {
		missing[h] = true
	}
	for _, f := range files {
		switch {
		case assets.IsRulesFile(f.path):
			res.Rules = append(res.Rules, f.path)
		case missing[f.hash]:
			res.Uploaded++
		default:
			res.Reused++
		}
	}
	res.WorkerUploaded = worker != nil && missing[worker.Hash]
}

// uploadMissing uploads the blobs session lacks, a few at a time, each
// retried on its own, and returns the bytes sent.
func (d *deployer) uploadMissing(ctx context.Context, tree *assetTree, session *apiclient.UploadSession, byHash map[string]*hashedFile) (int64, error) {
	todo := make([]*hashedFile, 0, len(session.Missing))
	var total int64
	seen := make(map[string]bool, len(session.Missing))
	for _, h := range session.Missing {
		f, ok := byHash[h]
		if !ok {
			return 0, fmt.Errorf("the server asked for blob %s, which is not in the manifest", h)
		}
		if seen[h] {
			continue
		}
		seen[h] = true
		todo = append(todo, f)
		total += f.size
	}
	if len(todo) == 0 {
		return 0, nil
	}
	parallel := d.uploads
	if parallel <= 0 {
		parallel = uploadParallelism
	}
	prog := startProgress(d.progress, d.terminal, "uploading", len(todo), total)
	defer prog.finish()
	var sent atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for _, f := range todo {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			err := d.retry.do(gctx, apiclient.Retryable, func(ctx context.Context) error {
				return d.uploadOne(ctx, tree, session.ID, f, prog)
			})
			if err != nil {
				return fmt.Errorf("uploading %s: %w", f.path, err)
			}
			sent.Add(f.size)
			prog.addFile()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return sent.Load(), nil
}

// uploadOne streams one file as a blob. Progress counts bytes as they are
// sent and takes them back if the attempt fails.
func (d *deployer) uploadOne(ctx context.Context, tree *assetTree, upload string, f *hashedFile, prog *progress) error {
	var r io.ReadCloser
	var err error
	if f.outside != "" {
		r, err = os.Open(f.outside)
	} else {
		r, err = tree.root.Open(f.rel)
	}
	if err != nil {
		return fmt.Errorf("opening: %w", err)
	}
	defer r.Close()
	cr := &countingReader{r: r, prog: prog}
	err = d.client.PutBlob(ctx, upload, f.hash, cr, f.size)
	if err != nil {
		prog.addBytes(-cr.n)
		if cr.eof && cr.n < f.size {
			return fmt.Errorf("file changed during the deploy (now %d bytes, hashed %d); deploy again", cr.n, f.size)
		}
		var ae *apiclient.Error
		if errors.As(err, &ae) && ae.Code == "hash_mismatch" {
			return fmt.Errorf("%w; did the file change during the deploy?", err)
		}
	}
	return err
}

// countingReader counts the bytes read through it into a progress bar.
type countingReader struct {
	r    io.Reader
	prog *progress
	n    int64
	eof  bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.prog.addBytes(int64(n))
	if err == io.EOF {
		c.eof = true
	}
	return n, err
}

func printDeployResult(w io.Writer, p *deployPlan, r *deployResult) error {
	t := newTable(w)
	t.row("Deployment:", r.Deployment)
	if p.activate {
		t.row("Live URL:", r.URL)
	} else {
		t.row("Live URL:", r.URL+" (unchanged: deployment not activated)")
	}
	t.row("Preview URL:", r.PreviewURL)
	t.row("Files:", fmt.Sprintf("%d (%d uploaded, %d reused)", r.Files, r.Uploaded, r.Reused))
	if len(r.Rules) > 0 {
		t.row("Rules:", strings.Join(r.Rules, ", ")+" (configuration, not served)")
	}
	if r.Worker != "" {
		how := "reused"
		if r.WorkerUploaded {
			how = "uploaded"
		}
		t.row("Worker:", fmt.Sprintf("%s (%s, %s)", r.Worker, p.worker, how))
	}
	t.row("Uploaded:", formatBytes(r.BytesUploaded))
	return t.flush()
}
