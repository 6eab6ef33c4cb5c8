package gitserve

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/project"
	"github.com/pierhq/pier/tenants"
)

// maxProjectFile bounds pier.toml and .assetsignore read from a commit.
const maxProjectFile = 1 << 20

// placeholderHash stands for content hashes not computed yet.
const placeholderHash = "0000000000000000"

// maxIgnoreWork bounds the pattern steps a pushed .assetsignore may take
// over the whole tree (about a second of CPU): the rules are the tenant's,
// so they must not buy unbounded server time.
const maxIgnoreWork = 50_000_000

// maxSkipLines bounds the "skipped" lines a push prints.
const maxSkipLines = 10

// userError is a refusal whose message is for the pusher as it is.
type userError struct{ msg string }

func (e *userError) Error() string { return e.msg }

func refusef(format string, args ...any) error { return &userError{fmt.Sprintf(format, args...)} }

// treeEntry is one line of git ls-tree -r -l.
type treeEntry struct {
	mode, typ, oid string
	size           int64
	path           string
}

// publish builds the deployment of commit for branch from the quarantined
// objects (env), or finds the deployment of the same tree, and returns its
// id. It never activates: the store does, with the refs.
func (p *push) publish(ctx context.Context, env []string, branch, commit string, say func(string, ...any)) (string, bool, error) {
	gitDir := "--git-dir=" + p.dir
	out, err := p.s.output(ctx, env, gitDir, "rev-parse", "--verify", "--quiet", commit+"^{tree}")
	if err != nil {
		return "", false, refusef("commit %s of %s has no tree", commit, branch)
	}
	tree := strings.TrimSpace(string(out))
	if d, err := p.s.cfg.Store.DeploymentByTree(ctx, p.site.ID, tree); err == nil {
		say("%s: commit %s has the tree of deployment %s; reusing it, nothing uploaded", branch, commit[:7], d.ID)
		return d.ID, true, nil
	} else if !errors.Is(err, tenants.ErrNotFound) {
		return "", false, err
	}
	entries, err := p.lsTree(ctx, env, tree)
	if err != nil {
		return "", false, err
	}
	cat, err := p.s.newCatFile(ctx, env, p.dir)
	if err != nil {
		return "", false, err
	}
	defer cat.close()

	byPath := map[string]treeEntry{}
	for _, e := range entries {
		byPath[e.path] = e
	}
	pc := &project.Config{}
	if e, ok := byPath[project.File]; ok && e.typ == "blob" {
		data, err := cat.small(e.oid, maxProjectFile, project.File)
		if err != nil {
			return "", false, err
		}
		if pc, err = project.Parse(project.File, data); err != nil {
			return "", false, &userError{err.Error()}
		}
	}
	dir, err := assetsDir(pc.Directory, entries, commit)
	if err != nil {
		return "", false, err
	}
	files, err := p.selectFiles(cat, entries, byPath, dir, say)
	if err != nil {
		return "", false, err
	}
	var workerEntry *treeEntry
	if pc.WorkerMain != "" {
		wp := path.Clean(strings.TrimPrefix(pc.WorkerMain, "./"))
		e, ok := byPath[wp]
		if !ok || e.typ != "blob" {
			return "", false, refusef("pier.toml: worker.main %q is not a file in commit %s (Pier runs no build: commit the compiled .wasm, or build in CI and push the output)", pc.WorkerMain, commit[:7])
		}
		workerEntry = &e
	}

	// The publish pipeline's own limits, checked before any file is read:
	// a huge blob that compressed to a small pack is refused by its size.
	check := make(assets.Manifest, len(files))
	for rel, e := range files {
		check["/"+rel] = assets.Entry{Hash: placeholderHash, Size: e.size}
	}
	if err := check.Validate(p.s.cfg.Publisher.Limits()); err != nil {
		return "", false, err
	}
	hashes, err := p.hashes(ctx, cat, files, workerEntry, branch, say)
	if err != nil {
		return "", false, err
	}
	m := make(assets.Manifest, len(files))
	var total int64
	for rel, e := range files {
		m["/"+rel] = assets.Entry{Hash: hashes[e.oid], Size: e.size}
		total += e.size
	}
	var worker *tenants.WorkerBlob
	if workerEntry != nil {
		worker = &tenants.WorkerBlob{Hash: hashes[workerEntry.oid], Size: workerEntry.size}
	}
	up, err := p.s.cfg.Publisher.StartUpload(ctx, p.site, m, worker)
	if err != nil {
		return "", false, err
	}
	oidOf := map[string]treeEntry{}
	for _, e := range files {
		oidOf[hashes[e.oid]] = e
	}
	if workerEntry != nil {
		oidOf[hashes[workerEntry.oid]] = *workerEntry
	}
	uploaded, err := p.upload(ctx, cat, up, oidOf, branch, say)
	if err != nil {
		return "", false, err
	}
	noun := "files"
	if len(m) == 1 {
		noun = "file"
	}
	say("%s: %s %s, %s uploaded, %s reused (%s)", branch, comma(len(m)), noun, comma(len(up.Missing)), comma(len(m)-countIn(up.Missing, m)), humanBytes(uploaded))
	d, err := p.s.cfg.Publisher.Deploy(ctx, p.site, admin.DeployRequest{
		SiteToken: p.siteToken,
		Upload:    up.Session.ID,
		Config: tenants.DeploymentConfig{
			HTMLHandling:     pc.HTMLHandling,
			NotFoundHandling: pc.NotFoundHandling,
			RunWorkerFirst:   pc.RunWorkerFirst,
			Vars:             pc.Vars,
			KV:               kvBindings(pc.KV),
		},
		Source: tenants.Source{Type: "git", Branch: branch, Commit: commit, Tree: tree},
	})
	if err != nil {
		return "", false, err
	}
	return d.ID, false, nil
}

