package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/logstream"
)

// logStream is an open GET /sites/{site}/logs answer.
type logStream struct {
	res    *http.Response
	lines  *bufio.Reader
	cancel context.CancelFunc
}

// openLogs starts a log stream; when it returns 200 the server has
// subscribed (it subscribes before it sends the headers).
func (e *env) openLogs(t *testing.T, token, site string) (*logStream, resp) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/sites/"+site+"/logs", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		defer cancel()
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		r := resp{status: res.StatusCode, header: res.Header, raw: raw}
		json.Unmarshal(raw, &r.body)
		return nil, r
	}
	s := &logStream{res: res, lines: bufio.NewReader(res.Body), cancel: cancel}
	t.Cleanup(s.close)
	return s, resp{status: res.StatusCode, header: res.Header}
}

func (s *logStream) close() {
	s.cancel()
	s.res.Body.Close()
}

// next returns the next SSE frame: its lines up to the blank line.
func (s *logStream) next(t *testing.T) []string {
	t.Helper()
	var frame []string
	for {
		line, err := s.lines.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v (frame so far %q)", err, frame)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return frame
		}
		frame = append(frame, line)
	}
}

// event reads frames until a data frame and decodes it.
func (s *logStream) event(t *testing.T) logstream.Event {
	t.Helper()
	for {
		frame := s.next(t)
		if len(frame) == 1 && strings.HasPrefix(frame[0], ":") {
			continue // a comment (keepalive)
		}
		if len(frame) != 1 || !strings.HasPrefix(frame[0], "data: ") {
			t.Fatalf("frame %q is not one data line", frame)
		}
		var e logstream.Event
		if err := json.Unmarshal([]byte(strings.TrimPrefix(frame[0], "data: ")), &e); err != nil {
			t.Fatalf("data %q: %v", frame[0], err)
		}
		return e
	}
}

// waitUnsubscribed waits until nobody listens to site; the test's deadline
// bounds it.
func waitUnsubscribed(t *testing.T, hub *logstream.Hub, site string) {
	t.Helper()
	for hub.HasSubscribers(site) {
		time.Sleep(time.Millisecond)
	}
}

func TestLogStream(t *testing.T) {
	t.Parallel()
	hub := logstream.New(0)
	e := newEnv(t, withLogs(hub, time.Hour))
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "www")
	e.site(t, tok, "blog")
	_, otherTok := e.tenant(t, "globex")
	e.site(t, otherTok, "shop")

	t.Run("events arrive in order", func(t *testing.T) {
		s, r := e.openLogs(t, tok, "www")
		if s == nil {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
		if ct := r.header.Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("Content-Type %q", ct)
		}
		at := time.Date(2026, 11, 22, 18, 0, 0, 0, time.UTC)
		want := []logstream.Event{
			{Time: at, Site: "www", Kind: logstream.KindLog, Message: "hello from the guest"},
			{Time: at, Site: "www", Kind: logstream.KindInvocation, Method: "GET", Path: "/api/x", Status: 200,
				DurationMs: 3.1, CPUMs: 0.4, SubRequests: 1, Outcome: "ok"},
		}
		hub.Publish("blog", logstream.Event{Time: at, Site: "blog", Kind: logstream.KindLog, Message: "another site"})
		for _, ev := range want {
			hub.Publish("www", ev)
		}
		for i, w := range want {
			if got := s.event(t); got != w {
				t.Errorf("event %d:\n got  %+v\n want %+v", i, got, w)
			}
		}
	})

	t.Run("client disconnect unsubscribes", func(t *testing.T) {
		s, r := e.openLogs(t, tok, "blog")
		if s == nil {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
		if !hub.HasSubscribers("blog") {
			t.Fatal("no subscriber while the stream is open")
		}
		s.close()
		waitUnsubscribed(t, hub, "blog")
	})

	t.Run("another tenant's site", func(t *testing.T) {
		_, r := e.openLogs(t, tok, "shop")
		wantErr(t, r, 404, "not_found")
		if hub.HasSubscribers("shop") {
			t.Error("a foreign site was subscribed to")
		}
	})

	t.Run("admin may stream any site", func(t *testing.T) {
		s, r := e.openLogs(t, e.admin, "shop")
		if s == nil {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
		hub.Publish("shop", logstream.Event{Site: "shop", Kind: logstream.KindLog, Message: "x"})
		if got := s.event(t); got.Message != "x" {
			t.Errorf("event %+v", got)
		}
	})

	t.Run("no token", func(t *testing.T) {
		wantErr(t, e.do(t, "GET", "/api/v1/sites/www/logs", "", nil), 401, "unauthorized")
	})

	t.Run("CloseStreams ends open streams", func(t *testing.T) {
		hub := logstream.New(0)
		e := newEnv(t, withLogs(hub, time.Hour))
		_, tok := e.tenant(t, "acme")
		e.site(t, tok, "www")
		s, r := e.openLogs(t, tok, "www")
		if s == nil {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
		e.api.CloseStreams()
		if rest, err := io.ReadAll(s.res.Body); err != nil || len(rest) != 0 {
			t.Errorf("after CloseStreams: %q, %v; want a clean end", rest, err)
		}
		waitUnsubscribed(t, hub, "www")
		e.api.CloseStreams() // idempotent
	})
}

func TestLogStreamKeepalive(t *testing.T) {
	hub := logstream.New(0)
	e := newEnv(t, withLogs(hub, time.Millisecond))
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "www")
	s, r := e.openLogs(t, tok, "www")
	if s == nil {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	if frame := s.next(t); len(frame) != 1 || frame[0] != ": keepalive" {
		t.Errorf("first frame of an idle stream %q, want a keepalive comment", frame)
	}
}

func TestLogStreamOutlivesWriteTimeout(t *testing.T) {
	hub := logstream.New(0)
	const writeTimeout = 20 * time.Millisecond
	e := newEnv(t, withLogs(hub, time.Hour))
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "www")
	// Only the stream is served under the short write timeout: on a busy
	// machine the set-up requests above may take longer than it to answer.
	short := httptest.NewUnstartedServer(e.api.Handler())
	short.Config.WriteTimeout = writeTimeout
	short.Start()
	t.Cleanup(short.Close)
	e.srv = short
	s, r := e.openLogs(t, tok, "www")
	if s == nil {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	time.Sleep(3 * writeTimeout) // past the server's write deadline
	hub.Publish("www", logstream.Event{Site: "www", Kind: logstream.KindLog, Message: "late"})
	if got := s.event(t); got.Message != "late" {
		t.Errorf("event %+v", got)
	}
}

func TestLogStreamDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "www")
	wantErr(t, e.do(t, "GET", "/api/v1/sites/www/logs", tok, nil), 503, "logs_unavailable")
	wantErr(t, e.do(t, "GET", "/api/v1/sites/nope/logs", tok, nil), 404, "not_found")
}

