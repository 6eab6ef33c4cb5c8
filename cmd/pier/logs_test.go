package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/apiclient"
	"github.com/pierhq/pier/internal/httperr"
	"github.com/pierhq/pier/internal/logstream"
)

var (
	testInvocation = logstream.Event{Time: time.Date(2026, 11, 22, 18, 0, 0, 0, time.UTC), Site: "blog", Kind: logstream.KindInvocation,
		Method: "GET", Path: "/api/x", Status: 200, DurationMs: 3.1, CPUMs: 0.4, SubRequests: 1, Outcome: "ok"}
	testLogLine = logstream.Event{Time: time.Date(2026, 11, 22, 18, 0, 1, 0, time.UTC), Site: "blog", Kind: logstream.KindLog,
		Message: "cache miss"}
)

func TestFormatEvent(t *testing.T) {
	tests := []struct {
		name string
		ev   logstream.Event
		want string
	}{
		{"invocation", testInvocation, "2026-11-22T18:00:00Z GET /api/x 200 3.1ms cpu=0.4ms sub=1 ok"},
		{"log line", testLogLine, "2026-11-22T18:00:01Z log: cache miss"},
		{"invocation with KV", logstream.Event{Time: testInvocation.Time, Kind: logstream.KindInvocation, Method: "POST", Path: "/count",
			Status: 200, DurationMs: 1.5, CPUMs: 0.2, KVReads: 2, KVWrites: 1, KVBytes: 12},
			"2026-11-22T18:00:00Z POST /count 200 1.5ms cpu=0.2ms sub=0 ok kv=2r/1w/12B"},
		{"multi-line log", logstream.Event{Time: testLogLine.Time, Kind: logstream.KindLog, Message: "a\nb\r\nc"}, `2026-11-22T18:00:01Z log: a\nb\nc`},
		{"failed invocation", logstream.Event{Time: testInvocation.Time, Kind: logstream.KindInvocation, Method: "POST", Path: "/loop",
			Status: 503, DurationMs: 10.04, CPUMs: 10, Outcome: "exceededCpu", Message: "cpu limit of 10ms exceeded"},
			"2026-11-22T18:00:00Z POST /loop 503 10.0ms cpu=10.0ms sub=0 exceededCpu: cpu limit of 10ms exceeded"},
		{"static request", logstream.Event{Time: testInvocation.Time, Kind: logstream.KindRequest, Method: "GET", Path: "/logo.png",
			Status: 200, DurationMs: 0.21, BytesOut: 5120, Outcome: logstream.OutcomeStatic},
			"2026-11-22T18:00:00Z GET /logo.png 200 0.2ms 5120B static"},
		{"failed request", logstream.Event{Time: testInvocation.Time, Kind: logstream.KindRequest, Method: "GET", Path: "/",
			Status: 503, BytesOut: 40, Outcome: logstream.OutcomeError, Message: "service unavailable (service_unavailable)"},
			"2026-11-22T18:00:00Z GET / 503 0.0ms 40B error: service unavailable (service_unavailable)"},
		{"subrequest answered by the outbound worker", logstream.Event{Time: testInvocation.Time, Kind: logstream.KindSubrequest, Method: "GET",
			Path: "http://blocked.example/x", Status: 403, DurationMs: 1.24, CPUMs: 0.1, Outcome: logstream.OutcomeAnswered},
			"2026-11-22T18:00:00Z fetch GET http://blocked.example/x 403 1.2ms cpu=0.1ms answered"},
		{"subrequest the outbound worker failed", logstream.Event{Time: testInvocation.Time, Kind: logstream.KindSubrequest, Method: "POST",
			Path: "https://api.example.com/", CPUMs: 50, Outcome: logstream.OutcomeFailed, Message: "outbound worker exceeded its CPU limit of 50 ms"},
			"2026-11-22T18:00:00Z fetch POST https://api.example.com/ 0 0.0ms cpu=50.0ms failed: outbound worker exceeded its CPU limit of 50 ms"},
		{"dropped lines", logstream.Event{Time: testInvocation.Time, Kind: logstream.KindDropped, Dropped: 12},
			"2026-11-22T18:00:00Z … 12 lines dropped (reader too slow)"},
		{"one dropped line", logstream.Event{Time: testInvocation.Time, Kind: logstream.KindDropped, Dropped: 1},
			"2026-11-22T18:00:00Z … 1 line dropped (reader too slow)"},
		{"local time is shown in UTC", logstream.Event{Time: testLogLine.Time.In(time.FixedZone("X", 3600)), Kind: logstream.KindLog, Message: "m"},
			"2026-11-22T18:00:01Z log: m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatEvent(tt.ev); got != tt.want {
				t.Errorf("formatEvent = %q, want %q", got, tt.want)
			}
		})
	}
}

