package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/httperr"
	"github.com/pierhq/pier/internal/siterules"
	"github.com/pierhq/pier/tenants"
)

// MissingBlobsError is returned by Deploy when blobs of the session's
// manifest have not been uploaded (and verified) yet.
type MissingBlobsError struct {
	Hashes []string // sorted, unique
}

func (e *MissingBlobsError) Error() string {
	return fmt.Sprintf("admin: %d blobs of the manifest are not uploaded", len(e.Hashes))
}

// HashMismatchError is returned by PutBlob when the uploaded content does
// not hash to the hash it was uploaded under. Nothing is stored.
type HashMismatchError struct {
	Hash     string // the hash the blob was uploaded as
	Computed string // hex(XXH64(salt ‖ content)) of what was received
}

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("admin: blob uploaded as %s hashes to %s", e.Hash, e.Computed)
}

// SizeMismatchError is returned by PutBlob when the upload's length is not
// the size the manifest declares for the hash. Nothing is stored.
type SizeMismatchError struct {
	Hash string
	Want int64 // the manifest's size
	Got  int64 // the declared or received length (received: at most Want+1)
}

func (e *SizeMismatchError) Error() string {
	return fmt.Sprintf("admin: blob %s is %d bytes, the manifest says %d", e.Hash, e.Got, e.Want)
}

// WorkerInvalidError is returned by Deploy when Config.ValidateWorker
// rejects the session's worker. The live deployment is unchanged.
type WorkerInvalidError struct {
	Hash string
	Err  error // from ValidateWorker; its text is user-safe
}

func (e *WorkerInvalidError) Error() string {
	return "admin: worker " + e.Hash + " is invalid: " + e.Err.Error()
}

func (e *WorkerInvalidError) Unwrap() error { return e.Err }

// WorkerTooLargeError is returned by StartUpload and Deploy when a worker
// is larger than Config.MaxWorkerSize.
type WorkerTooLargeError struct {
	Size, Limit int64
}

func (e *WorkerTooLargeError) Error() string {
	return fmt.Sprintf("admin: worker is %d bytes, larger than the limit of %d bytes", e.Size, e.Limit)
}

// ErrWorkersDisabled is returned by StartUpload and Deploy for a worker
// when the server runs without workers (Config.ValidateWorker is nil).
var ErrWorkersDisabled = errors.New("admin: this server runs without workers")

// FieldError says which request field is invalid. It wraps
// tenants.ErrInvalid.
type FieldError struct {
	Field string // JSON name, dotted for nested fields ("config.html_handling")
	Msg   string // user-safe
}

func (e *FieldError) Error() string { return "admin: " + e.text() }