// Uploading a push's missing blobs: small ones are read whole and stored
// by uploadWorkers goroutines at once (as the CLI uploads in parallel),
// large ones streamed one at a time. At most uploadWorkers+cap(jobs)
// small blobs are held at once.
const (
	uploadWorkers = 4
	smallBlob     = 1 << 20
)

type blobJob struct {
	hash string
	data []byte
}

// upload stores the blobs of up.Missing and returns their bytes.
func (p *push) upload(ctx context.Context, cat *catFile, up admin.Upload, oidOf map[string]treeEntry, branch string, say func(string, ...any)) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
		done     atomic.Int64
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
	put := func(hash string, r io.Reader, size int64) {
		if err := p.s.cfg.Publisher.PutBlob(ctx, p.tenant.ID, up.Session.ID, hash, r, size); err != nil {
			fail(err)
		}
		done.Add(1)
	}
	jobs := make(chan blobJob, uploadWorkers)
	for range uploadWorkers {
		wg.Go(func() {
			for j := range jobs {
				if ctx.Err() == nil {
					put(j.hash, bytes.NewReader(j.data), int64(len(j.data)))
				}
			}
		})
	}
	tick := newTicker()
	var uploaded int64
	for _, h := range up.Missing {
		if ctx.Err() != nil {
			break
		}
		e := oidOf[h]
		var err error
		if e.size <= smallBlob {
			var data []byte
			if data, err = cat.small(e.oid, smallBlob, e.path); err == nil {
				jobs <- blobJob{h, data}
			}
		} else {
			err = cat.blob(e.oid, func(r io.Reader, size int64) error {
				put(h, r, size)
				return nil
			})
		}
		if err != nil {
			fail(err)
			break
		}
		uploaded += e.size
		if tick.due() {
			say("%s: uploaded %s of %s new files…", branch, comma(int(done.Load())), comma(len(up.Missing)))
		}
	}
	close(jobs)
	wg.Wait()
	return uploaded, firstErr
}

// ticker says when a long step should report progress: every
// progressEvery, so a push shows it is alive (and proxies see bytes).
type ticker struct{ next time.Time }

const progressEvery = 5 * time.Second

func newTicker() *ticker { return &ticker{next: time.Now().Add(progressEvery)} }

func (t *ticker) due() bool {
	if now := time.Now(); now.After(t.next) {
		t.next = now.Add(progressEvery)
		return true
	}
	return false
}

// countIn counts the manifest entries whose hash is among hashes.
func countIn(hashes []string, m assets.Manifest) int {
	set := make(map[string]bool, len(hashes))
	for _, h := range hashes {
		set[h] = true
	}
	n := 0
	for _, e := range m {
		if set[e.Hash] {
			n++
		}
	}
	return n
}

// A tree's listing is bounded before it is held: trees share subtrees,
// so a pack of a few hundred bytes can list millions of paths (a "git
// bomb"), and the paths of a tree n directories deep add up to n² bytes.
// A site publishes at most assets.DefaultMaxFiles files by default.
const (
	maxTreeEntries   = 250_000
	maxTreePathBytes = 64 << 20
)

