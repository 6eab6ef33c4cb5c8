package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/pierhq/pier/internal/httperr"
)

// handlerFunc is an HTTP handler that returns its error instead of writing
// it; handle turns it into an http.HandlerFunc.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (a *API) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	}
}

// writeError is the handler edge: it maps err (toHTTP), logs server-side
// failures with the request id, and writes the answer. Internal causes are
// logged, never shown.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httperr.Error
	if !errors.As(toHTTP(err), &he) {
		he = &httperr.Error{Status: http.StatusInternalServerError, Code: "internal",
			Message: "internal server error", Err: err}
	}
	if he.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pier"`)
	}
	if he.Status >= 500 {
		a.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("request_id", requestID(r)), slog.String("code", he.Code), slog.String("err", err.Error()))
	}
	httperr.Write(w, nil, he)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) // a write error means the client left
}

// maxMetadataBody bounds the JSON bodies of tenant, site and token
// requests: a few names, tags and limits. Only manifests and deployment
// configs may be large (Config.MaxRequestBody).
const maxMetadataBody = 64 << 10

// decodeJSON decodes a JSON request body of at most max bytes into v,
// rejecting unknown fields and trailing data.
func decodeJSON(w http.ResponseWriter, r *http.Request, max int64, v any) error {
	body := http.MaxBytesReader(w, r.Body, max)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return jsonError(err)
		}
		return &FieldError{Field: "body", Msg: "unexpected data after the JSON object"}
	}
	return nil
}

// lostUTF8 reports whether v, a string decoded from the JSON text raw,
// may not be what was sent: encoding/json turns an invalid byte or an
// escaped UTF-16 surrogate that is not half of a pair (\ud800) into
// U+FFFD, so a U+FFFD in v is suspect when raw holds such an escape.
func lostUTF8(raw []byte, v string) bool {
	if !utf8.Valid(raw) {
		return true
	}
	return strings.ContainsRune(v, utf8.RuneError) && loneSurrogateEscape(raw)
}

// loneSurrogateEscape reports whether the JSON text raw has a \u escape
// of a UTF-16 surrogate that is not half of a pair.
func loneSurrogateEscape(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++ // the escaped character: \\ and \" are skipped whole
		if i >= len(raw) || raw[i] != 'u' {
			continue
		}
		r, ok := hex4(raw, i+1)
		if !ok {
			continue
		}
		i += 4
		switch {
		case r >= 0xdc00 && r <= 0xdfff:
			return true // a low half with no high half before it
		case r >= 0xd800 && r <= 0xdbff:
			if i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if lo, ok := hex4(raw, i+3); ok && lo >= 0xdc00 && lo <= 0xdfff {
					i += 6
					continue
				}
			}
			return true // a high half not followed by a low one
		}
	}
	return false
}

// hex4 reads the 4 hex digits at raw[i:].
func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// jsonError turns a decoding error into a FieldError (or keeps a
// *http.MaxBytesError, which becomes 413).
func jsonError(err error) error {
	var (
		mbe *http.MaxBytesError
		ute *json.UnmarshalTypeError
		se  *json.SyntaxError
	)
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.As(err, &ute):
		field := jsonPath(ute.Field)
		if field == "" {
			field = "body"
		}
		return &FieldError{Field: field, Msg: fmt.Sprintf("must be %s, not %s", jsonKind(ute.Type.Kind().String()), ute.Value)}
	case errors.As(err, &se):
		return &FieldError{Field: "body", Msg: fmt.Sprintf("malformed JSON at byte %d", se.Offset)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &FieldError{Field: "body", Msg: "empty or truncated JSON body"}
	}
	// json reports unknown fields as `json: unknown field "x"`.
	if m := unknownFieldRE.FindStringSubmatch(err.Error()); m != nil {
		return &FieldError{Field: m[1], Msg: "unknown field"}
	}
	return &FieldError{Field: "body", Msg: "invalid JSON"}
}

var unknownFieldRE = regexp.MustCompile(`^json: unknown field "([^"]*)"$`)

// jsonPath drops from a decoding error's field path the Go names of
// embedded structs ("limits.Quotas.sites" → "limits.sites"): the API's
// JSON names never start with an upper-case letter.
func jsonPath(field string) string {
	parts := strings.Split(field, ".")
	kept := parts[:0]
	for _, p := range parts {
		if p == "" || p[0] < 'A' || p[0] > 'Z' {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, ".")
}

func jsonKind(k string) string {
	switch k {
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int64", "int32", "uint", "uint64":
		return "an integer"
	case "float64":
		return "a number"
	case "bool":
		return "a boolean"
	}
	return "a " + k
}

type ctxKey int

const (
	principalKey ctxKey = iota
	requestInfoKey
)

// requestInfo is what the request log line needs from inner handlers.
type requestInfo struct {
	id      string
	tokenID string // set by authenticate; never the secret
}

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func requestID(r *http.Request) string {
	if ri, ok := r.Context().Value(requestInfoKey).(*requestInfo); ok {
		return ri.id
	}
	return ""
}

// logRequests assigns a request id (the client's X-Request-Id when it is
// sane, else a random one), echoes it, and logs one line per request. It
// never logs headers, so token secrets stay out of logs.
func (a *API) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !requestIDRE.MatchString(id) {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		ri := &requestInfo{id: id}
		next.ServeHTTP(ww, r.WithContext(context.WithValue(r.Context(), requestInfoKey, ri)))
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		attrs := []slog.Attr{
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Int("bytes", ww.BytesWritten()),
			slog.Duration("duration", time.Since(start)),
		}
		if ri.tokenID != "" {
			attrs = append(attrs, slog.String("token_id", ri.tokenID))
		}
		a.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}

// recoverPanics turns a handler panic into a logged 500 (http.ErrAbortHandler
// is re-panicked, as net/http expects).
func (a *API) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.writeError(w, r, fmt.Errorf("admin: panic serving %s %s: %v", r.Method, r.URL.Path, v))
		}()
		next.ServeHTTP(w, r)
	})
}
