package admin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/pierhq/pier/internal/httperr"
	"github.com/pierhq/pier/tenants"
)

// KV namespaces and their keys, outside workers:
//
//	POST/GET        /api/v1/tenants/{tenant}/kv          create (kvNamespaces quota), list
//	GET/DELETE      /api/v1/tenants/{tenant}/kv/{ns}     one namespace (+ keys, bytes), delete
//	GET             /api/v1/kv/{ns}/keys                 a page of keys (?prefix, ?cursor, ?limit)
//	GET/HEAD/PUT/DELETE /api/v1/kv/{ns}/keys/{key}       raw value (PUT ?ttl=SECONDS)
//	POST            /api/v1/kv/{ns}/bulk                 [{"key","value","base64"?,"ttl"?}], all or none
//
// Every route is tenant-level (site tokens get 403). Under /api/v1/kv,
// {ns} is a namespace ID (any token whose tenant owns it, or an admin
// token) or, for a tenant token, a name within its tenant; another
// tenant's namespace is 404, by ID or by name. Writes are checked against
// the tenant's kvValueKB and storageMB (which counts KV keys and values)
// and reported through Config.OnKVChange.

// kvStore is what the KV endpoints need of the store: both stores
// implement it.
type kvStore interface {
	tenants.KVStore
	// KVNamespaceStats counts a namespace's unexpired keys and their
	// bytes (len(key)+len(value)).
	KVNamespaceStats(ctx context.Context, id string) (keys int, bytes int64, err error)
}

var errKVUnavailable = httperr.New(http.StatusServiceUnavailable, "kv_unavailable",
	"this server's store has no KV namespaces")

// maxKVTTL bounds a TTL (about 100 years), so that it never overflows a
// time.
const maxKVTTL = 100 * 365 * 24 * 3600

// KVValueTooLargeError is returned by a KV write whose value is larger
// than the tenant's kvValueKB. Nothing was written.
type KVValueTooLargeError struct {
	Index int   // the item of a bulk write; -1 for a single put
	Size  int64 // the value's bytes (for a streamed body: at least Limit+1)
	Limit int   // kvValueKB
}

func (e *KVValueTooLargeError) Error() string { return "admin: " + e.message() }

func (e *KVValueTooLargeError) message() string {
	where := "the value"
	if e.Index >= 0 {
		where = fmt.Sprintf("[%d].value", e.Index)
	}
	return fmt.Sprintf("%s is over the limit kvValueKB of %d KB (%d bytes)", where, e.Limit, int64(e.Limit)*1024)
}

func (e *KVValueTooLargeError) httpError() *httperr.Error {
	d := map[string]any{"quota": "kvValueKB", "limit": e.Limit, "size": e.Size}
	if e.Index >= 0 {
		d["index"] = e.Index
	}
	return &httperr.Error{Status: http.StatusRequestEntityTooLarge, Code: "value_too_large", Message: e.message(), Details: d, Err: e}
}

func (a *API) kv() (kvStore, error) {
	kv, ok := a.store.(kvStore)
	if !ok {
		return nil, errKVUnavailable
	}
	return kv, nil
}

// kvChanged tells the followers of a key written or deleted through the
// API (key "": the whole namespace).
func (a *API) kvChanged(namespaceID, key string) { a.cfg.OnKVChange(namespaceID, key) }

// kvNamespaceJSON is a namespace as GET …/kv/{ns} shows it.
type kvNamespaceJSON struct {
	tenants.KVNamespace
	Keys  int   `json:"keys"`
	Bytes int64 `json:"bytes"`
}