// lsTree lists every entry of tree, recursively, with blob sizes; it
// refuses a tree listing more than maxTreeEntries entries or
// maxTreePathBytes of paths.
func (p *push) lsTree(ctx context.Context, env []string, tree string) ([]treeEntry, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := p.s.command(ctx, env, nil, "--git-dir="+p.dir, "ls-tree", "-r", "-t", "-l", "-z", "--full-tree", tree)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr tailBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var entries []treeEntry
	var pathBytes int
	// Files and their directories: room for the most files a deployment
	// may have (--max-files), and never less than maxTreeEntries.
	maxEntries := max(maxTreeEntries, 2*p.s.cfg.Publisher.Limits().MaxFiles)
	br := bufio.NewReaderSize(stdout, 64<<10)
	for {
		line, err := br.ReadString(0)
		if err == io.EOF {
			break
		}
		if err != nil {
			_ = cmd.Wait()
			return nil, err
		}
		line = strings.TrimSuffix(line, "\x00")
		meta, name, ok := strings.Cut(line, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 4 {
			continue
		}
		e := treeEntry{mode: f[0], typ: f[1], oid: f[2], path: name}
		if f[3] != "-" {
			e.size, _ = strconv.ParseInt(f[3], 10, 64)
		}
		if pathBytes += len(name); len(entries) == maxEntries || pathBytes > maxTreePathBytes {
			cancel()
			_ = cmd.Wait()
			if len(entries) == maxEntries {
				return nil, refusef("the pushed tree lists more than %s files and directories, more than a site can publish", comma(maxEntries))
			}
			return nil, refusef("the pushed tree's paths add up to more than %d MB (directories nested too deep), more than a site can publish", maxTreePathBytes>>20)
		}
		entries = append(entries, e)
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("gitserve: ls-tree: %w: %s", err, stderr.String())
	}
	return entries, nil
}

// assetsDir checks assets.directory against the commit's trees and
// returns it clean ("" for the root).
func assetsDir(dir string, entries []treeEntry, commit string) (string, error) {
	if dir == "" || dir == "." || dir == "./" {
		return "", nil
	}
	clean := path.Clean(strings.TrimPrefix(dir, "./"))
	if path.IsAbs(dir) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", refusef("pier.toml: assets.directory %q must be a directory inside the repository", dir)
	}
	if clean == "." {
		return "", nil
	}
	for _, e := range entries {
		if e.path == clean && e.typ == "tree" {
			return clean, nil
		}
	}
	return "", refusef("pier.toml: assets.directory %q is not a directory in commit %s (Pier runs no build: commit the built files, or build in CI and push the output)", dir, commit[:7])
}

// selectFiles returns the files to publish (path relative to dir → entry):
// blobs under dir, less what is always left out, secret names and what
// dir/.assetsignore lists. It says what it skipped.
func (p *push) selectFiles(cat *catFile, entries []treeEntry, byPath map[string]treeEntry, dir string, say func(string, ...any)) (map[string]treeEntry, error) {
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	var rules project.IgnoreRules
	if e, ok := byPath[prefix+project.IgnoreFile]; ok && e.typ == "blob" {
		data, err := cat.small(e.oid, maxProjectFile, project.IgnoreFile)
		if err != nil {
			return nil, err
		}
		if rules, err = project.ParseIgnore(data); err != nil {
			return nil, &userError{err.Error()}
		}
	}
	files := map[string]treeEntry{}
	excluded := map[string]bool{} // directories left out, relative to dir
	work := 0                     // pattern steps of the .assetsignore rules, bounded
	var skipped []string
	for _, e := range entries {
		rel, ok := strings.CutPrefix(e.path, prefix)
		if !ok || rel == "" {
			continue
		}
		if parent := path.Dir(rel); parent != "." && excluded[parent] {
			if e.typ == "tree" {
				excluded[rel] = true
			}
			continue
		}
		name := path.Base(rel)
		isDir := e.typ == "tree"
		ignored, cost := rules.IgnoredCost(rel, isDir)
		if work += cost; work > maxIgnoreWork {
			return nil, refusef("%s: applying its rules to this tree takes more than %s pattern steps; use fewer or simpler patterns", project.IgnoreFile, comma(maxIgnoreWork))
		}
		if project.AlwaysIgnored(name) || ignored {
			if isDir {
				excluded[rel] = true
			}
			continue
		}
		if why := project.SecretReason(name); why != "" {
			skipped = append(skipped, fmt.Sprintf("skipped %s: %s", rel, why))
			if isDir {
				excluded[rel] = true
			}
			continue
		}
		switch {
		case isDir:
		case e.typ == "commit":
			skipped = append(skipped, fmt.Sprintf("skipped %s: a submodule (Pier publishes the files of the pushed repository only)", rel))
		case e.mode == "120000":
			skipped = append(skipped, fmt.Sprintf("skipped %s: a symbolic link (commit the file itself)", rel))
		case e.typ == "blob":
			files[rel] = e
		}
	}
	sort.Strings(skipped)
	for i, s := range skipped {
		if i == maxSkipLines {
			say("… and %d more skipped", len(skipped)-maxSkipLines)
			break
		}
		say("%s", s)
	}
	return files, nil
}