// logServer answers the n-th GET /api/v1/sites/blog/logs (0-based) with
// script[n]; past the script, with 404.
type logServer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	n      int
	script []func(w http.ResponseWriter, r *http.Request)
}

func newLogServer(t *testing.T, script ...func(w http.ResponseWriter, r *http.Request)) *logServer {
	t.Helper()
	s := &logServer{script: script}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/sites/blog/logs" || r.Header.Get("Authorization") != "Bearer "+fakeToken {
			httperr.Write(w, nil, httperr.New(404, "not_found", "site %q not found", strings.TrimPrefix(r.URL.Path, "/api/v1/sites/")))
			return
		}
		s.mu.Lock()
		i := s.n
		s.n++
		s.mu.Unlock()
		if i >= len(s.script) {
			httperr.Write(w, nil, httperr.New(404, "not_found", `site "blog" not found`))
			return
		}
		s.script[i](w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *logServer) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// stream sends events and ends the stream.
func stream(events ...logstream.Event) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, ": keepalive\n\n")
		for _, ev := range events {
			b, _ := json.Marshal(ev)
			io.WriteString(w, "data: "+string(b)+"\n\n")
		}
	}
}

// holdOpen sends events and keeps the stream open until the client leaves.
func holdOpen(events ...logstream.Event) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		stream(events...)(w, r)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}
}

func answer(status int, code string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		httperr.Write(w, nil, httperr.New(status, code, "injected %d", status))
	}
}

// lineWriter collects output and calls onLine after each write.
type lineWriter struct {
	mu     sync.Mutex
	b      strings.Builder
	onLine func(lines int)
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.b.Write(p)
	n := strings.Count(l.b.String(), "\n")
	l.mu.Unlock()
	if l.onLine != nil {
		l.onLine(n)
	}
	return len(p), nil
}

func (l *lineWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogTail(t *testing.T) {
	t.Run("reconnects until the server refuses", func(t *testing.T) {
		s := newLogServer(t,
			stream(testInvocation),
			answer(502, "bad_gateway"),
			answer(503, "storage_unavailable"),
			stream(testLogLine),
			// then 404
		)
		var out, notes lineWriter
		tail := &logTail{client: apiclient.New(s.srv.URL, fakeToken, s.srv.Client()), out: &out, notes: &notes, base: time.Millisecond, max: 2 * time.Millisecond}
		err := tail.run(context.Background(), "blog")
		if !apiclient.IsStatus(err, 404) {
			t.Errorf("run = %v, want the 404", err)
		}
		want := formatEvent(testInvocation) + "\n" + formatEvent(testLogLine) + "\n"
		if out.String() != want {
			t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
		}
		if n := strings.Count(notes.String(), "reconnecting in"); n != 4 {
			t.Errorf("%d reconnection notes, want 4:\n%s", n, notes.String())
		}
		if !strings.Contains(notes.String(), "log stream interrupted (the server ended it)") {
			t.Errorf("notes do not say the server ended the stream:\n%s", notes.String())
		}
		if s.connections() != 5 {
			t.Errorf("%d connections, want 5", s.connections())
		}
	})

	for _, tt := range []struct {
		name   string
		status int
		code   string
	}{
		{"unknown site", 404, "not_found"},
		{"bad token", 401, "unauthorized"},
		{"server without logs", 503, "logs_unavailable"},
	} {
		t.Run("gives up: "+tt.name, func(t *testing.T) {
			s := newLogServer(t, answer(tt.status, tt.code))
			var out, notes lineWriter
			tail := &logTail{client: apiclient.New(s.srv.URL, fakeToken, s.srv.Client()), out: &out, notes: &notes, base: time.Millisecond}
			err := tail.run(context.Background(), "blog")
			if !apiclient.IsStatus(err, tt.status) {
				t.Errorf("run = %v, want a %d", err, tt.status)
			}
			if s.connections() != 1 || notes.String() != "" {
				t.Errorf("%d connections, notes %q; want 1 and none", s.connections(), notes.String())
			}
		})
	}

	t.Run("stops cleanly when cancelled", func(t *testing.T) {
		s := newLogServer(t, holdOpen(testInvocation, testLogLine))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		out := &lineWriter{onLine: func(n int) {
			if n == 2 {
				cancel() // Ctrl-C once both lines are out
			}
		}}
		var notes lineWriter
		tail := &logTail{client: apiclient.New(s.srv.URL, fakeToken, s.srv.Client()), out: out, notes: &notes, json: true}
		if err := tail.run(ctx, "blog"); err != nil {
			t.Errorf("run = %v, want nil", err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		for i, want := range []logstream.Event{testInvocation, testLogLine} {
			var got logstream.Event
			if err := json.Unmarshal([]byte(lines[i]), &got); err != nil || got != want {
				t.Errorf("line %d = %q (%v), want %+v", i, lines[i], err, want)
			}
		}
		if notes.String() != "" {
			t.Errorf("notes %q", notes.String())
		}
	})
}

func TestLogsCommand(t *testing.T) {
	s := newLogServer(t, stream(testInvocation, testLogLine))
	var stdout, stderr strings.Builder
	vars := map[string]string{"PIER_TOKEN": fakeToken, "PIER_API": s.srv.URL}
	e := &env{
		stdout: &stdout, stderr: &stderr,
		getenv:   func(k string) string { return vars[k] },
		readFile: func(string) ([]byte, error) { return nil, io.EOF },
		http:     s.srv.Client(),
	}
	// One stream, a reconnection, then the site is gone: exit 1.
	code := run(context.Background(), e, []string{"logs", "--site", "blog"})
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if want := formatEvent(testInvocation) + "\n" + formatEvent(testLogLine) + "\n"; stdout.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), want)
	}
	for _, want := range []string{"reconnecting in", `site "blog" not found (not_found)`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q does not contain %q", stderr.String(), want)
		}
	}

	t.Run("no site", func(t *testing.T) {
		var stdout, stderr strings.Builder
		e := *e
		e.stdout, e.stderr = &stdout, &stderr
		if code := run(context.Background(), &e, []string{"logs"}); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
		if !strings.Contains(stderr.String(), "no site") {
			t.Errorf("stderr %q", stderr.String())
		}
	})
}

