package hosting

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/siterules"
	"github.com/pierhq/pier/tenants"
)

// Variant indexes of a file's representations.
const (
	identity = iota
	brotli
	gzip
	numVariants
)

// Default header values of every asset response.
const (
	defaultCacheControl = "public, max-age=0, must-revalidate"
	nosniff             = "nosniff"
)

// variant is one stored representation of a file, with its response header
// values precomputed.
type variant struct {
	key      string   // blob key
	size     int64    // bytes
	etag     []string // `"<hash>"`, `"<hash>-br"`, `"<hash>-gz"`
	length   []string // Content-Length
	encoding []string // Content-Encoding (nil for identity)
}

// file is one manifest entry of a loaded deployment.
type file struct {
	path     string
	hash     string
	variants [numVariants]variant // variants[brotli].key == "" when absent
	vary     bool                 // has a pre-compressed variant
	ctype    []string
	// plain is the response header set of this file without _headers;
	// it is the one used when the deployment has no _headers file.
	plain *headerSet
}

func (f *file) has(v int) bool { return f.variants[v].key != "" }

// headerPair is one response header with a shared, immutable value slice
// (cap == len, so appending to it copies).
type headerPair struct {
	key   string
	value []string
}

// headerSet is the precomputed response header list of an asset or
// redirect at one request path, after defaults and _headers.
type headerSet struct {
	pairs []headerPair
}

// writeTo assigns the set into h. Values are shared between responses:
// callers replace a header's slice rather than writing into it.
func (hs *headerSet) writeTo(h http.Header) {
	for i := range hs.pairs {
		h[hs.pairs[i].key] = hs.pairs[i].value
	}
}

// target is the precomputed answer for one request path that
// html_handling resolves: an asset, or a 307 to location.
type target struct {
	file     *file
	location string // encoded canonical path (redirect only)
	dest     string // the decoded form of location
	headers  *headerSet
}

// deployment is a loaded, compiled deployment, shared by every site
// deployed with the same tenant, files and configuration. It is immutable
// once built, except for the CLOCK reference bit.
type deployment struct {
	digest    [sha256.Size]byte
	table     map[string]*target
	redirects *siterules.Redirects
	headers   *siterules.Headers
	// spaIndex is /index.html for single-page applications.
	spaIndex *file
	// notFound maps a directory ("/", "/a/") to its 404.html for the
	// 404-page mode.
	notFound map[string]*file
	// worker is the content hash of the deployment's wasm module ("" when
	// it has none), tenantID the owner of its blob; runFirst is its
	// compiled run_worker_first (nil: the worker only answers what the
	// static assets do not) and vars its configuration variables.
	worker   string
	tenantID string
	runFirst *runFirst
	vars     map[string]string
	// kv maps the worker's KV binding names to their namespace IDs ("":
	// the binding was never resolved).
	kv  map[string]string
	ref atomic.Bool // CLOCK reference bit
}

