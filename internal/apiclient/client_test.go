package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

// recorded is one request as the server saw it.
type recorded struct {
	method, path, rawQuery string
	header                 http.Header
	contentLength          int64
	body                   string
}

// server answers every request with status and body and records it.
func server(t *testing.T, status int, body string, header http.Header) (*Client, *recorded) {
	t.Helper()
	rec := &recorded{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*rec = recorded{method: r.Method, path: r.URL.EscapedPath(), rawQuery: r.URL.RawQuery, header: r.Header.Clone(),
			contentLength: r.ContentLength, body: string(b)}
		for k, v := range header {
			w.Header()[k] = v
		}
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return New(srv.URL+"/", "pier_secret", srv.Client()), rec
}

func TestRequests(t *testing.T) {
	ctx := context.Background()
	plan := "pro"
	tests := []struct {
		name       string
		call       func(c *Client) (any, error)
		status     int
		answer     string
		wantMethod string
		wantPath   string
		wantQuery  string
		wantBody   string // JSON compared semantically; "" means no body
		want       any
	}{
		{
			name: "create tenant",
			call: func(c *Client) (any, error) {
				return c.CreateTenant(ctx, CreateTenant{Name: "acme", Tags: []string{"env:prod"}})
			},
			status:     201,
			answer:     `{"id":"t_1","name":"acme","plan":"free","limits":{},"effective_limits":{"cpuMs":10,"subRequests":5,"memoryMB":64},"tags":["env:prod"],"disabled":false,"created_at":"2026-01-02T03:04:05Z"}`,
			wantMethod: "POST", wantPath: "/api/v1/tenants",
			wantBody: `{"name":"acme","tags":["env:prod"]}`,
			want: &Tenant{ID: "t_1", Name: "acme", Plan: "free", Tags: []string{"env:prod"},
				EffectiveLimits: tenantsLimits(10, 5, 64), CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		},
		{
			name:       "list tenants by tag",
			call:       func(c *Client) (any, error) { return c.ListTenants(ctx, "env:prod") },
			status:     200,
			answer:     `{"tenants":[{"id":"t_1","name":"acme"}]}`,
			wantMethod: "GET", wantPath: "/api/v1/tenants", wantQuery: "tag=env%3Aprod",
			want: []Tenant{{ID: "t_1", Name: "acme"}},
		},
		{
			name:       "set plan",
			call:       func(c *Client) (any, error) { return c.UpdateTenant(ctx, "acme", UpdateTenant{Plan: &plan}) },
			status:     200,
			answer:     `{"id":"t_1","name":"acme","plan":"pro"}`,
			wantMethod: "PATCH", wantPath: "/api/v1/tenants/acme", wantBody: `{"plan":"pro"}`,
			want: &Tenant{ID: "t_1", Name: "acme", Plan: "pro"},
		},
		{
			name:       "create domain",
			call:       func(c *Client) (any, error) { return c.CreateDomain(ctx, "blog", "www.example.com") },
			status:     201,
			answer:     `{"hostname":"www.example.com","site":"blog","status":"pending","token":"pier-x","cert_status":"none","records":[{"type":"TXT","name":"_pier-challenge.www.example.com","value":"pier-x"}],"http_proof":"http://www.example.com/.well-known/pier-challenge/pier-x"}`,
			wantMethod: "POST", wantPath: "/api/v1/sites/blog/domains", wantBody: `{"hostname":"www.example.com"}`,
			want: &Domain{Hostname: "www.example.com", Site: "blog", Status: "pending", Token: "pier-x", CertStatus: "none",
				Records:   []DNSRecord{{Type: "TXT", Name: "_pier-challenge.www.example.com", Value: "pier-x"}},
				HTTPProof: "http://www.example.com/.well-known/pier-challenge/pier-x"},
		},
		{
			name:       "list domains",
			call:       func(c *Client) (any, error) { return c.ListDomains(ctx, "blog") },
			status:     200,
			answer:     `{"domains":[{"hostname":"a.example.com","status":"active"}]}`,
			wantMethod: "GET", wantPath: "/api/v1/sites/blog/domains",
			want: []Domain{{Hostname: "a.example.com", Status: "active"}},
		},
		{
			name:       "verify domain",
			call:       func(c *Client) (any, error) { return c.VerifyDomain(ctx, "blog", "a.example.com") },
			status:     200,
			answer:     `{"hostname":"a.example.com","status":"active"}`,
			wantMethod: "POST", wantPath: "/api/v1/sites/blog/domains/a.example.com/verify",
			want: &Domain{Hostname: "a.example.com", Status: "active"},
		},
		{
			name:       "get domain",
			call:       func(c *Client) (any, error) { return c.GetDomain(ctx, "blog", "a.example.com") },
			status:     200,
			answer:     `{"hostname":"a.example.com","status":"pending"}`,
			wantMethod: "GET", wantPath: "/api/v1/sites/blog/domains/a.example.com",
			want: &Domain{Hostname: "a.example.com", Status: "pending"},
		},
		{
			name:       "delete domain",
			call:       func(c *Client) (any, error) { return nil, c.DeleteDomain(ctx, "blog", "a.example.com") },
			status:     204,
			wantMethod: "DELETE", wantPath: "/api/v1/sites/blog/domains/a.example.com",
		},
		{
			name:       "delete tenant",
			call:       func(c *Client) (any, error) { return nil, c.DeleteTenant(ctx, "acme") },
			status:     204,
			wantMethod: "DELETE", wantPath: "/api/v1/tenants/acme",
		},
		{
			name:       "tenant token",
			call:       func(c *Client) (any, error) { return c.CreateTenantToken(ctx, "acme", "ci") },
			status:     201,
			answer:     `{"id":"k_1","tenant_id":"t_1","name":"ci","token":"pier_abc"}`,
			wantMethod: "POST", wantPath: "/api/v1/tenants/acme/tokens", wantBody: `{"name":"ci"}`,
			want: &Token{ID: "k_1", TenantID: "t_1", Name: "ci", Secret: "pier_abc"},
		},
		{
			name:       "site token",
			call:       func(c *Client) (any, error) { return c.CreateSiteToken(ctx, "blog", "ci") },
			status:     201,
			answer:     `{"id":"k_3","tenant_id":"t_1","site_id":"s_1","site":"blog","name":"ci","token":"pier_ghi"}`,
			wantMethod: "POST", wantPath: "/api/v1/sites/blog/tokens", wantBody: `{"name":"ci"}`,
			want: &Token{ID: "k_3", TenantID: "t_1", SiteID: "s_1", Site: "blog", Name: "ci", Secret: "pier_ghi"},
		},
		{
			name:       "admin token",
			call:       func(c *Client) (any, error) { return c.CreateAdminToken(ctx, "ops") },
			status:     201,
			answer:     `{"id":"k_2","name":"ops","token":"pier_def"}`,
			wantMethod: "POST", wantPath: "/api/v1/tokens", wantBody: `{"name":"ops"}`,
			want: &Token{ID: "k_2", Name: "ops", Secret: "pier_def"},
		},
		{
			name:       "create site",
			call:       func(c *Client) (any, error) { return c.CreateSite(ctx, "blog", "acme") },
			status:     201,
			answer:     `{"id":"s_1","tenant_id":"t_1","name":"blog","url":"http://blog.localhost:8080/","hash_salt":"00ff"}`,
			wantMethod: "POST", wantPath: "/api/v1/sites", wantBody: `{"name":"blog","tenant":"acme"}`,
			want: &Site{ID: "s_1", TenantID: "t_1", Name: "blog", URL: "http://blog.localhost:8080/", HashSalt: "00ff"},
		},
		{
			name:       "site names are escaped",
			call:       func(c *Client) (any, error) { return nil, c.DeleteSite(ctx, "a/b?c") },
			status:     204,
			wantMethod: "DELETE", wantPath: "/api/v1/sites/a%2Fb%3Fc",
		},
		{
			name: "create upload with a worker",
			call: func(c *Client) (any, error) {
				return c.CreateWorkerUpload(ctx, "blog", map[string]ManifestEntry{"/index.html": {Hash: "0123456789abcdef", Size: 5}},
					&ManifestEntry{Hash: "fedcba9876543210", Size: 1024})
			},
			status:     201,
			answer:     `{"id":"u_1","missing":["fedcba9876543210"],"expires_at":"2026-01-02T04:04:05Z"}`,
			wantMethod: "POST", wantPath: "/api/v1/sites/blog/uploads",
			wantBody: `{"manifest":{"/index.html":{"hash":"0123456789abcdef","size":5}},"worker":{"hash":"fedcba9876543210","size":1024}}`,
			want:     &UploadSession{ID: "u_1", Missing: []string{"fedcba9876543210"}, ExpiresAt: time.Date(2026, 1, 2, 4, 4, 5, 0, time.UTC)},
		},
		{
			name: "create upload",
			call: func(c *Client) (any, error) {
				return c.CreateUpload(ctx, "blog", map[string]ManifestEntry{"/index.html": {Hash: "0123456789abcdef", Size: 5}})
			},
			status:     201,
			answer:     `{"id":"u_1","missing":["0123456789abcdef"],"expires_at":"2026-01-02T04:04:05Z"}`,
			wantMethod: "POST", wantPath: "/api/v1/sites/blog/uploads",
			wantBody: `{"manifest":{"/index.html":{"hash":"0123456789abcdef","size":5}}}`,
			want:     &UploadSession{ID: "u_1", Missing: []string{"0123456789abcdef"}, ExpiresAt: time.Date(2026, 1, 2, 4, 4, 5, 0, time.UTC)},
		},
		{
			name: "create deployment",
			call: func(c *Client) (any, error) {
				no := false
				return c.CreateDeployment(ctx, "blog", CreateDeployment{Upload: "u_1", Config: DeploymentConfig{NotFoundHandling: "404-page"},
					Source: Source{Type: "cli"}, Activate: &no})
			},
			status:     201,
			answer:     `{"id":"d1","site_id":"s_1","files":1,"bytes":5,"active":false,"url":"http://blog.localhost:8080/","preview_url":"http://d1--blog.localhost:8080/","source":{"type":"cli"},"config":{"html_handling":"auto-trailing-slash","not_found_handling":"404-page"}}`,
			wantMethod: "POST", wantPath: "/api/v1/sites/blog/deployments",
			wantBody: `{"upload":"u_1","config":{"not_found_handling":"404-page"},"source":{"type":"cli"},"activate":false}`,
			want: &Deployment{ID: "d1", SiteID: "s_1", Files: 1, Bytes: 5, URL: "http://blog.localhost:8080/", PreviewURL: "http://d1--blog.localhost:8080/",
				Source: Source{Type: "cli"}, Config: DeploymentConfig{HTMLHandling: "auto-trailing-slash", NotFoundHandling: "404-page"}},
		},
		{
			name:       "list deployments",
			call:       func(c *Client) (any, error) { return c.ListDeployments(ctx, "blog") },
			status:     200,
			answer:     `{"deployments":[{"id":"d2","active":true},{"id":"d1"}]}`,
			wantMethod: "GET", wantPath: "/api/v1/sites/blog/deployments",
			want: []Deployment{{ID: "d2", Active: true}, {ID: "d1"}},
		},
		{
			name:       "set production branch",
			call:       func(c *Client) (any, error) { return c.SetProductionBranch(ctx, "blog", "release/1") },
			status:     200,
			answer:     `{"id":"s_1","name":"blog","production_branch":"release/1"}`,
			wantMethod: "PATCH", wantPath: "/api/v1/sites/blog", wantBody: `{"production_branch":"release/1"}`,
			want: &Site{ID: "s_1", Name: "blog", ProductionBranch: "release/1"},
		},
		{
			name:   "site git",
			call:   func(c *Client) (any, error) { return c.SiteGit(ctx, "blog") },
			status: 200,
			answer: `{"remote":"http://pier.test/git/blog.git","production_branch":"main","branches":[` +
				`{"name":"main","commit":"c1","deployment":"d1","url":null,"production":true},` +
				`{"name":"feature/x","commit":"c2","deployment":"d2","alias":"feature-x","url":"http://feature-x--blog.pier.test/","production":false}]}`,
			wantMethod: "GET", wantPath: "/api/v1/sites/blog/git",
			want: &SiteGit{Remote: "http://pier.test/git/blog.git", ProductionBranch: "main", Branches: []GitBranch{
				{Name: "main", Commit: "c1", Deployment: "d1", Production: true},
				{Name: "feature/x", Commit: "c2", Deployment: "d2", Alias: "feature-x", URL: "http://feature-x--blog.pier.test/"},
			}},
		},
		{
			name:       "activate",
			call:       func(c *Client) (any, error) { return c.ActivateDeployment(ctx, "blog", "d1") },
			status:     200,
			answer:     `{"id":"d1","active":true}`,
			wantMethod: "POST", wantPath: "/api/v1/sites/blog/deployments/d1/activate",
			want: &Deployment{ID: "d1", Active: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := server(t, tt.status, tt.answer, nil)
			got, err := tt.call(c)
			if err != nil {
				t.Fatal(err)
			}
			if rec.method != tt.wantMethod || rec.path != tt.wantPath || rec.rawQuery != tt.wantQuery {
				t.Errorf("request = %s %s?%s, want %s %s?%s", rec.method, rec.path, rec.rawQuery, tt.wantMethod, tt.wantPath, tt.wantQuery)
			}
			if auth := rec.header.Get("Authorization"); auth != "Bearer pier_secret" {
				t.Errorf("Authorization = %q", auth)
			}
			if tt.wantBody == "" {
				if rec.body != "" {
					t.Errorf("body = %q, want none", rec.body)
				}
			} else {
				if ct := rec.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
				var gotBody, wantBody any
				if err := json.Unmarshal([]byte(rec.body), &gotBody); err != nil {
					t.Fatalf("body %q: %v", rec.body, err)
				}
				json.Unmarshal([]byte(tt.wantBody), &wantBody)
				if !reflect.DeepEqual(gotBody, wantBody) {
					t.Errorf("body = %s, want %s", rec.body, tt.wantBody)
				}
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("answer = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPutBlob(t *testing.T) {
	tests := []struct {
		name    string
		content string
	}{
		{name: "bytes", content: "hello, world"},
		{name: "empty", content: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := server(t, 204, "", nil)
			// A reader that is not a *bytes.Reader: the length must come
			// from the size argument, not be guessed by net/http.
			r := io.MultiReader(strings.NewReader(tt.content))
			if err := c.PutBlob(context.Background(), "u_1", "0123456789abcdef", r, int64(len(tt.content))); err != nil {
				t.Fatal(err)
			}
			if rec.method != "PUT" || rec.path != "/api/v1/uploads/u_1/blobs/0123456789abcdef" {
				t.Errorf("request = %s %s", rec.method, rec.path)
			}
			if rec.contentLength != int64(len(tt.content)) || rec.body != tt.content {
				t.Errorf("Content-Length %d, body %q; want %d, %q", rec.contentLength, rec.body, len(tt.content), tt.content)
			}
			if len(rec.header["Transfer-Encoding"]) > 0 {
				t.Errorf("Transfer-Encoding = %v, want a plain Content-Length body", rec.header["Transfer-Encoding"])
			}
		})
	}
	t.Run("short reader", func(t *testing.T) {
		c, _ := server(t, 204, "", nil)
		err := c.PutBlob(context.Background(), "u_1", "0123456789abcdef", strings.NewReader("abc"), 10)
		if err == nil {
			t.Fatal("a body shorter than its size was sent without error")
		}
	})
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		header     http.Header
		want       Error
		wantString string
	}{
		{
			name:   "api error with fields",
			status: 400,
			body:   `{"error":{"code":"rules_invalid","message":"_redirects line 3: bad status","file":"_redirects","line":3}}`,
			want: Error{Status: 400, Code: "rules_invalid", Message: "_redirects line 3: bad status",
				Fields: map[string]any{"file": "_redirects", "line": float64(3)}},
			wantString: "_redirects line 3: bad status (rules_invalid)",
		},
		{
			name:   "field named twice",
			status: 400,
			body:   `{"error":{"code":"invalid","message":"hostname: hostname \"127.0.0.1\" is an IP address, not a DNS name","field":"hostname"}}`,
			want: Error{Status: 400, Code: "invalid", Message: `hostname: hostname "127.0.0.1" is an IP address, not a DNS name`,
				Fields: map[string]any{"field": "hostname"}},
			wantString: `hostname "127.0.0.1" is an IP address, not a DNS name (invalid)`,
		},
		{
			name:   "field named once",
			status: 400,
			body:   `{"error":{"code":"invalid","message":"plan: must be free, pro or enterprise","field":"plan"}}`,
			want: Error{Status: 400, Code: "invalid", Message: "plan: must be free, pro or enterprise",
				Fields: map[string]any{"field": "plan"}},
			wantString: "plan: must be free, pro or enterprise (invalid)",
		},
		{
			name:       "retry after",
			status:     429,
			body:       `{"error":{"code":"rate_limited","message":"slow down"}}`,
			header:     http.Header{"Retry-After": {"7"}},
			want:       Error{Status: 429, Code: "rate_limited", Message: "slow down", RetryAfter: 7 * time.Second},
			wantString: "slow down (rate_limited)",
		},
		{
			name:       "not an api error",
			status:     502,
			body:       "<html><body>Bad Gateway</body></html>",
			want:       Error{Status: 502, Message: "server answered 502 Bad Gateway"},
			wantString: "server answered 502 Bad Gateway",
		},
		{
			name:       "short text body",
			status:     503,
			body:       "upstream connect error",
			want:       Error{Status: 503, Message: "server answered 503 Service Unavailable: upstream connect error"},
			wantString: "server answered 503 Service Unavailable: upstream connect error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := server(t, tt.status, tt.body, tt.header)
			_, err := c.GetSite(context.Background(), "blog")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %#v, want *Error", err)
			}
			if !reflect.DeepEqual(*e, tt.want) {
				t.Errorf("error = %#v, want %#v", *e, tt.want)
			}
			if err.Error() != tt.wantString {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.wantString)
			}
			if !IsStatus(err, tt.status) {
				t.Errorf("IsStatus(%d) = false", tt.status)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "nil", err: nil, want: false},
		{name: "500", err: &Error{Status: 500}, want: true},
		{name: "503 wrapped", err: fmt.Errorf("uploading: %w", &Error{Status: 503}), want: true},
		{name: "429", err: &Error{Status: 429}, want: true},
		{name: "400", err: &Error{Status: 400, Code: "invalid"}, want: false},
		{name: "404", err: &Error{Status: 404}, want: false},
		{name: "409", err: &Error{Status: 409}, want: false},
		{name: "connection closed", err: &url.Error{Op: "Put", URL: "http://x", Err: io.EOF}, want: true},
		{name: "connection cut", err: &url.Error{Op: "Put", URL: "http://x", Err: io.ErrUnexpectedEOF}, want: true},
		{name: "connection reset", err: &url.Error{Op: "Put", URL: "http://x", Err: &net.OpError{Op: "read", Err: syscall.ECONNRESET}}, want: true},
		{name: "bad scheme", err: &url.Error{Op: "Get", URL: "htp://x", Err: errors.New(`unsupported protocol scheme "htp"`)}, want: false},
		{name: "canceled", err: &url.Error{Op: "Put", URL: "http://x", Err: context.Canceled}, want: false},
		{name: "deadline", err: context.DeadlineExceeded, want: false},
		{name: "local error", err: errors.New("opening file: permission denied"), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Retryable(tt.err); got != tt.want {
				t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestConnectionRefusedIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	_, err := New(base, "", nil).GetSite(context.Background(), "blog")
	if err == nil || !Retryable(err) {
		t.Errorf("err = %v, Retryable = %v; want a retryable error", err, Retryable(err))
	}
}

func TestSiteSalt(t *testing.T) {
	tests := []struct {
		name    string
		salt    string
		want    []byte
		wantErr bool
	}{
		{name: "hex", salt: "00ff10", want: []byte{0, 0xff, 0x10}},
		{name: "missing", salt: "", wantErr: true},
		{name: "not hex", salt: "zz", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Site{Name: "blog", HashSalt: tt.salt}.Salt()
			if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Salt() = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func tenantsLimits(cpu, sub, mem int) tenants.Limits {
	return tenants.Limits{CPUMs: cpu, SubRequests: sub, MemoryMB: mem}
}
