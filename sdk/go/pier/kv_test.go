package pier

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestKV(t *testing.T) {
	f := newFakeHost()
	kv := Namespace{binding: "STORE", h: f}
	if err := kv.Put("a", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if v, err := kv.Get("a"); err != nil || string(v) != "one" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if err := kv.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete("a"); err != nil {
		t.Fatalf("deleting an absent key: %v", err)
	}
	_, err := kv.Get("a")
	if !errors.Is(err, ErrKeyNotFound) || err.Error() != `pier: KV("STORE").Get("a"): kv: key not found` {
		t.Fatalf("Get of a deleted key: %v", err)
	}
	// An empty value is a value.
	if err := kv.Put("e", nil); err != nil {
		t.Fatal(err)
	}
	if v, err := kv.Get("e"); err != nil || len(v) != 0 {
		t.Fatalf("Get of an empty value = %q, %v", v, err)
	}
}

// TestKVLargeValue: a value larger than the first buffer is read with a
// second call, which is not another operation.
func TestKVLargeValue(t *testing.T) {
	f := newFakeHost()
	big := strings.Repeat("0123456789", 10_000)
	f.kv.set("STORE", "big", []byte(big), 0)
	f.kv.limit = 1
	v, err := Namespace{binding: "STORE", h: f}.Get("big")
	if err != nil || string(v) != big {
		t.Fatalf("Get = %d bytes, %v", len(v), err)
	}
}

func TestKVErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fakeHost)
		call  func(kv Namespace) error
		want  error
		words string
	}{
		{"op limit", func(f *fakeHost) { f.kv.limit = 1 }, func(kv Namespace) error {
			kv.Put("a", nil)
			_, err := kv.Get("a")
			return err
		}, ErrKVOpLimit, "kvOps"},
		{"unbound", nil, func(kv Namespace) error { return Namespace{binding: "NOPE", h: kv.h}.Put("a", nil) }, ErrKVUnbound, "binding"},
		{"empty key", nil, func(kv Namespace) error { _, err := kv.Get(""); return err }, ErrKVInvalid, "512 bytes"},
		{"long key", nil, func(kv Namespace) error { return kv.Put(strings.Repeat("k", 513), nil) }, ErrKVInvalid, "512 bytes"},
		{"negative TTL", nil, func(kv Namespace) error { return kv.Put("a", nil, WithTTL(-time.Second)) }, ErrKVInvalid, "TTL"},
		{"value too large", nil, func(kv Namespace) error {
			return Namespace{binding: "STORE", h: tooLarge{kv.h}}.Put("a", []byte("x"))
		}, ErrKVValueTooLarge, "kvValueKB"},
		{"unavailable", nil, func(kv Namespace) error {
			_, _, err := Namespace{binding: "STORE", h: down{kv.h}}.List("", "")
			return err
		}, ErrKVUnavailable, "unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeHost()
			if tt.setup != nil {
				tt.setup(f)
			}
			err := tt.call(Namespace{binding: "STORE", h: f})
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.words) {
				t.Fatalf("error %v, want %v naming %q", err, tt.want, tt.words)
			}
		})
	}
}

// tooLarge and down answer every put and list with -9 and -11.
type tooLarge struct{ kvABI }

func (tooLarge) kvPut(binding, key string, value []byte, ttl int64) int32 { return -9 }

type down struct{ kvABI }

func (down) kvList(binding, prefix, cursor string, limit int32, buf []byte) int32 { return -11 }

