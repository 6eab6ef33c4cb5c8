package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/hosting/worker"
)

// fakeResolver answers from a fixed table.
type fakeResolver map[string][]string

func (r fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	ss, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

// redirectDialer connects every checked address to one test server and
// records the addresses it was asked for.
type redirectDialer struct {
	target string
	mu     sync.Mutex
	asked  []string
}

func (d *redirectDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.asked = append(d.asked, addr)
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", d.target)
}

func (d *redirectDialer) calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.asked...)
}

var testResolver = fakeResolver{
	"api.example.com":   {"93.184.216.34"},
	"cdn.example.com":   {"93.184.216.35"},
	"example.com":       {"93.184.216.36"},
	"bad.example.com":   {"93.184.216.37"},
	"other.test":        {"198.51.100.20"},
	"rebind.test":       {"127.0.0.1"},
	"rebind6.test":      {"::1"},
	"mixed.test":        {"93.184.216.34", "10.0.0.1"},
	"metadata.test":     {"169.254.169.254"},
	"mapped.test":       {"::ffff:192.168.1.1"},
	"s3.platform.test":  {"198.51.100.9"},
	"api2.platform.net": {"198.51.100.9"},
	"db.public.test":    {"203.0.113.7"},
}

func newPolicy(t *testing.T, srv *httptest.Server, p Policy) (http.RoundTripper, *redirectDialer) {
	t.Helper()
	d := &redirectDialer{target: srv.Listener.Addr().String()}
	p.Resolver = testResolver
	p.Dial = d.dial
	rt := p.Transport("free")
	t.Cleanup(func() { rt.(*transport).next.CloseIdleConnections() })
	return rt, d
}

func get(rt http.RoundTripper, url string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return rt.RoundTrip(req)
}

func okServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "http://api.example.com/", http.StatusFound)
		default:
			fmt.Fprintf(w, "hello %s", r.Host)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestDenied(t *testing.T) {
	srv := okServer(t)
	platform := []string{"s3.platform.test:9000", "api2.platform.net", "203.0.113.7", "192.0.2.0/24"}
	plans := map[string]HostRules{
		"free": {Allow: []string{"*.example.com", "*.test"}, Deny: []string{"bad.example.com"}},
	}
	tests := []struct {
		name, url string
		plan      bool // apply the plan's host rules
	}{
		{"loopback v4", "http://127.0.0.1/", false},
		{"loopback v6", "http://[::1]/", false},
		{"cloud metadata", "http://169.254.169.254/latest/meta-data/", false},
		{"rfc1918", "http://10.1.2.3:8080/", false},
		{"unspecified", "http://0.0.0.0/", false},
		{"ipv4-mapped loopback", "http://[::ffff:127.0.0.1]/", false},
		{"link-local v6 with zone", "http://[fe80::1%25eth0]/", false},
		{"name resolving to loopback", "http://rebind.test/", false},
		{"name resolving to v6 loopback", "http://rebind6.test/", false},
		{"name resolving to metadata", "http://metadata.test/", false},
		{"name resolving to mapped private", "http://mapped.test/", false},
		{"one private address among public ones", "http://mixed.test/", false},
		{"platform name and port", "http://s3.platform.test:9000/bucket", false},
		{"platform name resolved", "http://api2.platform.net/", false},
		{"platform IP behind another name", "http://db.public.test/", false},
		{"platform CIDR", "http://192.0.2.5/", false},
		{"plan deny wins over allow", "https://bad.example.com/", true},
		{"not on the plan's allow list", "https://evil.org/", true},
		{"apex not matched by *.", "https://example.com/", true},
		{"scheme", "ftp://api.example.com/file", false},
		{"websocket scheme", "ws://api.example.com/", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Policy{Platform: platform}
			if tc.plan {
				p.Plans = plans
			}
			rt, d := newPolicy(t, srv, p)
			resp, err := get(rt, tc.url)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("GET %s: status %d, want a denial", tc.url, resp.StatusCode)
			}
			if !errors.Is(err, ErrDenied) || !errors.Is(err, worker.ErrEgressDenied) {
				t.Fatalf("GET %s: %v, want ErrDenied wrapping worker.ErrEgressDenied", tc.url, err)
			}
			if got := d.calls(); len(got) != 0 {
				t.Fatalf("GET %s dialled %v", tc.url, got)
			}
		})
	}
}