// digestDeployment identifies the loaded form of a deployment: two
// deployments with the same tenant, files and configuration share one.
func digestDeployment(tenantID string, d *tenants.Deployment) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	str := func(s string) {
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	num := func(v int64) {
		binary.LittleEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	str("pier-deployment-v1")
	str(tenantID)
	paths := make([]string, 0, len(d.Manifest))
	for p := range d.Manifest {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	num(int64(len(paths)))
	for _, p := range paths {
		e := d.Manifest[p]
		str(p)
		str(e.Hash)
		str(e.ContentType)
		num(e.Size)
		num(e.BrSize)
		num(e.GzSize)
	}
	c := d.Config
	str(c.HTMLHandling)
	str(c.NotFoundHandling)
	str(c.Headers)
	str(c.Redirects)
	str(d.Worker)
	num(int64(len(c.RunWorkerFirst)))
	for _, s := range c.RunWorkerFirst {
		str(s)
	}
	keys := make([]string, 0, len(c.Vars))
	for k := range c.Vars {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	num(int64(len(keys)))
	for _, k := range keys {
		str(k)
		str(c.Vars[k])
	}
	if len(c.KV) > 0 { // absent before KV, so earlier digests stay the same
		str("kv")
		num(int64(len(c.KV)))
		for _, b := range c.KV {
			str(b.Binding)
			str(b.NamespaceID)
		}
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// errBadDeployment marks a deployment the edge cannot load (its
// configuration or rule files no longer validate). Such a route is cached
// like any other and answers 503 until the site is redeployed.
var errBadDeployment = errors.New("hosting: deployment cannot be served")

// compile builds the loaded form of d for tenantID.
func compile(tenantID string, d *tenants.Deployment, digest [sha256.Size]byte) (*deployment, error) {
	dep, _, err := compileWith(tenantID, d, digest)
	return dep, err
}

// compileWith is compile that also returns the reference resolver the
// table was computed with (tests compare the two; the edge drops it, as
// the table and the fallback maps hold everything serving needs).
func compileWith(tenantID string, d *tenants.Deployment, digest [sha256.Size]byte) (*deployment, *resolver, error) {
	cfg := d.Config
	if err := cfg.Normalize(); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", errBadDeployment, d.ID, err)
	}
	redirects, err := siterules.ParseRedirects(cfg.Redirects)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", errBadDeployment, d.ID, err)
	}
	headers, err := siterules.ParseHeaders(cfg.Headers)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", errBadDeployment, d.ID, err)
	}
	if redirects.Len() == 0 {
		redirects = nil
	}
	if headers.Len() == 0 {
		headers = nil
	}
	dep := &deployment{
		digest:    digest,
		redirects: redirects,
		headers:   headers,
		worker:    d.Worker,
		tenantID:  tenantID,
	}
	if d.Worker != "" {
		dep.runFirst = newRunFirst(cfg.RunWorkerFirst)
		dep.vars = maps.Clone(cfg.Vars)
		for _, b := range cfg.KV {
			if dep.kv == nil {
				dep.kv = make(map[string]string, len(cfg.KV))
			}
			dep.kv[b.Binding] = b.NamespaceID
		}
	}
	rs := &resolver{
		files:    make(map[string]*file, len(d.Manifest)),
		html:     cfg.HTMLHandling,
		notFound: cfg.NotFoundHandling,
	}
	vi := newValueInterner()
	for p, e := range d.Manifest {
		if !servable(p) {
			continue
		}
		rs.files[p] = newFile(tenantID, p, e, vi)
	}

	// Precompute every path html_handling resolves.
	dep.table = make(map[string]*target, len(rs.files))
	var cands []string
	sets := map[string]*headerSet{}
	for p := range rs.files {
		cands = candidates(cands[:0], p)
		for _, c := range cands {
			if _, done := dep.table[c]; done {
				continue
			}
			it := rs.resolve(c, false)
			if it.none() || it.fallback {
				continue
			}
			t := &target{}
			if it.redirect != "" {
				t.location = encodePath(it.redirect)
				t.dest = it.redirect
				t.headers = dep.redirectHeaders(c, vi, sets)
			} else {
				t.file = it.file
				t.headers = dep.assetHeaders(c, it.file, vi, sets)
			}
			dep.table[c] = t
		}
	}
	switch cfg.NotFoundHandling {
	case tenants.NotFoundSPA:
		dep.spaIndex = rs.files["/index.html"]
	case tenants.NotFound404:
		dep.notFound = map[string]*file{}
		for p, f := range rs.files {
			if dir, ok := strings.CutSuffix(p, "404.html"); ok && strings.HasSuffix(dir, "/") {
				dep.notFound[dir] = f
			}
		}
	}
	return dep, rs, nil
}

// servable reports whether a manifest path may be served: the rule files
// are configuration, never content (the publish pipeline drops them; this
// guards against a manifest that kept them).
func servable(p string) bool {
	return p != "/_headers" && p != "/_redirects" && strings.HasPrefix(p, "/")
}

// valueInterner shares identical one-element header value slices within a
// deployment.
type valueInterner map[string][]string

func newValueInterner() valueInterner { return valueInterner{} }

func (vi valueInterner) get(s string) []string {
	if v, ok := vi[s]; ok {
		return v
	}
	v := []string{s}
	vi[s] = v
	return v
}

func newFile(tenantID, p string, e assets.Entry, vi valueInterner) *file {
	f := &file{path: p, hash: e.Hash}
	ctype := e.ContentType
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	f.ctype = vi.get(ctype)
	sizes := [numVariants]int64{e.Size, e.BrSize, e.GzSize}
	names := [numVariants]string{assets.VariantIdentity, assets.VariantBrotli, assets.VariantGzip}
	encodings := [numVariants]string{"", "br", "gzip"}
	for v := range numVariants {
		if v != identity && sizes[v] <= 0 {
			continue
		}
		vr := &f.variants[v]
		vr.key = assets.Key(tenantID, e.Hash, names[v])
		vr.size = sizes[v]
		vr.length = []string{strconv.FormatInt(sizes[v], 10)}
		if v == identity {
			vr.etag = []string{`"` + e.Hash + `"`}
		} else {
			vr.etag = []string{`"` + e.Hash + "-" + names[v] + `"`}
			vr.encoding = vi.get(encodings[v])
			f.vary = true
		}
	}
	hdr := http.Header{}
	defaultAssetHeaders(hdr, f, vi)
	f.plain = toHeaderSet(hdr, vi)
	return f
}

// defaultAssetHeaders sets the headers every response serving f carries
// before _headers is applied.
func defaultAssetHeaders(h http.Header, f *file, vi valueInterner) {
	h["Content-Type"] = f.ctype
	h["Cache-Control"] = vi.get(defaultCacheControl)
	h["X-Content-Type-Options"] = vi.get(nosniff)
	h["Accept-Ranges"] = vi.get("bytes")
	if f.vary {
		h["Vary"] = vi.get("Accept-Encoding")
	}
}

// fixVary makes sure Vary still names Accept-Encoding after _headers set
// its own Vary for a file with variants.
func fixVary(h http.Header, f *file) {
	if !f.vary {
		return
	}
	v := h["Vary"]
	for _, s := range v {
		for _, tok := range strings.Split(s, ",") {
			if t := strings.TrimSpace(tok); strings.EqualFold(t, "Accept-Encoding") || t == "*" {
				return
			}
		}
	}
	if len(v) == 0 {
		h["Vary"] = []string{"Accept-Encoding"}
		return
	}
	h["Vary"] = []string{strings.Join(v, ", ") + ", Accept-Encoding"}
}

// toHeaderSet freezes h into a headerSet, sorted by name for
// deterministic output, with value slices interned.
func toHeaderSet(h http.Header, vi valueInterner) *headerSet {
	hs := &headerSet{pairs: make([]headerPair, 0, len(h))}
	for k, v := range h {
		var val []string
		if len(v) == 1 {
			val = vi.get(v[0])
		} else {
			val = slices.Clip(slices.Clone(v))
		}
		hs.pairs = append(hs.pairs, headerPair{key: k, value: val})
	}
	slices.SortFunc(hs.pairs, func(a, b headerPair) int { return strings.Compare(a.key, b.key) })
	return hs
}

// assetHeaders returns the header set serving f at request path p.
func (d *deployment) assetHeaders(p string, f *file, vi valueInterner, sets map[string]*headerSet) *headerSet {
	if d.headers == nil {
		return f.plain
	}
	h := http.Header{}
	defaultAssetHeaders(h, f, vi)
	d.headers.Apply(p, h)
	fixVary(h, f)
	return internSet(toHeaderSet(h, vi), sets)
}

// redirectHeaders returns the header set of an html_handling redirect at
// request path p: only what _headers adds.
func (d *deployment) redirectHeaders(p string, vi valueInterner, sets map[string]*headerSet) *headerSet {
	h := http.Header{}
	d.headers.Apply(p, h)
	return internSet(toHeaderSet(h, vi), sets)
}

// internSet shares identical header sets within a deployment.
func internSet(hs *headerSet, sets map[string]*headerSet) *headerSet {
	var b strings.Builder
	for _, p := range hs.pairs {
		b.WriteString(p.key)
		for _, v := range p.value {
			b.WriteByte(0)
			b.WriteString(v)
		}
		b.WriteByte('\n')
	}
	k := b.String()
	if s, ok := sets[k]; ok {
		return s
	}
	sets[k] = hs
	return hs
}

// fallback applies not_found_handling to a decoded path html_handling did
// not resolve: the SPA's /index.html (200) for a browser navigation
// (Sec-Fetch-Mode: navigate, so /users/john.doe works) or a path that does
// not look like an asset, or the nearest 404.html walking up from the
// path's directory (404). It returns a nil file when nothing applies.
func (d *deployment) fallback(p string, navigate bool) (*file, int) {
	if d.spaIndex != nil && (navigate || !looksLikeAsset(p)) {
		return d.spaIndex, http.StatusOK
	}
	if d.notFound == nil {
		return nil, 0
	}
	dir := p[:strings.LastIndexByte(p, '/')+1]
	for {
		if f := d.notFound[dir]; f != nil {
			return f, http.StatusNotFound
		}
		if dir == "/" || dir == "" {
			return nil, 0
		}
		dir = dir[:strings.LastIndexByte(dir[:len(dir)-1], '/')+1]
	}
}
