package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/httperr"
	"github.com/pierhq/pier/internal/siterules"
	"github.com/pierhq/pier/tenants"
)

// The publish pipeline: StartUpload → PutBlob (for each missing hash) →
// Deploy. The HTTP handlers are thin wrappers around these, and any other
// publisher added later (none exists yet) would call them directly. Callers
// authorize first (the site or session must belong
// to the caller); the functions themselves only enforce that a session
// belongs to the given tenant and site.

// Root files that configure a deployment instead of being served.
const (
	headersPath   = assets.HeadersFile
	redirectsPath = assets.RedirectsFile
)

// spoolPattern names the spool files of blobs being verified.
const spoolPattern = "pier-blob-*"

// RemoveSpoolDebris deletes the spool files (Config.SpoolDir) of uploads
// that never finished, a crashed process's, last modified before cutoff
// (an upload in progress keeps its file's time recent), and returns how
// many it removed.
func (a *API) RemoveSpoolDebris(cutoff time.Time) (int, error) {
	ents, err := os.ReadDir(a.cfg.SpoolDir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("admin: listing the spool directory: %w", err)
	}
	n := 0
	for _, e := range ents {
		if ok, _ := filepath.Match(spoolPattern, e.Name()); !ok || e.IsDir() {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) && os.Remove(filepath.Join(a.cfg.SpoolDir, e.Name())) == nil {
			n++
		}
	}
	return n, nil
}

// memBlobLimit is the largest blob PutBlob holds in memory; larger ones are
// spooled to a temporary file in Config.SpoolDir while they are verified.
const memBlobLimit = 1 << 20

// maxRulesFile bounds a _headers or _redirects file read at deploy: the
// rule-count and line-length limits of siterules keep real files far below.
const maxRulesFile = 8 << 20

// Upload is an upload session just created, with the hashes the tenant's
// blob store lacks (sorted, unique): the client uploads those.
type Upload struct {
	Session tenants.UploadSession
	Missing []string
}

// StartUpload validates manifest m against the configured limits, assigns
// each entry's content type from its path (ignoring the client's), saves an
// upload session for site that expires after Config.UploadTTL, and answers
// which of the manifest's blobs (and the worker's, if worker is not nil)
// are missing.
//
// Errors: *assets.ManifestError for a bad manifest; ErrWorkersDisabled,
// *WorkerTooLargeError or *FieldError for a worker that cannot be
// deployed; *QuotaError when the session would take the tenant past its
// uploadSessions, uploadEntries, storageMB or workerMB quota (nothing is
// saved); errors wrapping tenants.ErrNotFound if the site's tenant is
// gone.
func (a *API) StartUpload(ctx context.Context, site tenants.Site, m assets.Manifest, worker *tenants.WorkerBlob) (Upload, error) {
	if err := m.Validate(a.cfg.Limits); err != nil {
		return Upload{}, err
	}
	if err := a.checkWorker(worker, m); err != nil {
		return Upload{}, err
	}
	t, err := a.store.Tenant(ctx, site.TenantID)
	if err != nil {
		return Upload{}, lookupErr("tenant", site.TenantID, err)
	}
	clean := make(assets.Manifest, len(m))
	for p, e := range m {
		clean[p] = assets.Entry{Hash: e.Hash, Size: e.Size, ContentType: assets.ContentType(p)}
	}
	now := a.now()
	sess := tenants.UploadSession{
		ID:       tenants.NewID("up_", 10),
		SiteID:   site.ID,
		TenantID: site.TenantID,
		Manifest: clean,
		Worker:   worker,
		Expires:  now.Add(a.cfg.UploadTTL),
		Created:  now,
	}
	missing, err := a.createUploadSession(ctx, t, sess)
	if err != nil {
		return Upload{}, err
	}
	idx := newSessionIndex(sess, t.Salt)
	idx.storageLimit = storageLimit(t)
	a.sessions.put(idx)
	return Upload{Session: sess, Missing: missing}, nil
}