func TestPlatformNameUnresolvable(t *testing.T) {
	srv := okServer(t)
	rt, d := newPolicy(t, srv, Policy{Platform: []string{"gone.platform.test"}})
	resp, err := get(rt, "http://api.example.com/")
	if err == nil {
		resp.Body.Close()
		t.Fatal("fetched although a platform endpoint could not be checked")
	}
	if !errors.Is(err, ErrDenied) || len(d.calls()) != 0 {
		t.Fatalf("err %v, dials %v; want a denial before dialling", err, d.calls())
	}
}

func TestAllowed(t *testing.T) {
	srv := okServer(t)
	tests := []struct {
		name     string
		plans    map[string]HostRules
		platform []string
		url      string
		dialled  string
	}{
		{"no plan rules", nil, nil, "http://api.example.com/x", "93.184.216.34:80"},
		{"allow glob", map[string]HostRules{"free": {Allow: []string{"*.EXAMPLE.com."}}}, nil, "http://cdn.example.com/", "93.184.216.35:80"},
		{"exact allow", map[string]HostRules{"free": {Allow: []string{"example.com"}}}, nil, "http://Example.COM/", "93.184.216.36:80"},
		{"deny list of another plan", map[string]HostRules{"pro": {Deny: []string{"*"}}}, nil, "http://api.example.com/", "93.184.216.34:80"},
		{"public IP literal", nil, nil, "http://198.51.100.20:8080/", "198.51.100.20:8080"},
		{"platform port differs", nil, []string{"s3.platform.test:9000"}, "http://s3.platform.test/", "198.51.100.9:80"},
		{"https default port", nil, nil, "https://api.example.com/", "93.184.216.34:443"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt, d := newPolicy(t, srv, Policy{Plans: tc.plans, Platform: tc.platform})
			resp, err := get(rt, tc.url)
			if strings.HasPrefix(tc.url, "https") {
				// The test server speaks plain HTTP: the TLS handshake
				// fails, after the dial this test is about.
				if err == nil {
					resp.Body.Close()
				}
			} else {
				if err != nil {
					t.Fatalf("GET %s: %v", tc.url, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "hello ") {
					t.Fatalf("GET %s: %d %q", tc.url, resp.StatusCode, body)
				}
			}
			if got := d.calls(); len(got) != 1 || got[0] != tc.dialled {
				t.Fatalf("dialled %v, want [%s]", got, tc.dialled)
			}
		})
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	srv := okServer(t)
	rt, d := newPolicy(t, srv, Policy{})
	resp, err := get(rt, "http://api.example.com/redirect")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "http://api.example.com/" {
		t.Fatalf("got %d %q, want the 302 itself", resp.StatusCode, resp.Header.Get("Location"))
	}
	if n := len(d.calls()); n != 1 {
		t.Fatalf("dialled %d times, want 1", n)
	}
}

func TestNoProxyFromEnvironment(t *testing.T) {
	srv := okServer(t)
	t.Setenv("HTTP_PROXY", "http://10.9.9.9:3128")
	t.Setenv("http_proxy", "http://10.9.9.9:3128")
	rt, d := newPolicy(t, srv, Policy{})
	resp, err := get(rt, "http://api.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := d.calls(); len(got) != 1 || got[0] != "93.184.216.34:80" {
		t.Fatalf("dialled %v, want the destination itself", got)
	}
}

func TestResponseCap(t *testing.T) {
	const limit = 1000
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 0
		fmt.Sscan(r.URL.Query().Get("n"), &n)
		body := strings.Repeat("x", n)
		if r.URL.Query().Get("chunked") != "" {
			// No Content-Length: flush in pieces.
			for i := 0; i < len(body); i += 100 {
				io.WriteString(w, body[i:min(i+100, len(body))])
				w.(http.Flusher).Flush()
			}
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(n))
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name    string
		query   string
		wantErr bool
	}{
		{"declared at the limit", "n=1000", false},
		{"declared over the limit", "n=1001", true},
		{"chunked at the limit", "n=1000&chunked=1", false},
		{"chunked over the limit", "n=5000&chunked=1", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt, _ := newPolicy(t, srv, Policy{MaxResponseBytes: limit})
			resp, err := get(rt, "http://api.example.com/?"+tc.query)
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if !tc.wantErr {
				if err != nil || len(body) != limit {
					t.Fatalf("read %d bytes, err %v; want %d bytes", len(body), err, limit)
				}
				return
			}
			if !errors.Is(err, ErrResponseTooLarge) || !errors.Is(err, worker.ErrResponseTooLarge) {
				t.Fatalf("err %v, want ErrResponseTooLarge wrapping worker's", err)
			}
			if len(body) > limit {
				t.Fatalf("read %d bytes past the limit", len(body))
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "12345")
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	tests := []struct{ name, path string }{
		{"headers never come", "/slow-headers"},
		{"body never ends", "/slow-body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt, _ := newPolicy(t, srv, Policy{Timeout: 50 * time.Millisecond})
			resp, err := get(rt, "http://api.example.com"+tc.path)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if err == nil {
				t.Fatal("no error from a server that never answers")
			}
			var ne net.Error
			if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &ne) && ne.Timeout()) {
				t.Fatalf("err %v, want a timeout", err)
			}
		})
	}
}