// TestLogTailFirstConnection: a first connection that fails, for any
// reason, is an error at once that names the URL and the cause; nothing
// is retried.
func TestLogTailFirstConnection(t *testing.T) {
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := refused.URL
	refused.Close() // nothing listens there any more

	tests := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request) // nil: refusedURL
		want    []string                                     // in the error
		status  int                                          // the *apiclient.Error it wraps, 0 for none
	}{
		{name: "connection refused", want: []string{"connection refused"}},
		{name: "bad token", handler: answer(401, "unauthorized"), want: []string{"injected 401 (unauthorized)"}, status: 401},
		{name: "unknown site", handler: answer(404, "not_found"), want: []string{"injected 404 (not_found)"}, status: 404},
		{name: "server error", handler: answer(502, "bad_gateway"), want: []string{"injected 502 (bad_gateway)"}, status: 502},
		{name: "404 from something else", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "404 page not found", 404)
		}, want: []string{"server answered 404 Not Found", "not a Pier admin API"}, status: 404},
		{name: "200 that is no stream", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<h1>welcome</h1>")
		}, want: []string{`answer is "text/html", not an event stream`, "not a Pier admin API"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := refusedURL
			var calls atomic.Int32
			if tt.handler != nil {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					calls.Add(1)
					tt.handler(w, r)
				}))
				defer srv.Close()
				url = srv.URL
			}
			var out, notes lineWriter
			tail := &logTail{client: apiclient.New(url, fakeToken, nil), out: &out, notes: &notes, base: time.Millisecond}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := tail.run(ctx, "blog")
			if err == nil {
				t.Fatal("run = nil, want the first connection's failure")
			}
			want := append([]string{`following the log of site "blog" at ` + url + ": "}, tt.want...)
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
			if strings.Count(err.Error(), url) != 1 {
				t.Errorf("err = %q names the URL %d times, want once", err, strings.Count(err.Error(), url))
			}
			if tt.status != 0 && !apiclient.IsStatus(err, tt.status) {
				t.Errorf("err = %v does not wrap the %d answer", err, tt.status)
			}
			if n := calls.Load(); tt.handler != nil && n != 1 {
				t.Errorf("%d connections, want 1", n)
			}
			if notes.String() != "" {
				t.Errorf("notes %q, want none", notes.String())
			}
		})
	}
}

// TestLogTailReconnectsAfterRefused: once a stream worked, even refused
// connections (the server restarting) are waited out.
func TestLogTailReconnectsAfterRefused(t *testing.T) {
	s := newLogServer(t, stream(testInvocation), stream(testLogLine)) // then 404
	n := 0
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		n++
		if n == 2 || n == 3 { // the server is restarting
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
		}
		return s.srv.Client().Transport.RoundTrip(r)
	})}
	var out, notes lineWriter
	tail := &logTail{client: apiclient.New(s.srv.URL, fakeToken, hc), out: &out, notes: &notes, base: time.Millisecond, max: 2 * time.Millisecond}
	err := tail.run(context.Background(), "blog")
	if !apiclient.IsStatus(err, 404) {
		t.Errorf("run = %v, want the final 404", err)
	}
	if want := formatEvent(testInvocation) + "\n" + formatEvent(testLogLine) + "\n"; out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
	if c := strings.Count(notes.String(), "connection refused"); c != 2 {
		t.Errorf("%d notes of a refused connection, want 2:\n%s", c, notes.String())
	}
}
