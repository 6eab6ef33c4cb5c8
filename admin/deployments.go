package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/tenants"
)

// deploymentJSON is a Deployment as the API shows it.
type deploymentJSON struct {
	tenants.DeploymentSummary
	Config     *tenants.DeploymentConfig `json:"config,omitempty"` // absent in listings
	Active     bool                      `json:"active"`
	URL        string                    `json:"url"`
	PreviewURL string                    `json:"preview_url"`
	Manifest   assets.Manifest           `json:"manifest,omitempty"` // only GET of one
	// WorkerSize is the worker module's size in bytes: only GET of one,
	// when the deployment has a worker whose blob is stored.
	WorkerSize *int64 `json:"worker_size,omitempty"`
}

func (a *API) deploymentView(site tenants.Site, d tenants.DeploymentSummary) deploymentJSON {
	return deploymentJSON{
		DeploymentSummary: d,
		Active:            site.ActiveDeployment == d.ID,
		URL:               a.SiteURL(site.Name),
		PreviewURL:        a.PreviewURL(site.Name, d.ID),
	}
}

func (a *API) fullDeploymentView(site tenants.Site, d tenants.Deployment, withManifest bool) deploymentJSON {
	v := a.deploymentView(site, d.Summary())
	cfg := d.Config
	v.Config = &cfg
	if withManifest {
		v.Manifest = d.Manifest
		if v.Manifest == nil {
			v.Manifest = assets.Manifest{}
		}
	}
	return v
}

func (a *API) createUpload(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	site, err := a.siteFor(ctx, principalFrom(ctx), chi.URLParam(r, "site"))
	if err != nil {
		return err
	}
	m, worker, err := decodeUploadRequest(http.MaxBytesReader(w, r.Body, a.cfg.MaxRequestBody), a.cfg.Limits.MaxFiles)
	if err != nil {
		return err
	}
	up, err := a.StartUpload(ctx, site, m, worker)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, struct {
		ID      string    `json:"id"`
		Missing []string  `json:"missing"`
		Expires time.Time `json:"expires_at"`
	}{up.Session.ID, up.Missing, up.Session.Expires})
	return nil
}

// decodeUploadRequest stream-decodes
// {"manifest":{path:{"hash","size"}},"worker":{"hash","size"}} (worker
// optional), the manifest one entry at a time. Past maxFiles entries it
// keeps counting without keeping them, so the answer names the real count
// with bounded memory. Fields of an entry other than hash and size (e.g.
// content_type) are ignored: the server assigns content types.
func decodeUploadRequest(r io.Reader, maxFiles int) (m assets.Manifest, worker *tenants.WorkerBlob, err error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{', "body"); err != nil {
		return nil, nil, err
	}
	count := 0
	for dec.More() {
		key, err := stringToken(dec, "body")
		if err != nil {
			return nil, nil, err
		}
		switch key {
		case "manifest":
		case "worker":
			if worker != nil {
				return nil, nil, &FieldError{Field: "worker", Msg: "given twice"}
			}
			if worker, err = decodeWorkerField(dec); err != nil {
				return nil, nil, err
			}
			continue
		default:
			return nil, nil, &FieldError{Field: key, Msg: "unknown field"}
		}
		if m != nil {
			return nil, nil, &FieldError{Field: "manifest", Msg: "given twice"}
		}
		if err := expectDelim(dec, '{', "manifest"); err != nil {
			return nil, nil, err
		}
		m = assets.Manifest{}
		for dec.More() {
			p, err := stringToken(dec, "manifest")
			if err != nil {
				return nil, nil, err
			}
			var e struct {
				Hash string `json:"hash"`
				Size int64  `json:"size"`
			}
			if err := dec.Decode(&e); err != nil {
				err = jsonError(err)
				var fe *FieldError
				if errors.As(err, &fe) && fe.Field != "body" {
					fe.Field = "manifest[" + p + "]." + fe.Field
				}
				return nil, nil, err
			}
			count++
			if count > maxFiles {
				continue
			}
			if _, dup := m[p]; dup {
				return nil, nil, &FieldError{Field: "manifest", Msg: fmt.Sprintf("path %q is given twice", p)}
			}
			m[p] = assets.Entry{Hash: e.Hash, Size: e.Size}
		}
		if err := expectDelim(dec, '}', "manifest"); err != nil {
			return nil, nil, err
		}
	}
	if err := expectDelim(dec, '}', "body"); err != nil {
		return nil, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, jsonError(err)
		}
		return nil, nil, &FieldError{Field: "body", Msg: "unexpected data after the JSON object"}
	}
	if m == nil {
		return nil, nil, &FieldError{Field: "manifest", Msg: "required"}
	}
	if count > maxFiles {
		return nil, nil, &assets.ManifestError{Code: assets.CodeTooManyFiles, Limit: int64(maxFiles),
			Msg: fmt.Sprintf("manifest has %d files, more than the limit of %d", count, maxFiles)}
	}
	return m, worker, nil
}

// decodeWorkerField decodes the upload request's "worker": {"hash","size"}.
func decodeWorkerField(dec *json.Decoder) (*tenants.WorkerBlob, error) {
	var w struct {
		Hash *string `json:"hash"`
		Size *int64  `json:"size"`
	}
	if err := dec.Decode(&w); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field == "" {
			return nil, &FieldError{Field: "worker", Msg: "must be an object {\"hash\",\"size\"}"}
		}
		err = jsonError(err)
		var fe *FieldError
		if errors.As(err, &fe) && fe.Field != "body" {
			fe.Field = "worker." + fe.Field
		}
		return nil, err
	}
	switch {
	case w.Hash == nil:
		return nil, &FieldError{Field: "worker.hash", Msg: "required"}
	case w.Size == nil:
		return nil, &FieldError{Field: "worker.size", Msg: "required"}
	}
	return &tenants.WorkerBlob{Hash: *w.Hash, Size: *w.Size}, nil
}