// hashes returns the tenant's content hash of every blob of files and of
// the worker: known ones from the store's git blob index, the others
// hashed from the objects (and recorded).
func (p *push) hashes(ctx context.Context, cat *catFile, files map[string]treeEntry, worker *treeEntry, branch string, say func(string, ...any)) (map[string]string, error) {
	var oids []string
	seen := map[string]bool{}
	add := func(e treeEntry) {
		if !seen[e.oid] {
			seen[e.oid] = true
			oids = append(oids, e.oid)
		}
	}
	for _, e := range files {
		add(e)
	}
	if worker != nil {
		add(*worker)
	}
	sort.Strings(oids)
	known, err := p.s.cfg.Store.GitBlobs(ctx, p.tenant.ID, oids)
	if err != nil {
		return nil, fmt.Errorf("gitserve: reading the blob index: %w", err)
	}
	out := make(map[string]string, len(oids))
	var fresh []tenants.GitBlob
	tick := newTicker()
	for _, oid := range oids {
		if b, ok := known[oid]; ok {
			out[oid] = b.Hash
			continue
		}
		if tick.due() {
			say("%s: hashed %s of %s new files…", branch, comma(len(fresh)), comma(len(oids)-len(known)))
		}
		h := assets.NewHasher(p.tenant.Salt)
		var size int64
		err := cat.blob(oid, func(r io.Reader, n int64) error {
			size = n
			_, err := io.Copy(h, r)
			return err
		})
		if err != nil {
			return nil, err
		}
		out[oid] = assets.FormatSum(h.Sum64())
		fresh = append(fresh, tenants.GitBlob{OID: oid, Hash: out[oid], Size: size})
	}
	for len(fresh) > 0 {
		n := min(len(fresh), 1000)
		if err := p.s.cfg.Store.PutGitBlobs(ctx, p.tenant.ID, fresh[:n]); err != nil {
			return nil, fmt.Errorf("gitserve: recording the blob index: %w", err)
		}
		fresh = fresh[n:]
	}
	return out, nil
}

// refuse tells the pusher why branch was not published.
func (p *push) refuse(ctx context.Context, say func(string, ...any), branch string, err error) {
	var ue *userError
	if errors.As(err, &ue) {
		say("refused %s: %s", branch, ue.msg)
		say("nothing was published; the live site is unchanged")
		return
	}
	he := admin.PublicError(err)
	if he.Status >= 500 {
		p.internal(ctx, say, "publishing "+branch, err)
		return
	}
	msg := he.Message
	for _, k := range []string{"path", "file", "line", "field", "limit"} {
		if v, ok := he.Details[k]; ok && !strings.Contains(msg, fmt.Sprint(v)) {
			msg += fmt.Sprintf(" (%s %v)", k, v)
		}
	}
	say("refused %s: %s [%s]", branch, msg, he.Code)
	say("nothing was published; the live site is unchanged")
}

// comma formats n with thousands separators.
func comma(n int) string {
	s := strconv.Itoa(n)
	var b bytes.Buffer
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// humanBytes formats a byte count as the CLI does (B, KB, MB, GB).
func humanBytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.0f KB", float64(n)/1000)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2f GB", float64(n)/1e9)
}

// kvBindings are pier.toml's [[kv]] tables as the deployment's bindings;
// Deploy resolves their namespaces in the site's tenant.
func kvBindings(kv []project.KVBinding) []tenants.KVBinding {
	var out []tenants.KVBinding
	for _, b := range kv {
		out = append(out, tenants.KVBinding{Binding: b.Binding, Namespace: b.Namespace})
	}
	return out
}