func TestDialControlRechecks(t *testing.T) {
	c := (&Policy{Platform: []string{"198.51.100.9:5432"}}).compile("free")
	tests := []struct {
		addr string
		deny bool
	}{
		{"127.0.0.1:80", true},
		{"[::1]:443", true},
		{"[::ffff:10.0.0.1]:80", true},
		{"198.51.100.9:5432", true},
		{"198.51.100.9:80", false},
		{"93.184.216.34:443", false},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			err := c.control("tcp", tc.addr, nil)
			if tc.deny != errors.Is(err, ErrDenied) {
				t.Fatalf("control(%s) = %v, deny=%v", tc.addr, err, tc.deny)
			}
		})
	}
}

// TestDefaultDialerDenies uses the default dialer (no Dial hook): the
// loopback test server stays unreachable.
func TestDefaultDialerDenies(t *testing.T) {
	srv := okServer(t)
	ap := netip.MustParseAddrPort(srv.Listener.Addr().String())
	rt := (&Policy{Resolver: testResolver}).Transport("free")
	resp, err := get(rt, "http://"+ap.String()+"/")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("reached the loopback test server: %d", resp.StatusCode)
	}
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("err %v, want ErrDenied", err)
	}
}

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		glob, host string
		want       bool
	}{
		{"*", "anything.org", true},
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "badexample.com", false},
		{"example.com", "example.com", true},
		{"example.com", "a.example.com", false},
	}
	for _, tc := range tests {
		t.Run(tc.glob+" "+tc.host, func(t *testing.T) {
			if got := matchGlob(tc.glob, tc.host); got != tc.want {
				t.Fatalf("matchGlob(%q, %q) = %v", tc.glob, tc.host, got)
			}
		})
	}
}

// TestAllowAddrs: an exempt IP:port is reached through the default
// dialer; the same address on another port, other loopback addresses and
// a platform endpoint stay denied.
func TestAllowAddrs(t *testing.T) {
	srv := okServer(t)
	ap := netip.MustParseAddrPort(srv.Listener.Addr().String())
	otherPort := strconv.Itoa(int(ap.Port()%65535) + 1)
	p := &Policy{
		Resolver:   testResolver,
		AllowAddrs: []netip.AddrPort{ap, netip.MustParseAddrPort("198.51.100.9:5432")},
		Platform:   []string{"198.51.100.9"},
	}
	rt := p.Transport("free")
	t.Cleanup(func() { rt.(*transport).next.CloseIdleConnections() })
	resp, err := get(rt, "http://"+ap.String()+"/")
	if err != nil {
		t.Fatalf("exempt address: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("exempt address: %d", resp.StatusCode)
	}
	c := p.compile("free")
	for _, addr := range []string{
		net.JoinHostPort(ap.Addr().String(), otherPort),
		net.JoinHostPort("::ffff:"+ap.Addr().String(), otherPort),
		"127.0.0.2:" + strconv.Itoa(int(ap.Port())),
		"198.51.100.9:5432",
		"[::1]:80",
	} {
		if err := c.control("tcp", addr, nil); !errors.Is(err, ErrDenied) {
			t.Errorf("control(%s) = %v, want ErrDenied", addr, err)
		}
	}
}