var droppedFrame = regexp.MustCompile(`^data: \{"time":"[0-9T:.Z+-]+","site":"www","kind":"dropped","dropped":[1-9][0-9]*\}$`)

// A client that stops reading while events keep coming is told, in the
// stream, how many it lost: "event: dropped" with the count, just before
// the next event it gets. Nothing is lost without being counted.
func TestLogStreamDropped(t *testing.T) {
	t.Parallel()
	hub := logstream.New(2)
	e := newEnv(t, withLogs(hub, time.Hour))
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "www")
	s, r := e.openLogs(t, tok, "www")
	if s == nil {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	// Big events fill the connection's buffers while the test does not
	// read; then the server's writes block and the hub drops.
	big := strings.Repeat("x", 64<<10)
	published := 0
	for hub.Dropped() == 0 {
		hub.Publish("www", logstream.Event{Site: "www", Kind: logstream.KindLog, Message: big})
		published++
	}
	hub.Publish("www", logstream.Event{Site: "www", Kind: logstream.KindLog, Message: "last"})
	published++

	var delivered, dropped int64
	sawGap := false
	for {
		frame := s.next(t)
		if len(frame) == 1 && strings.HasPrefix(frame[0], ":") {
			continue
		}
		if len(frame) == 2 && frame[0] == "event: dropped" {
			if !droppedFrame.MatchString(frame[1]) {
				t.Fatalf("dropped frame data %q, want %s", frame[1], droppedFrame)
			}
			var ev logstream.Event
			if err := json.Unmarshal([]byte(strings.TrimPrefix(frame[1], "data: ")), &ev); err != nil {
				t.Fatalf("dropped frame %q: %v", frame, err)
			}
			if ev.Kind != logstream.KindDropped || ev.Site != "www" || ev.Dropped <= 0 || ev.Time.IsZero() {
				t.Fatalf("dropped frame %q", frame)
			}
			dropped += ev.Dropped
			sawGap = true
			continue
		}
		if len(frame) != 1 || !strings.HasPrefix(frame[0], "data: {") {
			t.Fatalf("frame %q", frame)
		}
		delivered++
		if strings.Contains(frame[0], `"message":"last"`) {
			break
		}
	}
	if !sawGap {
		t.Fatal("no dropped frame")
	}
	if delivered+dropped != int64(published) || dropped != hub.Dropped() {
		t.Fatalf("delivered %d + dropped %d != published %d (hub dropped %d)", delivered, dropped, published, hub.Dropped())
	}
}
