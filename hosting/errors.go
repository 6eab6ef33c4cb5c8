package hosting

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/pierhq/pier/hosting/worker"
)

// errorFormat is the format of an error body, negotiated from Accept.
type errorFormat uint8

const (
	formatText errorFormat = iota // text/plain: "message (code)\n"
	formatHTML                    // a small self-contained page
	formatJSON                    // {"error":{"code","message"}}
	numFormats
)

// visitorError is an error the edge answers a visitor with: a status, a
// stable snake_case code and a message that names nothing internal (no
// tenant, site, path or cause). The bodies of the fixed errors below are
// rendered once, so that writing them does not allocate.
type visitorError struct {
	status  int
	code    string
	message string
	bodies  [numFormats]string   // nil for an error rendered per request
	lengths [numFormats][]string // Content-Length values, shared: never edited in place
}

// The fixed errors of the edge. Codes are stable: clients may match them.
var (
	errMalformedHost      = newVisitorError(http.StatusBadRequest, "malformed_host", "bad request: malformed host")
	errMalformedPath      = newVisitorError(http.StatusBadRequest, "malformed_path", "bad request: malformed path")
	errHostNotConfigured  = newVisitorError(http.StatusNotFound, "hostname_not_configured", "hostname not configured")
	errNotFound           = newVisitorError(http.StatusNotFound, "not_found", "not found")
	errMethodNotAllowed   = newVisitorError(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed")
	errServiceUnavailable = newVisitorError(http.StatusServiceUnavailable, "service_unavailable", "service unavailable")
	errBadGateway         = newVisitorError(http.StatusBadGateway, "bad_gateway", "bad gateway")
	errWorkersOff         = newVisitorError(http.StatusServiceUnavailable, "workers_disabled", "this site has a worker and workers are disabled on this server")
	errWorkerUnavailable  = newVisitorError(http.StatusServiceUnavailable, "worker_unavailable", "the site's worker cannot be started")
)

// newVisitorError returns a fixed error with its bodies rendered.
func newVisitorError(status int, code, message string) *visitorError {
	ve := &visitorError{status: status, code: code, message: message}
	for f := range numFormats {
		ve.bodies[f] = renderError(f, status, code, message)
		ve.lengths[f] = []string{strconv.Itoa(len(ve.bodies[f]))}
	}
	return ve
}

// workerFailure is the error of a worker invocation that wrote nothing
// (res.Code is set), rendered per request.
func workerFailure(res *worker.Result) *visitorError {
	return &visitorError{status: res.Status, code: res.Code, message: res.Message}
}

// body returns the body of ve in format f and its Content-Length value.
func (ve *visitorError) body(f errorFormat) (string, []string) {
	if ve.lengths[f] != nil {
		return ve.bodies[f], ve.lengths[f]
	}
	b := renderError(f, ve.status, ve.code, ve.message)
	return b, []string{strconv.Itoa(len(b))}
}

// Content types of the error formats (shared: never edited in place).
var errorContentTypes = [numFormats][]string{
	formatText: {"text/plain; charset=utf-8"},
	formatHTML: {"text/html; charset=utf-8"},
	formatJSON: {"application/json; charset=utf-8"},
}

// errorPageCSP keeps the error page self-contained: no script, no
// resource from anywhere, only its own inline style.
var errorPageCSP = []string{"default-src 'none'; style-src 'unsafe-inline'"}

// varyAccept is the Vary of an error response (shared: never edited in
// place).
var varyAccept = []string{"Accept"}

// renderError renders an error body in format f.
func renderError(f errorFormat, status int, code, message string) string {
	switch f {
	case formatJSON:
		type inner struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		b, _ := json.Marshal(struct {
			Error inner `json:"error"`
		}{inner{code, message}})
		return string(b) + "\n"
	case formatHTML:
		title := html.EscapeString(strconv.Itoa(status) + " " + http.StatusText(status))
		return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>` + title + `</title>
<style>body{margin:4em auto;max-width:36em;padding:0 1em;font:1em/1.5 system-ui,sans-serif;color:#222;background:#fff}code{color:#666}</style>
</head>
<body>
<h1>` + title + `</h1>
<p>` + html.EscapeString(message) + `</p>
<p><code>` + html.EscapeString(code) + `</code></p>
</body>
</html>
`
	default:
		return message + " (" + code + ")\n"
	}
}

// writeError writes every visitor-facing error of the edge: ve in the
// format the request's Accept prefers (see preferredFormat), with the
// stable code in every format. Headers the caller set are kept (an
// X-Robots-Tag, the _headers of a site's 404), except the Content-Type,
// which is the body's; Cache-Control defaults to no-store. A HEAD request
// gets the headers only. It returns the body bytes written.
func (e *Edge) writeError(w http.ResponseWriter, r *http.Request, ve *visitorError) int {
	f := preferredFormat(r.Header["Accept"])
	body, length := ve.body(f)
	h := w.Header()
	h["Content-Type"] = errorContentTypes[f]
	h["Content-Length"] = length
	h["X-Content-Type-Options"] = e.vals.nosniff
	if _, ok := h["Cache-Control"]; !ok {
		h["Cache-Control"] = e.vals.noStore
	}
	if v, ok := h["Vary"]; !ok {
		h["Vary"] = varyAccept
	} else if !varies(v, "Accept") {
		h["Vary"] = append(v[:len(v):len(v)], "Accept")
	}
	if f == formatHTML {
		if _, ok := h["Content-Security-Policy"]; !ok {
			h["Content-Security-Policy"] = errorPageCSP
		}
	}
	w.WriteHeader(ve.status)
	if r.Method == http.MethodHead {
		return 0
	}
	n, _ := io.WriteString(w, body)
	return n
}

// varies reports whether the Vary values v name field.
func varies(v []string, field string) bool {
	for _, s := range v {
		for s != "" {
			var name string
			name, s, _ = strings.Cut(s, ",")
			name = strings.TrimSpace(name)
			if name == "*" || strings.EqualFold(name, field) {
				return true
			}
		}
	}
	return false
}

// preferredFormat picks an error body format from the Accept header
// values: the one of application/json, text/html and text/plain that
// Accept names with the highest q-value above 0 (ties go to JSON, then
// HTML); text when it names none of them. Wildcards (*/*, text/*) name no
// format: a client that accepts anything gets text.
func preferredFormat(accept []string) errorFormat {
	qJSON, qHTML, qText := -1, -1, -1
	for _, list := range accept {
		for list != "" {
			var rng string
			rng, list, _ = strings.Cut(list, ",")
			mt, params, _ := strings.Cut(rng, ";")
			mt = strings.TrimSpace(mt)
			var q *int
			switch {
			case strings.EqualFold(mt, "application/json"):
				q = &qJSON
			case strings.EqualFold(mt, "text/html"):
				q = &qHTML
			case strings.EqualFold(mt, "text/plain"):
				q = &qText
			default:
				continue
			}
			if v, ok := parseQ(params); ok && v > *q {
				*q = v
			}
		}
	}
	switch {
	case qJSON > 0 && qJSON >= qHTML && qJSON >= qText:
		return formatJSON
	case qHTML > 0 && qHTML >= qText:
		return formatHTML
	}
	return formatText
}
