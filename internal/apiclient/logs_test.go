package apiclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/logstream"
)

// sseServer answers GET /api/v1/sites/blog/logs with body as an event
// stream and then ends it.
func sseServer(t *testing.T, body string) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/sites/blog/logs" || r.Header.Get("Authorization") != "Bearer pier_secret" ||
			r.Header.Get("Accept") != "text/event-stream" {
			http.Error(w, "unexpected request", http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return New(srv.URL, "pier_secret", srv.Client())
}

func TestStreamLogs(t *testing.T) {
	at := time.Date(2026, 11, 22, 18, 0, 0, 0, time.UTC)
	inv := logstream.Event{Time: at, Site: "blog", Kind: "invocation", Method: "GET", Path: "/api/x", Status: 200,
		DurationMs: 3.1, CPUMs: 0.4, SubRequests: 1, Outcome: "ok"}
	logLine := logstream.Event{Time: at, Site: "blog", Kind: "log", Message: "hello"}
	const invJSON = `{"time":"2026-11-22T18:00:00Z","site":"blog","kind":"invocation","method":"GET","path":"/api/x","status":200,"duration_ms":3.1,"cpu_ms":0.4,"subrequests":1,"outcome":"ok"}`
	const logJSON = `{"time":"2026-11-22T18:00:00Z","site":"blog","kind":"log","message":"hello"}`
	tests := []struct {
		name string
		body string
		want []logstream.Event
	}{
		{"events and keepalives", ": keepalive\n\ndata: " + invJSON + "\n\n: keepalive\n\ndata: " + logJSON + "\n\n", []logstream.Event{inv, logLine}},
		{"CRLF and CR line ends", "data: " + invJSON + "\r\n\r\ndata: " + logJSON + "\r\r", []logstream.Event{inv, logLine}},
		{"data split over lines", "data: {\"site\":\"blog\",\ndata: \"kind\":\"log\",\"message\":\"hello\"}\n\n", []logstream.Event{{Site: "blog", Kind: "log", Message: "hello"}}},
		{"other fields ignored", "event: log\nid: 7\nretry: 100\ndata:" + logJSON + "\n\n", []logstream.Event{logLine}},
		{"dropped events", "event: dropped\ndata: {\"time\":\"2026-11-22T18:00:00Z\",\"site\":\"blog\",\"kind\":\"dropped\",\"dropped\":3}\n\ndata: " + logJSON + "\n\n",
			[]logstream.Event{{Time: at, Site: "blog", Kind: "dropped", Dropped: 3}, logLine}},
		{"the event name says dropped", "event: dropped\ndata: {\"dropped\":2}\n\n", []logstream.Event{{Kind: "dropped", Dropped: 2}}},
		{"an unfinished event is dropped", "data: " + logJSON + "\n\ndata: " + invJSON + "\n", []logstream.Event{logLine}},
		{"empty stream", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := sseServer(t, tc.body)
			var got []logstream.Event
			err := c.StreamLogs(context.Background(), "blog", func(e logstream.Event) error {
				got = append(got, e)
				return nil
			})
			if !errors.Is(err, ErrStreamEnded) {
				t.Errorf("err = %v, want ErrStreamEnded", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("events:\n got  %+v\n want %+v", got, tc.want)
			}
		})
	}

	t.Run("callback error stops the stream", func(t *testing.T) {
		c := sseServer(t, "data: "+logJSON+"\n\ndata: "+invJSON+"\n\n")
		stop := errors.New("enough")
		n := 0
		err := c.StreamLogs(context.Background(), "blog", func(logstream.Event) error { n++; return stop })
		if err != stop || n != 1 {
			t.Errorf("err = %v after %d events, want %v after 1", err, n, stop)
		}
	})
	t.Run("bad event", func(t *testing.T) {
		c := sseServer(t, "data: {not json\n\n")
		err := c.StreamLogs(context.Background(), "blog", func(logstream.Event) error { return nil })
		if err == nil || errors.Is(err, ErrStreamEnded) || !strings.Contains(err.Error(), "decoding log event") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("error answer", func(t *testing.T) {
		c, _ := server(t, 404, `{"error":{"code":"not_found","message":"site \"blog\" not found"}}`, nil)
		err := c.StreamLogs(context.Background(), "blog", func(logstream.Event) error { return nil })
		var e *Error
		if !errors.As(err, &e) || e.Status != 404 || e.Code != "not_found" {
			t.Errorf("err = %#v", err)
		}
	})
	t.Run("not an event stream", func(t *testing.T) {
		c, _ := server(t, 200, `{"status":"ok"}`, nil)
		err := c.StreamLogs(context.Background(), "blog", func(logstream.Event) error { return nil })
		if !errors.Is(err, ErrNotEventStream) || !strings.Contains(err.Error(), "not an event stream") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		// The server sends one event and holds the stream open; the
		// callback cancels.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: "+logJSON+"\n\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}))
		t.Cleanup(srv.Close)
		c := New(srv.URL, "", srv.Client())
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		err := c.StreamLogs(ctx, "blog", func(logstream.Event) error { cancel(); return nil })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}
