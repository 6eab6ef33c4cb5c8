package dnshook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libdns/libdns"
)

// call is one request the fake hook received.
type call struct {
	Path, User, Pass, ContentType string
	Body                          message
}

// fakeHook records calls and answers with status and body.
type fakeHook struct {
	mu     sync.Mutex
	calls  []call
	status int
	body   string
	delay  time.Duration
}

func (f *fakeHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m message
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &m); err != nil || r.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	u, p, _ := r.BasicAuth()
	f.mu.Lock()
	f.calls = append(f.calls, call{Path: r.URL.Path, User: u, Pass: p, ContentType: r.Header.Get("Content-Type"), Body: m})
	status, body, delay := f.status, f.body, f.delay
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
	}
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (f *fakeHook) got() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func TestPresentAndCleanup(t *testing.T) {
	t.Parallel()
	hook := &fakeHook{}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	p, err := New(Config{URL: srv.URL + "/acme/", Username: "pier", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	rec := libdns.RR{Type: "TXT", Name: "_acme-challenge", Data: "token-value", TTL: time.Minute}
	got, err := p.AppendRecords(context.Background(), "example.com.", []libdns.Record{rec})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].RR() != rec {
		t.Errorf("AppendRecords returned %v, want the record", got)
	}
	// certmagic names a record relative to the zone it found; a zone
	// without a trailing dot and a TXT value type work too.
	if _, err := p.DeleteRecords(context.Background(), "example.com", []libdns.Record{libdns.TXT{Name: "_acme-challenge.blog", Text: "other"}}); err != nil {
		t.Fatal(err)
	}
	want := []call{
		{Path: "/acme/present", User: "pier", Pass: "s3cret", ContentType: "application/json", Body: message{FQDN: "_acme-challenge.example.com.", Value: "token-value"}},
		{Path: "/acme/cleanup", User: "pier", Pass: "s3cret", ContentType: "application/json", Body: message{FQDN: "_acme-challenge.blog.example.com.", Value: "other"}},
	}
	calls := hook.got()
	if len(calls) != len(want) {
		t.Fatalf("calls = %+v, want %+v", calls, want)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Errorf("call %d = %+v, want %+v", i, calls[i], want[i])
		}
	}
}

func TestNoAuthWithoutUsername(t *testing.T) {
	t.Parallel()
	hook := &fakeHook{}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	p, err := New(Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendRecords(context.Background(), "example.com.", []libdns.Record{libdns.TXT{Name: "_acme-challenge", Text: "v"}}); err != nil {
		t.Fatal(err)
	}
	if c := hook.got(); len(c) != 1 || c[0].User != "" || c[0].Path != "/present" {
		t.Errorf("calls = %+v; want one /present without credentials", c)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		hook    *fakeHook
		timeout time.Duration
		rec     libdns.Record
		want    []string
	}{
		{name: "server error", hook: &fakeHook{status: 500, body: "zone example.com is locked\n"}, want: []string{"present _acme-challenge.example.com.", "500 Internal Server Error", "zone example.com is locked"}},
		{name: "unauthorized", hook: &fakeHook{status: 401}, want: []string{"401 Unauthorized", "check the webhook user and password", "(empty body)"}},
		{name: "long body", hook: &fakeHook{status: 502, body: strings.Repeat("x", 5000)}, want: []string{"502 Bad Gateway", strings.Repeat("x", maxErrorBody) + "…"}},
		{name: "timeout", hook: &fakeHook{delay: 5 * time.Second}, timeout: 100 * time.Millisecond, want: []string{"no answer within 100ms"}},
		{name: "not TXT", rec: libdns.RR{Type: "A", Name: "www", Data: "192.0.2.1"}, want: []string{"only TXT records are supported"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hook := tt.hook
			if hook == nil {
				hook = &fakeHook{}
			}
			srv := httptest.NewServer(hook)
			defer srv.Close()
			p, err := New(Config{URL: srv.URL, Timeout: tt.timeout, Password: "never-shown"})
			if err != nil {
				t.Fatal(err)
			}
			rec := tt.rec
			if rec == nil {
				rec = libdns.TXT{Name: "_acme-challenge", Text: "v"}
			}
			done, err := p.AppendRecords(context.Background(), "example.com.", []libdns.Record{rec})
			if err == nil {
				t.Fatal("AppendRecords succeeded")
			}
			if len(done) != 0 {
				t.Errorf("records reported done: %v", done)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "never-shown") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	p, err := New(Config{URL: url, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.DeleteRecords(context.Background(), "example.com.", []libdns.Record{libdns.TXT{Name: "_acme-challenge", Text: "v"}})
	if err == nil || !strings.Contains(err.Error(), "cleanup _acme-challenge.example.com.: POST "+url+"/cleanup") {
		t.Errorf("error = %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "example.com/hook", "ftp://example.com", "https://user:pw@example.com/hook", "https://example.com/hook?x=1", "http://"} {
		if _, err := New(Config{URL: u}); err == nil {
			t.Errorf("New(%q) succeeded", u)
		} else if strings.Contains(err.Error(), "pw@") {
			t.Errorf("New(%q) error shows the password: %v", u, err)
		}
	}
}