// text is the message naming the field once: a message that already
// starts with the field's name ("hostname \"x\" is …") is not prefixed.
func (e *FieldError) text() string {
	if strings.HasPrefix(e.Msg, e.Field+" ") {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// Unwrap returns tenants.ErrInvalid.
func (e *FieldError) Unwrap() error { return tenants.ErrInvalid }

// invalidField wraps a validation error from tenants (whose text is
// user-safe) as a FieldError.
func invalidField(field string, err error) *FieldError {
	return &FieldError{Field: field, Msg: strings.TrimPrefix(err.Error(), tenants.ErrInvalid.Error()+": ")}
}

// lookupError names the object a store lookup was about, so the answer can
// say which one was not found or already exists.
type lookupError struct {
	Kind string // "tenant", "site", …
	Ref  string // what the client asked for
	Err  error  // wraps tenants.ErrNotFound or ErrConflict
}

func (e *lookupError) Error() string { return "admin: " + e.Kind + " " + e.Ref + ": " + e.Err.Error() }
func (e *lookupError) Unwrap() error { return e.Err }

func lookupErr(kind, ref string, err error) error {
	if errors.Is(err, tenants.ErrNotFound) || errors.Is(err, tenants.ErrConflict) {
		return &lookupError{Kind: kind, Ref: ref, Err: err}
	}
	return fmt.Errorf("admin: %s %q: %w", kind, ref, err)
}

func notFound(kind, ref string) error {
	return &lookupError{Kind: kind, Ref: ref, Err: tenants.ErrNotFound}
}

var (
	errUnauthorized = httperr.New(http.StatusUnauthorized, "unauthorized",
		"missing or unknown bearer token")
	errForbidden = httperr.New(http.StatusForbidden, "forbidden",
		"this needs an admin token")
	errSiteTokenForbidden = httperr.New(http.StatusForbidden, "site_token_forbidden",
		"a site token acts on its own site only (deployments, domains, logs, usage); this needs a tenant or admin token")
	errTenantDisabled = httperr.New(http.StatusForbidden, "tenant_disabled",
		"the tenant is disabled; it may read but not change anything")
	errRouteNotFound = httperr.New(http.StatusNotFound, "not_found",
		"no such endpoint")
	errMethodNotAllowed = httperr.New(http.StatusMethodNotAllowed, "method_not_allowed",
		"method not allowed on this endpoint")
	errLengthRequired = httperr.New(http.StatusLengthRequired, "length_required",
		"a blob upload needs a Content-Length header")
	errLogsDisabled = httperr.New(http.StatusServiceUnavailable, "logs_unavailable",
		"this server has no live log stream")
)

// toHTTP maps an error of the package, the store, the blob backend or
// siterules to the response the client sees. It is the one place errors
// become statuses and codes.
func toHTTP(err error) error {
	var (
		he  *httperr.Error
		mbe *http.MaxBytesError
		me  *assets.ManifestError
		pe  *siterules.ParseError
		mis *MissingBlobsError
		hm  *HashMismatchError
		sm  *SizeMismatchError
		fe  *FieldError
		le  *lookupError
		wi  *WorkerInvalidError
		wtl *WorkerTooLargeError
		qe  *QuotaError
		kve *KVValueTooLargeError
	)
	switch {
	case errors.As(err, &he):
		return err
	case errors.As(err, &mbe):
		return &httperr.Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Message: fmt.Sprintf("request body is larger than the limit of %d bytes", mbe.Limit),
			Details: map[string]any{"limit": mbe.Limit}, Err: err}
	case errors.As(err, &me):
		status := http.StatusBadRequest
		if me.Code == assets.CodeFileTooLarge || me.Code == assets.CodeTooManyFiles {
			status = http.StatusRequestEntityTooLarge
		}
		d := map[string]any{}
		if me.Path != "" {
			d["path"] = me.Path
		}
		if me.Limit != 0 {
			d["limit"] = me.Limit
		}
		return &httperr.Error{Status: status, Code: me.Code, Message: me.Msg, Details: d, Err: err}
	case errors.As(err, &pe):
		return &httperr.Error{Status: http.StatusBadRequest, Code: "rules_invalid", Message: pe.Error(),
			Details: map[string]any{"file": pe.File, "line": pe.Line}, Err: err}
	case errors.As(err, &mis):
		return &httperr.Error{Status: http.StatusBadRequest, Code: "missing_blobs",
			Message: fmt.Sprintf("%d blobs of the manifest are not uploaded yet", len(mis.Hashes)),
			Details: map[string]any{"missing": mis.Hashes}, Err: err}
	case errors.As(err, &hm):
		return &httperr.Error{Status: http.StatusBadRequest, Code: "hash_mismatch",
			Message: fmt.Sprintf("the uploaded content hashes to %s, not %s", hm.Computed, hm.Hash),
			Details: map[string]any{"hash": hm.Hash, "computed": hm.Computed}, Err: err}
	case errors.As(err, &sm):
		return &httperr.Error{Status: http.StatusBadRequest, Code: "size_mismatch",
			Message: fmt.Sprintf("blob %s must be %d bytes (the manifest's size)", sm.Hash, sm.Want),
			Details: map[string]any{"hash": sm.Hash, "size": sm.Want}, Err: err}
	case errors.Is(err, ErrWorkersDisabled):
		return &httperr.Error{Status: http.StatusBadRequest, Code: "workers_disabled",
			Message: "this server runs without workers; deploy without one", Err: err}
	case errors.As(err, &wi):
		return &httperr.Error{Status: http.StatusBadRequest, Code: "worker_invalid",
			Message: wi.Err.Error(), Details: map[string]any{"hash": wi.Hash}, Err: err}
	case errors.As(err, &qe):
		return qe.httpError()
	case errors.As(err, &kve):
		return kve.httpError()
	case errors.As(err, &wtl):
		return &httperr.Error{Status: http.StatusRequestEntityTooLarge, Code: "worker_too_large",
			Message: fmt.Sprintf("the worker is %d bytes, larger than the limit of %d bytes", wtl.Size, wtl.Limit),
			Details: map[string]any{"limit": wtl.Limit}, Err: err}
	case errors.As(err, &fe):
		return &httperr.Error{Status: http.StatusBadRequest, Code: "invalid", Message: fe.text(),
			Details: map[string]any{"field": fe.Field}, Err: err}
	case errors.As(err, &le) && errors.Is(err, tenants.ErrNotFound):
		return &httperr.Error{Status: http.StatusNotFound, Code: "not_found",
			Message: fmt.Sprintf("%s %q not found", le.Kind, le.Ref), Err: err}
	case errors.As(err, &le) && errors.Is(err, tenants.ErrConflict):
		return &httperr.Error{Status: http.StatusConflict, Code: "conflict",
			Message: fmt.Sprintf("%s %q already exists", le.Kind, le.Ref), Err: err}
	case errors.Is(err, tenants.ErrNotFound):
		return &httperr.Error{Status: http.StatusNotFound, Code: "not_found", Message: "not found", Err: err}
	case errors.Is(err, tenants.ErrConflict):
		return &httperr.Error{Status: http.StatusConflict, Code: "conflict", Message: "already exists", Err: err}
	case errors.Is(err, tenants.ErrInvalid):
		return &httperr.Error{Status: http.StatusBadRequest, Code: "invalid", Message: "invalid request", Err: err}
	case errors.Is(err, assets.ErrUnavailable):
		return &httperr.Error{Status: http.StatusServiceUnavailable, Code: "storage_unavailable",
			Message: "blob storage is unavailable; retry later", Err: err}
	}
	return err // a 500; httperr.Write logs it and hides its text
}
