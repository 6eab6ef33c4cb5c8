package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/pierhq/pier/sdk/go/pier"
)

// The handler runs natively too, with the SDK's in-memory KV (each test
// its own binding); examples_test.go runs the wasm build through pier.

func count(t *testing.T, h http.Handler, method string) int64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, "/count", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("%s /count: %d %s", method, rec.Code, rec.Body)
	}
	var v struct{ Count int64 }
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("%s /count: %v in %q", method, err, rec.Body)
	}
	return v.Count
}

func TestCounter(t *testing.T) {
	h := newHandler(pier.KV("TestCounter"))
	if n := count(t, h, "GET"); n != 0 {
		t.Fatalf("GET before any POST: %d", n)
	}
	for want := int64(1); want <= 3; want++ {
		if n := count(t, h, "POST"); n != want {
			t.Fatalf("POST %d answered %d", want, n)
		}
	}
	if n := count(t, h, "GET"); n != 3 {
		t.Fatalf("GET after 3 POSTs: %d", n)
	}
}

// TestCounterConcurrent: 8 clients × 100 increments end at exactly 800,
// and every answer is a distinct value.
func TestCounterConcurrent(t *testing.T) {
	h := newHandler(pier.KV("TestCounterConcurrent"))
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("POST", "/count", nil))
				var v struct{ Count int64 }
				if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &v) != nil {
					t.Errorf("POST: %d %s", rec.Code, rec.Body)
					return
				}
				mu.Lock()
				if seen[v.Count] {
					t.Errorf("value %d answered twice", v.Count)
				}
				seen[v.Count] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n := count(t, h, "GET"); n != 800 {
		t.Fatalf("count %d, want 800", n)
	}
}

func TestCounterCorruptValue(t *testing.T) {
	kv := pier.KV("TestCounterCorruptValue")
	if err := kv.Put(counterKey, []byte("not a number")); err != nil {
		t.Fatal(err)
	}
	h := newHandler(kv)
	for _, m := range []string{"GET", "POST"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(m, "/count", nil))
		if rec.Code != http.StatusInternalServerError {
			t.Errorf("%s with a corrupt value: %d %s", m, rec.Code, rec.Body)
		}
	}
}