func TestKVTTL(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want int64
	}{
		{0, 0},
		{time.Millisecond, 1},
		{1500 * time.Millisecond, 2},
		{time.Hour, 3600},
	} {
		if got := ttlOf([]PutOption{WithTTL(tt.d)}); got != tt.want {
			t.Errorf("WithTTL(%v) = %d s, want %d", tt.d, got, tt.want)
		}
	}
	f := newFakeHost()
	kv := Namespace{binding: "STORE", h: f}
	if err := kv.Put("t", []byte("v"), WithTTL(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if exp := f.kv.m["STORE"]["t"].expires; time.Until(exp) < 59*time.Minute || time.Until(exp) > time.Hour {
		t.Errorf("expires %v", exp)
	}
	f.kv.m["STORE"]["t"] = memEntry{value: []byte("v"), expires: time.Now().Add(-time.Second)}
	if _, err := kv.Get("t"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("expired key: %v", err)
	}
}

func TestKVList(t *testing.T) {
	f := newFakeHost()
	kv := Namespace{binding: "STORE", h: f}
	var want []string
	for i := range 1005 {
		k := fmt.Sprintf("item/%04d", i)
		want = append(want, k)
		f.kv.set("STORE", k, nil, 0)
	}
	f.kv.set("STORE", "other", nil, 0)
	keys, next, err := kv.List("item/", "")
	if err != nil || len(keys) != 1000 || next == "" {
		t.Fatalf("first page: %d keys, next %q, %v", len(keys), next, err)
	}
	more, next2, err := kv.List("item/", next)
	if err != nil || next2 != "" {
		t.Fatalf("second page: %d keys, next %q, %v", len(more), next2, err)
	}
	if got := append(keys, more...); !slices.Equal(got, want) {
		t.Errorf("listed %d keys, want %d in order", len(got), len(want))
	}
	if keys, next, err := kv.List("none/", ""); err != nil || len(keys) != 0 || next != "" {
		t.Errorf("empty listing: %q, %q, %v", keys, next, err)
	}
}

func TestKVCompareAndSwap(t *testing.T) {
	f := newFakeHost()
	kv := Namespace{binding: "STORE", h: f}
	for i, step := range []struct {
		old       string
		oldExists bool
		value     string
		want      bool
	}{
		{"", false, "1", true},
		{"", false, "1", false},
		{"2", true, "3", false},
		{"1", true, "2", true},
	} {
		ok, err := kv.CompareAndSwap("n", []byte(step.old), step.oldExists, []byte(step.value))
		if err != nil || ok != step.want {
			t.Fatalf("step %d: %v, %v; want %v", i, ok, err, step.want)
		}
	}
	if v, _ := kv.Get("n"); string(v) != "2" {
		t.Errorf("value %q, want 2", v)
	}
}

func increment(old []byte, exists bool) ([]byte, error) {
	n := 0
	if exists {
		var err error
		if n, err = strconv.Atoi(string(old)); err != nil {
			return nil, err
		}
	}
	return []byte(strconv.Itoa(n + 1)), nil
}

// TestKVUpdate: Update starts again when another write comes between
// its read and its compare-and-swap.
func TestKVUpdate(t *testing.T) {
	f := newFakeHost()
	kv := Namespace{binding: "STORE", h: f}
	races := 2
	f.kv.beforeCAS = func() {
		if races > 0 {
			races--
			v, _ := f.kv.memKV.live("STORE", "count")
			n, _ := strconv.Atoi(string(v.value))
			f.kv.set("STORE", "count", []byte(strconv.Itoa(n+10)), 0)
		}
	}
	v, err := kv.Update("count", increment)
	if err != nil || string(v) != "21" {
		t.Fatalf("Update = %q, %v; want 21 (two concurrent +10, then +1)", v, err)
	}
	if f.kv.ops != 6 {
		t.Errorf("%d operations, want 6 (three attempts)", f.kv.ops)
	}
	stop := errors.New("stop")
	if _, err := kv.Update("count", func([]byte, bool) ([]byte, error) { return nil, stop }); err != stop {
		t.Errorf("fn's error came back as %v", err)
	}
	f.kv.limit = f.kv.ops + 1
	if _, err := kv.Update("count", increment); !errors.Is(err, ErrKVOpLimit) {
		t.Errorf("Update past the op limit: %v", err)
	}
}

// TestKVOutsideHost: outside the Pier host every binding is in memory,
// and Update is exact under concurrency.
func TestKVOutsideHost(t *testing.T) {
	kv := KV("TEST_OUTSIDE")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if _, err := kv.Update("count", increment); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v, err := kv.Get("count"); err != nil || string(v) != "800" {
		t.Fatalf("count = %q, %v; want 800", v, err)
	}
}

func TestSecret(t *testing.T) {
	if v, ok := Secret("API_KEY"); ok || v != "" {
		t.Errorf("outside the host: %q, %v", v, ok)
	}
}