// checkWorker checks what StartUpload can know of a worker before it is
// uploaded: that workers are enabled, its hash, and its size against the
// limit and against a manifest entry of the same content.
func (a *API) checkWorker(w *tenants.WorkerBlob, m assets.Manifest) error {
	if w == nil {
		return nil
	}
	if a.cfg.ValidateWorker == nil {
		return ErrWorkersDisabled
	}
	if !assets.ValidHash(w.Hash) {
		return &FieldError{Field: "worker.hash", Msg: fmt.Sprintf("%q is not a content hash (16 lowercase hex characters)", w.Hash)}
	}
	if w.Size <= 0 {
		return &FieldError{Field: "worker.size", Msg: "must be positive"}
	}
	if w.Size > a.cfg.MaxWorkerSize {
		return &WorkerTooLargeError{Size: w.Size, Limit: a.cfg.MaxWorkerSize}
	}
	for p, e := range m {
		if e.Hash == w.Hash && e.Size != w.Size {
			return &FieldError{Field: "worker.size", Msg: fmt.Sprintf("%d, but %q has the same hash and %d bytes", w.Size, p, e.Size)}
		}
	}
	return nil
}

// recordedBlobs looks up the unique hashes of the manifest and the worker
// (if not nil) in the blob index with one query and returns the recorded
// ones and the missing ones (sorted).
func (a *API) recordedBlobs(ctx context.Context, tenantID string, m assets.Manifest, worker *tenants.WorkerBlob) (map[string]tenants.Blob, []string, error) {
	hashes := make([]string, 0, len(m)+1)
	for _, e := range m {
		hashes = append(hashes, e.Hash)
	}
	if worker != nil {
		hashes = append(hashes, worker.Hash)
	}
	slices.Sort(hashes)
	hashes = slices.Compact(hashes)
	have, err := a.store.Blobs(ctx, tenantID, hashes)
	if err != nil {
		return nil, nil, fmt.Errorf("admin: looking up blobs: %w", err)
	}
	missing := []string{}
	for _, h := range hashes {
		if _, ok := have[h]; !ok {
			missing = append(missing, h)
		}
	}
	return have, missing, nil
}

// PutBlob stores one blob of upload session uploadID: body must be exactly
// size bytes (the manifest's or the worker's size for hash) whose salted
// hash is hash. The content is verified before anything is stored; text
// blobs get brotli and gzip variants (the worker, stored as is, does not);
// then the blob is recorded in the blob index. Uploading a
// blob already recorded is a no-op. tenantID scopes the session ("" = any,
// for admins).
//
// Errors: tenants.ErrNotFound (wrapped) if the session does not exist, has
// expired, belongs to another tenant or does not contain hash;
// *SizeMismatchError; *HashMismatchError; assets.ErrUnavailable (wrapped)
// if the backend fails, or while the garbage collector deletes an earlier
// copy of the blob for longer than Config.GarbageWait — then nothing is
// recorded. A blob queued for deletion is written again (its deletion
// cancelled) rather than skipped.
func (a *API) PutBlob(ctx context.Context, tenantID, uploadID, hash string, body io.Reader, size int64) error {
	idx, err := a.session(ctx, tenantID, uploadID)
	if err != nil {
		return err
	}
	info, ok := idx.blobs[hash]
	if !ok {
		return notFound("blob of this upload", hash)
	}
	if size != info.size {
		return &SizeMismatchError{Hash: hash, Want: info.size, Got: size}
	}
	have, err := a.store.Blobs(ctx, idx.tenantID, []string{hash})
	if err != nil {
		return fmt.Errorf("admin: looking up blob: %w", err)
	}
	if _, ok := have[hash]; ok {
		return nil // already verified and stored
	}
	release, err := a.checkStorage(ctx, idx.tenantID, size, idx.storageLimit)
	if err != nil {
		return err
	}
	defer release()

	content, err := a.receive(idx, hash, body, size)
	if err != nil {
		return err
	}
	defer content.Close()
	// A blob collected earlier may still be queued for deletion: cancel
	// that before writing its objects again.
	if err := a.cancelGarbage(ctx, idx.tenantID, hash); err != nil {
		return err
	}

	// Store the original while the variants are computed and stored: each
	// Put is durable (and slow) on its own.
	rec := tenants.Blob{Hash: hash, Size: size}
	origErr := make(chan error, 1)
	go func() {
		origErr <- a.putBackend(ctx, assets.Key(idx.tenantID, hash, assets.VariantIdentity), content.reader(), size)
	}()
	var varErr error
	if info.compressible {
		rec.BrSize, rec.GzSize, varErr = a.putVariants(ctx, idx.tenantID, hash, content)
	}
	if err := errors.Join(<-origErr, varErr); err != nil {
		return err
	}
	if err := a.store.PutBlobs(ctx, idx.tenantID, []tenants.Blob{rec}); err != nil {
		return fmt.Errorf("admin: recording blob: %w", err)
	}
	a.quotas.addStored(idx.tenantID, size)
	return nil
}

