package hosting

import (
	"net/http"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

func TestDateCache(t *testing.T) {
	var c dateCache
	t0 := time.Date(2026, 12, 6, 7, 8, 9, 100, time.FixedZone("X", 3600))
	v := c.header(t0)
	if len(v) != 1 || v[0] != "Sun, 06 Dec 2026 06:08:09 GMT" {
		t.Fatalf("Date %q, want the second in GMT", v)
	}
	if again := c.header(t0.Add(800 * time.Millisecond)); &again[0] != &v[0] {
		t.Error("the same second formatted again")
	}
	if next := c.header(t0.Add(time.Second)); next[0] != "Sun, 06 Dec 2026 06:08:10 GMT" {
		t.Errorf("next second: %q", next)
	}
	if back := c.header(t0); back[0] != v[0] {
		t.Errorf("a clock stepped back: %q, want %q", back, v)
	}
	// A handler adding a value must not change what other responses share.
	h := http.Header{"Date": c.header(t0)}
	h.Add("Date", "x")
	if got := c.header(t0); len(got) != 1 || got[0] != v[0] {
		t.Errorf("shared value changed by an Add: %q", got)
	}
}

// BenchmarkDateHeader compares the cached Date value with formatting it
// per response, as net/http does for a handler that set none.
func BenchmarkDateHeader(b *testing.B) {
	b.Run("cached", func(b *testing.B) {
		var c dateCache
		for b.Loop() {
			_ = c.header(time.Now())
		}
	})
	b.Run("formatted", func(b *testing.B) {
		buf := make([]byte, 0, 64)
		for b.Loop() {
			buf = time.Now().UTC().AppendFormat(buf[:0], http.TimeFormat)
		}
	})
}

// TestDateHeader: the edge's static and worker answers carry the Date of
// the clock when their header is written.
func TestDateHeader(t *testing.T) {
	e := newWorkerEnv(t, Config{})
	e.workerSite("hello", "d1", "hello", templateSite(), tenants.DeploymentConfig{})
	for _, path := range []string{"/small.txt", "/hello"} {
		e.clock.Advance(90 * time.Second)
		want := e.clock.Now().UTC().Format(http.TimeFormat)
		w := e.get(path, "hello.pier.test")
		if w.Code != http.StatusOK || w.Header().Get("Date") != want {
			t.Errorf("GET %s: %d, Date %q, want 200 and %q", path, w.Code, w.Header().Get("Date"), want)
		}
	}
}
