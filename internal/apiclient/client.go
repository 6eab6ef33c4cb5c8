// Package apiclient is a small typed Go client of Pier's admin API
// (docs/api.md): tenants, sites, tokens, upload sessions, blobs,
// deployments and the live log stream. Every method takes a context and returns an *Error when the
// server answers with an error status.
//
// The client never retries on its own: callers that want retries (the
// `pier deploy` command) decide which calls are safe to repeat and use
// Retryable to classify failures.
//
// apiclient imports only tenants, assets and internal/logstream (for shared
// value types) and may be imported by cmd/ and by tests.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Client talks to one Pier admin API. It is safe for concurrent use.
type Client struct {
	base  string // scheme://host[:port][/prefix] without a trailing slash
	token string
	http  *http.Client
	// UserAgent is sent with every request when non-empty.
	UserAgent string
}

// New returns a client of the admin API at baseURL (e.g.
// "http://127.0.0.1:8081"; the "/api/v1" prefix is added by the client)
// authenticating with token. A nil httpClient means http.DefaultClient.
func New(baseURL, token string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{
		base:  strings.TrimRight(baseURL, "/"),
		token: token,
		http:  httpClient,
	}
}

// BaseURL returns the URL the client was created with, without a trailing
// slash: for messages that say which server failed.
func (c *Client) BaseURL() string { return c.base }

// Error is an error answer of the API, parsed from
// {"error":{"code","message",…}}. Fields holds the extra members (field,
// path, line, file, limit, hash, missing…).
type Error struct {
	Status  int            // HTTP status
	Code    string         // stable snake_case code; empty if the body was not an API error
	Message string         // the server's message
	Fields  map[string]any // extra members of the error object
	// RetryAfter is the server's Retry-After hint, zero when absent.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	msg := e.shownMessage()
	if e.Code == "" {
		return msg
	}
	return msg + " (" + e.Code + ")"
}

// shownMessage is Message without a field prefix that the rest repeats:
// the server answers an invalid field as "<field>: <why>", and when the
// why already starts with the field's name ("hostname: hostname \"1.2.3.4\"
// is an IP address…") the name is shown once.
func (e *Error) shownMessage() string {
	f, _ := e.Fields["field"].(string)
	if f == "" {
		return e.Message
	}
	if rest, ok := strings.CutPrefix(e.Message, f+": "); ok && strings.HasPrefix(rest, f+" ") {
		return rest
	}
	return e.Message
}

// IsStatus reports whether err is (or wraps) an *Error with the given status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// Retryable reports whether a failed request may succeed if repeated
// unchanged: a 5xx or 429 answer, or a transport error (connection refused
// or reset, timeout…). 4xx answers and the caller's own cancellation are
// never retryable.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status >= 500 || e.Status == http.StatusTooManyRequests
	}
	// Transport failures come wrapped in a *url.Error, which is itself a
	// net.Error: look at what it wraps. A bad URL or a body shorter than
	// its Content-Length is not worth repeating.
	var ue *url.Error
	if !errors.As(err, &ue) {
		return false
	}
	var oe *net.OpError
	var ne net.Error
	return errors.As(ue.Err, &oe) ||
		errors.As(ue.Err, &ne) && ne.Timeout() ||
		errors.Is(ue.Err, io.EOF) || errors.Is(ue.Err, io.ErrUnexpectedEOF) ||
		errors.Is(ue.Err, syscall.ECONNRESET) || errors.Is(ue.Err, syscall.EPIPE)
}

// RetryAfter returns the server's Retry-After hint carried by err, or zero.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// request is one API call.
type request struct {
	method string
	path   string // below /api/v1, already escaped
	query  url.Values
	body   any       // JSON-encoded when non-nil
	raw    io.Reader // sent as is when non-nil (with size as Content-Length)
	size   int64
	out    any // JSON-decoded from a 2xx answer when non-nil
	// read, when non-nil, reads a 2xx answer instead of out.
	read func(*http.Response) error
}

func (c *Client) do(ctx context.Context, r request) error {
	u := c.base + "/api/v1" + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	var size int64 = -1
	switch {
	case r.raw != nil:
		body, size = r.raw, r.size
	case r.body != nil:
		b, err := json.Marshal(r.body)
		if err != nil {
			return fmt.Errorf("apiclient: encoding %s %s: %w", r.method, r.path, err)
		}
		body, size = bytes.NewReader(b), int64(len(b))
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return fmt.Errorf("apiclient: %s %s: %w", r.method, r.path, err)
	}
	if size >= 0 && body != nil {
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
	}
	switch {
	case r.raw != nil:
		req.Header.Set("Content-Type", "application/octet-stream")
	case r.body != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err // *url.Error naming the method and URL
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return parseError(resp)
	}
	if r.read != nil {
		return r.read(resp)
	}
	if r.out == nil || resp.StatusCode == http.StatusNoContent {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(r.out); err != nil {
		return fmt.Errorf("apiclient: decoding answer of %s %s: %w", r.method, r.path, err)
	}
	return nil
}

// parseError turns a non-2xx answer into an *Error.
func parseError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{Status: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"))}
	var env struct {
		Error map[string]any `json:"error"`
	}
	if json.Unmarshal(b, &env) == nil && env.Error != nil {
		e.Code, _ = env.Error["code"].(string)
		e.Message, _ = env.Error["message"].(string)
		for k, v := range env.Error {
			if k == "code" || k == "message" {
				continue
			}
			if e.Fields == nil {
				e.Fields = make(map[string]any)
			}
			e.Fields[k] = v
		}
	}
	if e.Message == "" {
		// Not an API error body (a proxy, a load balancer…): say what came back.
		e.Message = "server answered " + resp.Status
		if s := strings.TrimSpace(string(b)); s != "" && len(s) <= 200 && !strings.ContainsAny(s, "<\x00") {
			e.Message += ": " + s
		}
	}
	return e
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// esc escapes one path segment (a name, id or hash).
func esc(s string) string { return url.PathEscape(s) }