// received is a verified blob, in memory or spooled to a file.
type received struct {
	data []byte
	file *os.File
	size int64
}

func (c *received) reader() io.Reader {
	if c.file != nil {
		return io.NewSectionReader(c.file, 0, c.size)
	}
	return bytes.NewReader(c.data)
}

// bytes returns the whole content; for a spooled blob it reads the file.
func (c *received) bytes() ([]byte, error) {
	if c.file == nil {
		return c.data, nil
	}
	b := make([]byte, c.size)
	if _, err := c.file.ReadAt(b, 0); err != nil && !(errors.Is(err, io.EOF) && c.size == 0) {
		return nil, fmt.Errorf("admin: reading spooled blob: %w", err)
	}
	return b, nil
}

func (c *received) Close() {
	if c.file != nil {
		c.file.Close()
		os.Remove(c.file.Name())
	}
}

// receive reads exactly size bytes of body while hashing them, holding at
// most memBlobLimit bytes in memory, and checks the hash.
func (a *API) receive(idx *sessionIndex, hash string, body io.Reader, size int64) (*received, error) {
	h := assets.NewHasher(idx.salt)
	limited := io.LimitReader(body, size+1) // one more byte reveals an overlong body
	c := &received{size: size}
	var n int64
	if size <= memBlobLimit {
		buf := make([]byte, size+1)
		m, err := io.ReadFull(limited, buf)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("admin: reading blob %s: %w", hash, err)
		}
		n = int64(m)
		c.data = buf[:min(n, size)]
		h.Write(c.data)
	} else {
		f, err := os.CreateTemp(a.cfg.SpoolDir, spoolPattern)
		if err != nil {
			// Like an unwritable blob store: the client may retry later.
			return nil, fmt.Errorf("admin: spooling blob: %w: %w", assets.ErrUnavailable, err)
		}
		c.file = f
		if n, err = io.Copy(io.MultiWriter(f, h), limited); err != nil {
			c.Close()
			return nil, fmt.Errorf("admin: reading blob %s: %w", hash, err)
		}
	}
	if n != size {
		c.Close()
		return nil, &SizeMismatchError{Hash: hash, Want: size, Got: n}
	}
	if computed := assets.FormatSum(h.Sum64()); computed != hash {
		c.Close()
		return nil, &HashMismatchError{Hash: hash, Computed: computed}
	}
	return c, nil
}