func expectDelim(dec *json.Decoder, want json.Delim, field string) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		if want == '{' {
			return &FieldError{Field: field, Msg: "must be an object"}
		}
		return &FieldError{Field: field, Msg: "malformed JSON"}
	}
	return nil
}

func stringToken(dec *json.Decoder, field string) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", jsonError(err)
	}
	s, ok := tok.(string)
	if !ok {
		return "", &FieldError{Field: field, Msg: "malformed JSON"}
	}
	return s, nil
}

func (a *API) putBlob(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := principalFrom(ctx)
	uploadID, hash := chi.URLParam(r, "upload"), chi.URLParam(r, "hash")
	tenantID := p.token.TenantID // "" for an admin: any tenant's session
	idx, err := a.session(ctx, tenantID, uploadID)
	if err != nil {
		return err
	}
	if p.siteScoped() && idx.siteID != p.token.SiteID {
		return notFound("upload", uploadID) // another site's, as another tenant's is
	}
	info, ok := idx.blobs[hash]
	if !ok {
		return notFound("blob of this upload", hash)
	}
	if r.ContentLength < 0 {
		return errLengthRequired
	}
	if r.ContentLength != info.size {
		return &SizeMismatchError{Hash: hash, Want: info.size, Got: r.ContentLength}
	}
	if err := a.PutBlob(ctx, tenantID, uploadID, hash, r.Body, r.ContentLength); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) createDeployment(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	site, err := a.siteFor(ctx, principalFrom(ctx), chi.URLParam(r, "site"))
	if err != nil {
		return err
	}
	var req struct {
		Upload string `json:"upload"`
		Config struct {
			HTMLHandling     string              `json:"html_handling"`
			NotFoundHandling string              `json:"not_found_handling"`
			RunWorkerFirst   []string            `json:"run_worker_first"`
			Vars             map[string]string   `json:"vars"`
			KV               []tenants.KVBinding `json:"kv"`
		} `json:"config"`
		Source   tenants.Source `json:"source"`
		Activate *bool          `json:"activate"`
	}
	if err := decodeJSON(w, r, a.cfg.MaxRequestBody, &req); err != nil {
		return err
	}
	if req.Upload == "" {
		return &FieldError{Field: "upload", Msg: "required"}
	}
	// The git tree is what a push deployed, which only the git publisher
	// says (through Deploy; Store.DeploymentByTree trusts it): a client's
	// is dropped. source.type "git" is still accepted, as a label.
	req.Source.Tree = ""
	dr := DeployRequest{
		Upload: req.Upload,
		Config: tenants.DeploymentConfig{
			HTMLHandling:     req.Config.HTMLHandling,
			NotFoundHandling: req.Config.NotFoundHandling,
			RunWorkerFirst:   req.Config.RunWorkerFirst,
			Vars:             req.Config.Vars,
			KV:               req.Config.KV,
		},
		Source:    req.Source,
		Activate:  req.Activate == nil || *req.Activate,
		SiteToken: principalFrom(ctx).siteScoped(),
	}
	d, err := a.Deploy(ctx, site, dr)
	if err != nil {
		return err
	}
	if dr.Activate {
		site.ActiveDeployment = d.ID
	}
	writeJSON(w, http.StatusCreated, a.fullDeploymentView(site, d, false))
	return nil
}

func (a *API) listDeployments(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	site, err := a.siteFor(ctx, principalFrom(ctx), chi.URLParam(r, "site"))
	if err != nil {
		return err
	}
	page, err := pageRequest(r)
	if err != nil {
		return err
	}
	list, next, err := a.store.DeploymentsPage(ctx, site.ID, page)
	if err != nil {
		return pageErr("listing deployments of "+site.Name, err)
	}
	out := make([]deploymentJSON, 0, len(list))
	for _, d := range list {
		out = append(out, a.deploymentView(site, d))
	}
	writePage(w, "deployments", out, next)
	return nil
}

func (a *API) getDeployment(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	site, err := a.siteFor(ctx, principalFrom(ctx), chi.URLParam(r, "site"))
	if err != nil {
		return err
	}
	id := chi.URLParam(r, "deployment")
	d, err := a.store.Deployment(ctx, site.ID, id)
	if err != nil {
		return lookupErr("deployment", id, err)
	}
	v := a.fullDeploymentView(site, d, true)
	if d.Worker != "" {
		// The detail's "worker: N bytes"; a blob store that cannot say
		// leaves the size out rather than failing the whole answer.
		if n, err := a.blobs.Size(ctx, assets.Key(d.TenantID, d.Worker, assets.VariantIdentity)); err == nil {
			v.WorkerSize = &n
		} else {
			a.log.WarnContext(ctx, "reading the size of a deployment's worker", "deployment", d.ID, "err", err)
		}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) activateDeployment(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	site, err := a.siteFor(ctx, principalFrom(ctx), chi.URLParam(r, "site"))
	if err != nil {
		return err
	}
	id := chi.URLParam(r, "deployment")
	d, err := a.store.Deployment(ctx, site.ID, id)
	if err != nil {
		return lookupErr("deployment", id, err)
	}
	if err := a.Activate(ctx, site, id); err != nil {
		return err
	}
	site.ActiveDeployment = id
	writeJSON(w, http.StatusOK, a.fullDeploymentView(site, d, false))
	return nil
}