func (a *API) createKVNamespace(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	kv, err := a.kv()
	if err != nil {
		return err
	}
	t, err := a.tenantFor(ctx, principalFrom(ctx), chi.URLParam(r, "tenant"))
	if err != nil {
		return err
	}
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, maxMetadataBody, &req); err != nil {
		return err
	}
	if err := tenants.ValidateName("kv namespace", req.Name); err != nil {
		return invalidField("name", err)
	}
	// A name in use is a conflict, at the quota or not (the quota says
	// to delete a namespace, which would not help).
	if old, err := kv.KVNamespace(ctx, t.ID, req.Name); err == nil && old.Name == req.Name {
		return lookupErr("kv namespace", req.Name, tenants.ErrConflict)
	}
	n := tenants.KVNamespace{ID: tenants.NewID("kv_", 10), TenantID: t.ID, Name: req.Name, Created: a.now()}
	err = a.withCountQuota(ctx, t, "kvNamespaces", func() error {
		if err := kv.CreateKVNamespace(ctx, n); err != nil {
			return lookupErr("kv namespace", req.Name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, n)
	return nil
}

func (a *API) listKVNamespaces(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	kv, err := a.kv()
	if err != nil {
		return err
	}
	t, err := a.tenantFor(ctx, principalFrom(ctx), chi.URLParam(r, "tenant"))
	if err != nil {
		return err
	}
	list, err := kv.KVNamespaces(ctx, t.ID)
	if err != nil {
		return fmt.Errorf("admin: listing kv namespaces: %w", err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"namespaces": list})
	return nil
}

// tenantKVNamespace resolves /tenants/{tenant}/kv/{ns}.
func (a *API) tenantKVNamespace(r *http.Request) (kvStore, tenants.KVNamespace, error) {
	ctx := r.Context()
	kv, err := a.kv()
	if err != nil {
		return nil, tenants.KVNamespace{}, err
	}
	t, err := a.tenantFor(ctx, principalFrom(ctx), chi.URLParam(r, "tenant"))
	if err != nil {
		return nil, tenants.KVNamespace{}, err
	}
	ref := chi.URLParam(r, "ns")
	n, err := kv.KVNamespace(ctx, t.ID, ref)
	if err != nil {
		return nil, n, lookupErr("kv namespace", ref, err)
	}
	return kv, n, nil
}

func (a *API) getKVNamespace(w http.ResponseWriter, r *http.Request) error {
	kv, n, err := a.tenantKVNamespace(r)
	if err != nil {
		return err
	}
	keys, size, err := kv.KVNamespaceStats(r.Context(), n.ID)
	if err != nil {
		return fmt.Errorf("admin: counting the keys of %s: %w", n.ID, err)
	}
	writeJSON(w, http.StatusOK, kvNamespaceJSON{KVNamespace: n, Keys: keys, Bytes: size})
	return nil
}

// deleteKVNamespace deletes a namespace and its keys. Deployments that
// bind it keep their binding, whose operations then fail (kv_unbound).
func (a *API) deleteKVNamespace(w http.ResponseWriter, r *http.Request) error {
	kv, n, err := a.tenantKVNamespace(r)
	if err != nil {
		return err
	}
	if err := kv.DeleteKVNamespace(r.Context(), n.ID); err != nil {
		return lookupErr("kv namespace", n.Name, err)
	}
	a.kvChanged(n.ID, "")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// kvKeyFor is kvNamespaceFor plus the key named in the path.
func (a *API) kvKeyFor(r *http.Request) (kvStore, tenants.KVNamespace, tenants.Tenant, string, error) {
	kv, n, t, err := a.kvNamespaceFor(r)
	if err != nil {
		return nil, n, t, "", err
	}
	key, err := kvKey(r)
	return kv, n, t, key, err
}

// kvNamespaceFor resolves /kv/{ns} for p: an ID (an admin's, or one of
// p's tenant) or, for a tenant token, a name within its tenant. It
// returns the namespace's tenant too, for its limits.
func (a *API) kvNamespaceFor(r *http.Request) (kvStore, tenants.KVNamespace, tenants.Tenant, error) {
	ctx := r.Context()
	p := principalFrom(ctx)
	ref := chi.URLParam(r, "ns")
	kv, err := a.kv()
	if err != nil {
		return nil, tenants.KVNamespace{}, tenants.Tenant{}, err
	}
	var n tenants.KVNamespace
	if p.admin() {
		n, err = kv.KVNamespaceByID(ctx, ref)
	} else {
		n, err = kv.KVNamespace(ctx, p.tenant.ID, ref)
	}
	if err != nil {
		return nil, n, tenants.Tenant{}, lookupErr("kv namespace", ref, err)
	}
	t, err := a.tenantOf(ctx, p, n.TenantID)
	return kv, n, t, err
}

// kvKey reads the {key} of the path: chi gives it escaped when the path
// has escapes of its own (a key with "/" is sent as %2F).
func kvKey(r *http.Request) (string, error) {
	key := chi.URLParam(r, "key")
	if r.URL.RawPath != "" {
		k, err := url.PathUnescape(key)
		if err != nil {
			return "", &FieldError{Field: "key", Msg: "is not a valid path-escaped key"}
		}
		key = k
	}
	if err := tenants.ValidKVKey(key); err != nil {
		return "", invalidField("key", err)
	}
	return key, nil
}

func (a *API) listKVKeys(w http.ResponseWriter, r *http.Request) error {
	kv, n, _, err := a.kvNamespaceFor(r)
	if err != nil {
		return err
	}
	p, err := pageRequest(r)
	if err != nil {
		return err
	}
	keys, next, err := kv.KVList(r.Context(), n.ID, r.URL.Query().Get("prefix"), p)
	if err != nil {
		return pageErr("listing kv keys", err)
	}
	writePage(w, "keys", keys, next)
	return nil
}

func (a *API) getKVKey(w http.ResponseWriter, r *http.Request) error {
	kv, n, _, key, err := a.kvKeyFor(r)
	if err != nil {
		return err
	}
	e, err := kv.KVGet(r.Context(), n.ID, key)
	if err != nil {
		return lookupErr("key", key, err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(len(e.Value)))
	h.Set("X-Content-Type-Options", "nosniff")
	if !e.Expires.IsZero() {
		h.Set("Pier-KV-Expires", e.Expires.UTC().Format(time.RFC3339Nano))
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(e.Value)
	}
	return nil
}

// kvExpiry turns a TTL in seconds (0: none) into an expiry time.
func (a *API) kvExpiry(field string, ttl int64) (time.Time, error) {
	switch {
	case ttl < 0 || ttl > maxKVTTL:
		return time.Time{}, &FieldError{Field: field, Msg: fmt.Sprintf("must be a number of seconds from 0 (never expires) to %d", maxKVTTL)}
	case ttl == 0:
		return time.Time{}, nil
	}
	return a.now().Add(time.Duration(ttl) * time.Second), nil
}

func (a *API) putKVKey(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	kv, n, t, key, err := a.kvKeyFor(r)
	if err != nil {
		return err
	}
	var ttl int64
	if s := r.URL.Query().Get("ttl"); s != "" {
		if ttl, err = strconv.ParseInt(s, 10, 64); err != nil {
			return &FieldError{Field: "ttl", Msg: "must be a whole number of seconds"}
		}
	}
	expires, err := a.kvExpiry("ttl", ttl)
	if err != nil {
		return err
	}
	limitKB := t.EffectiveLimits().KVValueKB
	max := int64(limitKB) * 1024
	if limitKB > 0 && r.ContentLength > max {
		return &KVValueTooLargeError{Index: -1, Size: r.ContentLength, Limit: limitKB}
	}
	if limitKB <= 0 {
		max = a.cfg.MaxRequestBody
	}
	value, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return &FieldError{Field: "body", Msg: "could not read the value: " + err.Error()}
	}
	if int64(len(value)) > max {
		if limitKB <= 0 {
			return &http.MaxBytesError{Limit: max}
		}
		return &KVValueTooLargeError{Index: -1, Size: int64(len(value)), Limit: limitKB}
	}
	err = a.kvWrite(ctx, t, n, int64(len(key)+len(value)), func() error {
		return kv.KVPut(ctx, n.ID, tenants.KVEntry{Key: key, Value: value, Expires: expires})
	})
	if err != nil {
		return err
	}
	a.kvChanged(n.ID, key)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// kvWrite runs write if adding size bytes keeps t within storageMB (KV
// keys and values count in it, beside blobs).
func (a *API) kvWrite(ctx context.Context, t tenants.Tenant, n tenants.KVNamespace, size int64, write func() error) error {
	release, err := a.checkStorage(ctx, t.ID, size, storageLimit(t))
	if err != nil {
		return err
	}
	defer release()
	if err := write(); err != nil {
		return lookupErr("kv namespace", n.Name, err)
	}
	a.quotas.addStored(t.ID, size)
	return nil
}

func (a *API) deleteKVKey(w http.ResponseWriter, r *http.Request) error {
	kv, n, _, key, err := a.kvKeyFor(r)
	if err != nil {
		return err
	}
	if err := kv.KVDelete(r.Context(), n.ID, key); err != nil {
		return fmt.Errorf("admin: deleting a kv key: %w", err)
	}
	a.kvChanged(n.ID, key)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// kvBulkItem is one item of POST /kv/{ns}/bulk.
type kvBulkItem struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Base64 bool   `json:"base64,omitempty"` // value is standard base64 of the bytes
	TTL    int64  `json:"ttl,omitempty"`    // seconds; 0: never expires
}

// decodeBulkItems decodes a bulk write's body item by item, so that an
// error names its item ("[3].ttl"), and refuses an item whose key or
// value is not valid UTF-8 (encoding/json would turn an invalid byte or
// a lone surrogate escape into U+FFFD and write another key than sent).
func decodeBulkItems(w http.ResponseWriter, r *http.Request, max int64) ([]kvBulkItem, error) {
	var raws []json.RawMessage
	if err := decodeJSON(w, r, max, &raws); err != nil {
		return nil, err
	}
	items := make([]kvBulkItem, len(raws))
	for i, raw := range raws {
		field := fmt.Sprintf("[%d]", i)
		if !utf8.Valid(raw) {
			return nil, &FieldError{Field: field, Msg: "is not valid UTF-8"}
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&items[i]); err != nil {
			var fe *FieldError
			if errors.As(jsonError(err), &fe) {
				if fe.Field == "body" {
					fe.Field = field
				} else {
					fe.Field = field + "." + fe.Field
				}
				return nil, fe
			}
			return nil, jsonError(err)
		}
		for _, f := range [...]struct{ name, v string }{{"key", items[i].Key}, {"value", items[i].Value}} {
			if lostUTF8(raw, f.v) {
				return nil, &FieldError{Field: field + "." + f.name, Msg: "is not valid UTF-8 (a lone surrogate escape); send bytes as base64 in value with \"base64\": true"}
			}
		}
	}
	return items, nil
}

// bulkEntries validates the items of a bulk write and returns them as
// entries with their bytes together.
func (a *API) bulkEntries(items []kvBulkItem, limitKB int) ([]tenants.KVEntry, int64, error) {
	if len(items) > tenants.MaxKVBatch {
		return nil, 0, &FieldError{Field: "body", Msg: fmt.Sprintf("has %d items, more than the limit of %d", len(items), tenants.MaxKVBatch)}
	}
	es := make([]tenants.KVEntry, len(items))
	var size int64
	for i, it := range items {
		field := fmt.Sprintf("[%d]", i)
		if err := tenants.ValidKVKey(it.Key); err != nil {
			return nil, 0, invalidField(field+".key", err)
		}
		v := []byte(it.Value)
		if it.Base64 {
			var err error
			if v, err = base64.StdEncoding.DecodeString(it.Value); err != nil {
				return nil, 0, &FieldError{Field: field + ".value", Msg: "is not valid base64"}
			}
		}
		if limitKB > 0 && len(v) > limitKB*1024 {
			return nil, 0, &KVValueTooLargeError{Index: i, Size: int64(len(v)), Limit: limitKB}
		}
		expires, err := a.kvExpiry(field+".ttl", it.TTL)
		if err != nil {
			return nil, 0, err
		}
		es[i] = tenants.KVEntry{Key: it.Key, Value: v, Expires: expires}
		size += int64(len(it.Key) + len(v))
	}
	return es, size, nil
}

func (a *API) bulkKV(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	kv, n, t, err := a.kvNamespaceFor(r)
	if err != nil {
		return err
	}
	items, err := decodeBulkItems(w, r, a.cfg.MaxRequestBody)
	if err != nil {
		return err
	}
	es, size, err := a.bulkEntries(items, t.EffectiveLimits().KVValueKB)
	if err != nil {
		return err
	}
	if err := a.kvWrite(ctx, t, n, size, func() error { return kv.KVPutMany(ctx, n.ID, es) }); err != nil {
		return err
	}
	if len(es) > kvNotifyKeys {
		a.kvChanged(n.ID, "")
	} else {
		for _, e := range es {
			a.kvChanged(n.ID, e.Key)
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"written": len(es)})
	return nil
}

// kvNotifyKeys is the most keys a bulk write reports one by one to
// OnKVChange; beyond, it reports the whole namespace.
const kvNotifyKeys = 100

// kvBindingRE is the shape of a KV binding's name, as the worker uses it.
var kvBindingRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// validateKVBindings checks config.kv: at most maxKVBindings bindings,
// each with a unique name of kvBindingRE's shape and a namespace name.
func validateKVBindings(bs []tenants.KVBinding) error {
	if len(bs) > maxKVBindings {
		return &FieldError{Field: "config.kv", Msg: fmt.Sprintf("%d bindings, more than the limit of %d", len(bs), maxKVBindings)}
	}
	seen := make(map[string]bool, len(bs))
	for i, b := range bs {
		field := fmt.Sprintf("config.kv[%d]", i)
		switch {
		case !kvBindingRE.MatchString(b.Binding):
			return &FieldError{Field: field + ".binding", Msg: fmt.Sprintf("binding %q must match [A-Za-z_][A-Za-z0-9_]* and be at most 64 bytes", b.Binding)}
		case seen[b.Binding]:
			return &FieldError{Field: field + ".binding", Msg: fmt.Sprintf("binding %q is bound twice", b.Binding)}
		}
		seen[b.Binding] = true
		if err := tenants.ValidateName("kv namespace", b.Namespace); err != nil {
			return invalidField(field+".namespace", err)
		}
	}
	return nil
}

// resolveKVBindings returns the bindings with each NamespaceID set to the
// namespace of that name in tenant tenantID: a NamespaceID the client
// sent is ignored, so no deployment binds another tenant's namespace.
func (a *API) resolveKVBindings(ctx context.Context, tenantID string, bs []tenants.KVBinding) ([]tenants.KVBinding, error) {
	if len(bs) == 0 {
		return nil, nil
	}
	kv, err := a.kv()
	if err != nil {
		return nil, err
	}
	out := make([]tenants.KVBinding, len(bs))
	for i, b := range bs {
		n, err := kv.KVNamespace(ctx, tenantID, b.Namespace)
		switch {
		case errors.Is(err, tenants.ErrNotFound):
			return nil, &FieldError{Field: fmt.Sprintf("config.kv[%d].namespace", i),
				Msg: fmt.Sprintf("the tenant has no KV namespace %q (create it with pier kv create %s)", b.Namespace, b.Namespace)}
		case err != nil:
			return nil, fmt.Errorf("admin: resolving kv binding %s: %w", b.Binding, err)
		case n.Name != b.Namespace:
			// KVNamespace also finds by ID: a binding names a namespace.
			return nil, &FieldError{Field: fmt.Sprintf("config.kv[%d].namespace", i),
				Msg: fmt.Sprintf("the tenant has no KV namespace named %q", b.Namespace)}
		}
		out[i] = tenants.KVBinding{Binding: b.Binding, Namespace: n.Name, NamespaceID: n.ID}
	}
	return out, nil
}

// checkSiteTokenBindings refuses, for a deploy made with a site token,
// a binding of a namespace that the site's live deployment does not
// bind (DeployRequest.SiteToken): 403 site_token_forbidden naming it.
func (a *API) checkSiteTokenBindings(ctx context.Context, site tenants.Site, bs []tenants.KVBinding) error {
	if len(bs) == 0 {
		return nil
	}
	bound := map[string]bool{}
	if site.ActiveDeployment != "" {
		live, err := a.store.Deployment(ctx, site.ID, site.ActiveDeployment)
		if err != nil && !errors.Is(err, tenants.ErrNotFound) {
			return fmt.Errorf("admin: the live deployment's kv bindings: %w", err)
		}
		for _, b := range live.Config.KV {
			bound[b.NamespaceID] = true
		}
	}
	for i, b := range bs {
		if !bound[b.NamespaceID] {
			return httperr.New(http.StatusForbidden, "site_token_forbidden",
				"a site token may keep the KV namespaces the site's live deployment binds, not bind others: binding namespace %q needs a tenant or admin token (deploy once with one, and the site token may then keep it)", b.Namespace).
				With("field", fmt.Sprintf("config.kv[%d].namespace", i))
		}
	}
	return nil
}

// Expired KV keys are invisible at once and deleted by ExpireKV, run
// periodically by cmd/pier, at most kvSweepBatches × kvSweepBatch keys
// a run, so that a burst of expiries never holds the store's writer long.
const (
	kvSweepBatch   = 1000
	kvSweepBatches = 10
)

// ExpireKV deletes KV keys whose TTL has passed and returns how many it
// deleted. The caller (cmd/pier) runs it periodically.
func (a *API) ExpireKV(ctx context.Context) (int, error) {
	kv, ok := a.store.(tenants.KVStore)
	if !ok {
		return 0, nil
	}
	total := 0
	for range kvSweepBatches {
		n, err := kv.SweepExpiredKV(ctx, time.Now(), kvSweepBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("admin: sweeping expired kv keys: %w", err)
		}
		if n < kvSweepBatch {
			break
		}
	}
	return total, nil
}

// AllowKVWrite reports whether tenant tenantID may store size more bytes
// of KV (a key and its value) within its storageMB, as a write through the
// API is checked: the edge asks it before a worker's put or
// compare-and-swap. A refusal is a *QuotaError naming storageMB.
//
// The tenant's limit is read at most once a second (storedBytesTTL), as
// its stored bytes are: a change of plan or limits applies to workers'
// writes within a second, and a busy worker's writes do not each read the
// tenant's row.
func (a *API) AllowKVWrite(ctx context.Context, tenantID string, size int64) error {
	limit, ok := a.quotas.cachedLimit(tenantID)
	if !ok {
		t, err := a.store.Tenant(ctx, tenantID)
		if err != nil {
			return fmt.Errorf("admin: checking a KV write: %w", err)
		}
		limit = storageLimit(t)
		a.quotas.setLimit(tenantID, limit)
	}
	release, err := a.checkStorage(ctx, tenantID, size, limit)
	if err != nil {
		return err
	}
	release()
	a.quotas.addStored(tenantID, size)
	return nil
}