// putVariants computes and stores the brotli and gzip variants worth
// keeping and returns their sizes (0 = not kept).
func (a *API) putVariants(ctx context.Context, tenantID, hash string, c *received) (br, gz int64, err error) {
	if c.file != nil {
		// Bound how many large blobs sit in memory for compression at once.
		select {
		case a.bigCompress <- struct{}{}:
			defer func() { <-a.bigCompress }()
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
	}
	data, err := c.bytes()
	if err != nil {
		return 0, 0, err
	}
	var (
		sizes [2]int64
		errs  [2]error
		wg    sync.WaitGroup
	)
	for i, v := range []string{assets.VariantBrotli, assets.VariantGzip} {
		wg.Go(func() {
			comp, err := assets.Compress(data, v)
			if err != nil {
				errs[i] = fmt.Errorf("admin: compressing blob %s: %w", hash, err)
				return
			}
			if !assets.WorthKeeping(len(data), len(comp)) {
				return
			}
			if errs[i] = a.putBackend(ctx, assets.Key(tenantID, hash, v), bytes.NewReader(comp), int64(len(comp))); errs[i] == nil {
				sizes[i] = int64(len(comp))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return 0, 0, err
	}
	return sizes[0], sizes[1], nil
}

// putBackend stores a blob; any backend failure is reported as
// assets.ErrUnavailable (the client may retry), keeping the cause.
func (a *API) putBackend(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := a.blobs.Put(ctx, key, r, size); err != nil {
		if errors.Is(err, assets.ErrUnavailable) {
			return fmt.Errorf("admin: storing blob: %w", err)
		}
		return fmt.Errorf("admin: storing blob: %w: %w", assets.ErrUnavailable, err)
	}
	return nil
}

// DeployRequest is what Deploy needs besides the site.
type DeployRequest struct {
	Upload   string                   // upload session id
	Config   tenants.DeploymentConfig // Headers and Redirects are ignored: they come from the manifest's files
	Source   tenants.Source           // Type defaults to "api"
	Activate bool                     // make it live
	// SiteToken: the deploy is made with a site token, which acts on its
	// site only. It may keep the KV namespaces the site's live deployment
	// binds, but binding any other of the tenant's namespaces (a
	// tenant-level act: it reads and writes data other sites may own)
	// needs a tenant or admin token.
	SiteToken bool
}

// Deploy creates a deployment of site from an upload session whose blobs
// are all stored: it normalizes the config (see defaultNotFound), validates /_headers and
// /_redirects (which become config, not files), fills the compressed
// variant sizes from the blob index, validates the session's worker (if
// any) with Config.ValidateWorker, saves the deployment, and if
// req.Activate makes it live and calls Config.OnActivate. The session is
// deleted afterwards. On any error the live deployment is unchanged.
//
// Errors: tenants.ErrNotFound (wrapped) for an unknown, expired or foreign
// session; *MissingBlobsError; *FieldError for a bad config or source;
// *siterules.ParseError for bad rules; ErrWorkersDisabled,
// *WorkerTooLargeError or *WorkerInvalidError for a worker that cannot be
// deployed; assets.ErrUnavailable (wrapped); an *httperr.Error 403
// quota_exceeded when the site holds its tenant's deployments quota and
// none of its deployments can be deleted to make room (makeRoom).
func (a *API) Deploy(ctx context.Context, site tenants.Site, req DeployRequest) (_ tenants.Deployment, err error) {
	sess, err := a.store.UploadSession(ctx, req.Upload)
	if err != nil {
		return tenants.Deployment{}, lookupErr("upload", req.Upload, err)
	}
	if sess.TenantID != site.TenantID || sess.SiteID != site.ID || !a.now().Before(sess.Expires) {
		return tenants.Deployment{}, notFound("upload", req.Upload)
	}
	defer func() {
		if err != nil && sessionCannotPass(err) {
			a.discardSession(ctx, sess.ID)
		}
	}()
	cfg := req.Config
	cfg.Headers, cfg.Redirects = "", ""
	defaultNotFound(&cfg, sess.Manifest)
	if err := normalizeConfig(&cfg); err != nil {
		return tenants.Deployment{}, err
	}
	if cfg.KV, err = a.resolveKVBindings(ctx, site.TenantID, cfg.KV); err != nil {
		return tenants.Deployment{}, err
	}
	if req.SiteToken {
		if err := a.checkSiteTokenBindings(ctx, site, cfg.KV); err != nil {
			return tenants.Deployment{}, err
		}
	}
	src := req.Source
	if err := normalizeSource(&src); err != nil {
		return tenants.Deployment{}, err
	}

	if sess.Worker != nil {
		if a.cfg.ValidateWorker == nil {
			return tenants.Deployment{}, ErrWorkersDisabled
		}
		if sess.Worker.Size > a.cfg.MaxWorkerSize {
			return tenants.Deployment{}, &WorkerTooLargeError{Size: sess.Worker.Size, Limit: a.cfg.MaxWorkerSize}
		}
	}

	have, missing, err := a.recordedBlobs(ctx, site.TenantID, sess.Manifest, sess.Worker)
	if err != nil {
		return tenants.Deployment{}, err
	}
	if len(missing) > 0 {
		return tenants.Deployment{}, &MissingBlobsError{Hashes: missing}
	}
	m := make(assets.Manifest, len(sess.Manifest))
	for p, e := range sess.Manifest {
		b := have[e.Hash]
		e.BrSize, e.GzSize = b.BrSize, b.GzSize
		if e.ContentType == "" {
			e.ContentType = assets.ContentType(p)
		}
		m[p] = e
	}
	if e, ok := m[headersPath]; ok {
		text, err := a.readRules(ctx, site.TenantID, headersPath, e)
		if err != nil {
			return tenants.Deployment{}, err
		}
		if _, err := siterules.ParseHeaders(text); err != nil {
			return tenants.Deployment{}, err
		}
		cfg.Headers = text
		delete(m, headersPath)
	}
	if e, ok := m[redirectsPath]; ok {
		text, err := a.readRules(ctx, site.TenantID, redirectsPath, e)
		if err != nil {
			return tenants.Deployment{}, err
		}
		if _, err := siterules.ParseRedirects(text); err != nil {
			return tenants.Deployment{}, err
		}
		cfg.Redirects = text
		delete(m, redirectsPath)
	}
	var worker string
	if sess.Worker != nil {
		if err := a.validateWorker(ctx, site.TenantID, *sess.Worker); err != nil {
			return tenants.Deployment{}, err
		}
		worker = sess.Worker.Hash
	}

	d := tenants.Deployment{
		ID:       tenants.NewID("", 5),
		SiteID:   site.ID,
		TenantID: site.TenantID,
		Manifest: m,
		Worker:   worker,
		Config:   cfg,
		Source:   src,
		Created:  a.now(),
	}
	if err := a.makeRoom(ctx, site); err != nil {
		return tenants.Deployment{}, err
	}
	err = a.store.CreateDeployment(ctx, d)
	if errors.Is(err, tenants.ErrConflict) {
		// 40 random bits per id: a collision is rare but not impossible.
		d.ID = tenants.NewID("", 5)
		err = a.store.CreateDeployment(ctx, d)
	}
	if err != nil {
		return tenants.Deployment{}, fmt.Errorf("admin: saving deployment: %w", err)
	}
	if req.Activate {
		if err := a.activate(ctx, site, d.ID); err != nil {
			return tenants.Deployment{}, err
		}
	}
	a.sessions.drop(sess.ID)
	if err := a.store.DeleteUploadSession(ctx, sess.ID); err != nil && !errors.Is(err, tenants.ErrNotFound) {
		// The deployment stands; the session expires on its own.
		a.log.WarnContext(ctx, "deleting used upload session", "upload", sess.ID, "err", err)
	}
	return d, nil
}

// sessionCannotPass reports whether a deploy was refused for what its
// upload session holds (its rules files, its worker) or for the
// deployments quota: retrying the same session fails the same way, so
// Deploy deletes it rather than let it count against the tenant's open
// sessions until it expires. A refusal for the request's own fields, for
// missing blobs or for a storage failure keeps the session for a retry.
func sessionCannotPass(err error) bool {
	var (
		parse    *siterules.ParseError
		manifest *assets.ManifestError
		invalid  *WorkerInvalidError
		large    *WorkerTooLargeError
		he       *httperr.Error
	)
	switch {
	case errors.As(err, &parse), errors.As(err, &manifest), errors.As(err, &invalid),
		errors.As(err, &large), errors.Is(err, ErrWorkersDisabled):
		return true
	case errors.As(err, &he):
		return he.Code == "quota_exceeded"
	}
	return false
}

// discardSession deletes a session that can never be deployed.
func (a *API) discardSession(ctx context.Context, id string) {
	a.sessions.drop(id)
	if err := a.store.DeleteUploadSession(context.WithoutCancel(ctx), id); err != nil && !errors.Is(err, tenants.ErrNotFound) {
		a.log.WarnContext(ctx, "deleting a refused upload session", "upload", id, "err", err)
	}
}

// Activate makes deployment id of site live (rollback = activating an
// older one) and calls Config.OnActivate.
func (a *API) Activate(ctx context.Context, site tenants.Site, id string) error {
	return a.activate(ctx, site, id)
}

func (a *API) activate(ctx context.Context, site tenants.Site, id string) error {
	if err := a.store.Activate(ctx, site.ID, id); err != nil {
		return lookupErr("deployment", id, err)
	}
	site.ActiveDeployment = id
	a.cfg.OnActivate(site)
	return nil
}

// readRules reads a _headers or _redirects blob from the backend.
func (a *API) readRules(ctx context.Context, tenantID, path string, e assets.Entry) (string, error) {
	if e.Size > maxRulesFile {
		return "", &assets.ManifestError{Code: assets.CodeFileTooLarge, Path: path, Limit: maxRulesFile,
			Msg: fmt.Sprintf("manifest path %q is %d bytes, larger than the limit of %d bytes for a rules file", path, e.Size, maxRulesFile)}
	}
	rc, err := a.blobs.Get(ctx, assets.Key(tenantID, e.Hash, assets.VariantIdentity))
	if errors.Is(err, assets.ErrNotFound) {
		// Recorded but gone from the backend: the client uploads it again.
		return "", &MissingBlobsError{Hashes: []string{e.Hash}}
	}
	if err != nil {
		return "", storageErr(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxRulesFile+1))
	if err != nil {
		return "", storageErr(err)
	}
	return string(b), nil
}

// validateWorker reads the worker's wasm from the backend and hands it to
// Config.ValidateWorker.
func (a *API) validateWorker(ctx context.Context, tenantID string, w tenants.WorkerBlob) error {
	rc, err := a.blobs.Get(ctx, assets.Key(tenantID, w.Hash, assets.VariantIdentity))
	if errors.Is(err, assets.ErrNotFound) {
		// Recorded but gone from the backend: the client uploads it again.
		return &MissingBlobsError{Hashes: []string{w.Hash}}
	}
	if err != nil {
		return storageErr(err)
	}
	defer rc.Close()
	wasm, err := io.ReadAll(io.LimitReader(rc, a.cfg.MaxWorkerSize+1))
	if err != nil {
		return storageErr(err)
	}
	if int64(len(wasm)) > a.cfg.MaxWorkerSize {
		return &WorkerTooLargeError{Size: int64(len(wasm)), Limit: a.cfg.MaxWorkerSize}
	}
	if err := a.cfg.ValidateWorker(ctx, wasm); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("admin: validating worker %s: %w", w.Hash, ctxErr)
		}
		return &WorkerInvalidError{Hash: w.Hash, Err: err}
	}
	return nil
}

func storageErr(err error) error {
	if errors.Is(err, assets.ErrUnavailable) {
		return fmt.Errorf("admin: reading blob: %w", err)
	}
	return fmt.Errorf("admin: reading blob: %w: %w", assets.ErrUnavailable, err)
}

// normalizeConfig fills defaults and reports which field is invalid.
func normalizeConfig(c *tenants.DeploymentConfig) error {
	probe := tenants.DeploymentConfig{HTMLHandling: c.HTMLHandling}
	if err := probe.Normalize(); err != nil {
		return invalidField("config.html_handling", err)
	}
	if err := c.Normalize(); err != nil {
		return invalidField("config.not_found_handling", err)
	}
	if err := validateRunWorkerFirst(c.RunWorkerFirst); err != nil {
		return err
	}
	if err := validateKVBindings(c.KV); err != nil {
		return err
	}
	return validateVars(c.Vars)
}

// Bounds of a deployment's run_worker_first, vars and kv bindings.
const (
	maxKVBindings     = 64
	maxRunWorkerFirst = 64
	maxPatternLen     = 256
	maxVars           = 64
	maxVarName        = 128
	maxVarValue       = 4 << 10
)

// validateRunWorkerFirst checks config.run_worker_first: either ["*"]
// (every request goes to the worker first) or path patterns "/api/*",
// where * matches any run of characters ("/" included), and exclusions
// "!/api/static/*"; a request goes to the worker first when it matches a
// pattern and no exclusion. See docs/api.md.
func validateRunWorkerFirst(patterns []string) error {
	const field = "config.run_worker_first"
	if len(patterns) > maxRunWorkerFirst {
		return &FieldError{Field: field, Msg: fmt.Sprintf("%d patterns, more than the limit of %d", len(patterns), maxRunWorkerFirst)}
	}
	if len(patterns) == 1 && patterns[0] == "*" {
		return nil
	}
	include := 0
	for _, p := range patterns {
		path := strings.TrimPrefix(p, "!")
		switch {
		case p == "*":
			return &FieldError{Field: field, Msg: `"*" (every request) must be the only pattern`}
		case !strings.HasPrefix(path, "/"):
			return &FieldError{Field: field, Msg: fmt.Sprintf("pattern %q must start with / (or !/ to exclude)", p)}
		case len(p) > maxPatternLen:
			return &FieldError{Field: field, Msg: fmt.Sprintf("pattern %.32q… is longer than %d bytes", p, maxPatternLen)}
		case strings.ContainsFunc(path, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '?' || r == '#' || r == '!' }):
			return &FieldError{Field: field, Msg: fmt.Sprintf("pattern %q must not contain spaces, control characters, ?, # or a ! after the first character", p)}
		}
		if p[0] != '!' {
			include++
		}
	}
	if len(patterns) > 0 && include == 0 {
		return &FieldError{Field: field, Msg: "only exclusions (!/…): add the patterns the worker runs first for"}
	}
	return nil
}

var varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validateVars checks config.vars: at most maxVars variables named like
// environment variables, values of at most maxVarValue bytes.
func validateVars(vars map[string]string) error {
	if len(vars) > maxVars {
		return &FieldError{Field: "config.vars", Msg: fmt.Sprintf("%d variables, more than the limit of %d", len(vars), maxVars)}
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		if !varNameRE.MatchString(k) || len(k) > maxVarName {
			return &FieldError{Field: "config.vars", Msg: fmt.Sprintf("variable name %q must match [A-Za-z_][A-Za-z0-9_]* and be at most %d bytes", k, maxVarName)}
		}
		if v := vars[k]; len(v) > maxVarValue {
			return &FieldError{Field: "config.vars." + k, Msg: fmt.Sprintf("value is %d bytes, more than the limit of %d", len(v), maxVarValue)}
		}
	}
	return nil
}

func normalizeSource(s *tenants.Source) error {
	switch s.Type {
	case "":
		s.Type = "api"
	case "cli", "api", "ui", "git":
	default:
		return &FieldError{Field: "source.type", Msg: fmt.Sprintf("%q must be cli, api, ui or git", s.Type)}
	}
	if len(s.Commit) > 256 || len(s.Branch) > 256 {
		return &FieldError{Field: "source", Msg: "commit and branch must be at most 256 bytes"}
	}
	return nil
}

// sessionIndex is what PutBlob needs of an upload session, kept in memory
// so that each of thousands of blob uploads does not reload (and decode)
// the whole manifest. Sessions are immutable, so the only staleness is a
// session deleted by another node: a blob upload to it still only stores a
// verified blob of its own tenant.
type sessionIndex struct {
	id, siteID, tenantID string
	salt                 []byte
	expires              time.Time
	blobs                map[string]blobInfo
	storageLimit         int64 // the tenant's storageMB in bytes (0: none), for PutBlob
}

type blobInfo struct {
	size         int64
	compressible bool // some path with this content has a compressible type
}

func newSessionIndex(s tenants.UploadSession, salt []byte) *sessionIndex {
	idx := &sessionIndex{
		id: s.ID, siteID: s.SiteID, tenantID: s.TenantID, salt: salt, expires: s.Expires,
		blobs: make(map[string]blobInfo, len(s.Manifest)),
	}
	for p, e := range s.Manifest {
		ct := e.ContentType
		if ct == "" {
			ct = assets.ContentType(p)
		}
		bi := idx.blobs[e.Hash]
		bi.size = e.Size
		bi.compressible = bi.compressible || assets.Compressible(ct)
		idx.blobs[e.Hash] = bi
	}
	if w := s.Worker; w != nil {
		// Stored as is: the edge loads it whole, never compressed.
		bi := idx.blobs[w.Hash]
		bi.size = w.Size
		idx.blobs[w.Hash] = bi
	}
	return idx
}

// session returns the index of upload session id if it exists, has not
// expired and belongs to tenantID ("" = any).
func (a *API) session(ctx context.Context, tenantID, id string) (*sessionIndex, error) {
	idx := a.sessions.get(id)
	if idx == nil {
		s, err := a.store.UploadSession(ctx, id)
		if err != nil {
			return nil, lookupErr("upload", id, err)
		}
		t, err := a.store.Tenant(ctx, s.TenantID)
		if err != nil {
			return nil, lookupErr("upload", id, err)
		}
		idx = newSessionIndex(s, t.Salt)
		idx.storageLimit = storageLimit(t)
		a.sessions.put(idx)
	}
	if tenantID != "" && idx.tenantID != tenantID || !a.now().Before(idx.expires) {
		return nil, notFound("upload", id)
	}
	return idx, nil
}

// sessionCache holds recently used session indexes, bounded in count.
type sessionCache struct {
	mu  sync.Mutex
	max int
	m   map[string]*sessionIndex
}

func newSessionCache(max int) *sessionCache {
	return &sessionCache{max: max, m: make(map[string]*sessionIndex)}
}

func (c *sessionCache) get(id string) *sessionIndex {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

func (c *sessionCache) put(idx *sessionIndex) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		// Evict the session expiring first: the likeliest to be done.
		var victim *sessionIndex
		for _, s := range c.m {
			if victim == nil || s.expires.Before(victim.expires) {
				victim = s
			}
		}
		delete(c.m, victim.id)
	}
	c.m[idx.id] = idx
}

func (c *sessionCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// dropWhere drops the sessions for which match is true (those of a deleted
// site or tenant).
func (c *sessionCache) dropWhere(match func(*sessionIndex) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, s := range c.m {
		if match(s) {
			delete(c.m, id)
		}
	}
}

// rootNotFoundPage is the file whose presence makes 404-page the default
// not_found_handling.
const rootNotFoundPage = "/404.html"

// defaultNotFound applies the default of not_found_handling when the
// client left it unset: 404-page when the published root has a /404.html
// (as Cloudflare Pages and Netlify do), else none (Normalize). A value the
// client set, none included, wins.
func defaultNotFound(cfg *tenants.DeploymentConfig, m assets.Manifest) {
	if cfg.NotFoundHandling != "" {
		return
	}
	if _, ok := m[rootNotFoundPage]; ok {
		cfg.NotFoundHandling = tenants.NotFound404
	}
}
