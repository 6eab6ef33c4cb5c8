package worker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeKV is an in-memory KV with one binding, "STORE"; "DOWN" fails as
// a store that is down, any other binding is unbound. It records calls.
type fakeKV struct {
	fakeHost
	mu      sync.Mutex
	m       map[string][]byte
	ttls    map[string]time.Duration
	calls   []string
	getWait time.Duration // KVGet sleeps this long
}

func newFakeKV() *fakeKV {
	return &fakeKV{m: map[string][]byte{}, ttls: map[string]time.Duration{}}
}

func (f *fakeKV) check(op, binding string) error {
	f.calls = append(f.calls, op)
	switch binding {
	case "STORE":
		return nil
	case "DOWN":
		return errors.New("store down")
	}
	return ErrKVUnbound
}

func (f *fakeKV) KVGet(ctx context.Context, binding, key string) ([]byte, error) {
	if f.getWait > 0 {
		time.Sleep(f.getWait)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("get", binding); err != nil {
		return nil, err
	}
	v, ok := f.m[key]
	if !ok {
		return nil, ErrKVNotFound
	}
	return v, nil
}

func (f *fakeKV) KVPut(ctx context.Context, binding, key string, value []byte, ttl time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("put", binding); err != nil {
		return err
	}
	f.m[key], f.ttls[key] = value, ttl
	return nil
}

func (f *fakeKV) KVDelete(ctx context.Context, binding, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("delete", binding); err != nil {
		return err
	}
	delete(f.m, key)
	return nil
}

func (f *fakeKV) KVList(ctx context.Context, binding, prefix, cursor string, limit int) ([]string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("list", binding); err != nil {
		return nil, "", err
	}
	if cursor != "" && !strings.HasPrefix(cursor, "after:") {
		return nil, "", ErrKVInvalid
	}
	var keys []string
	for k := range f.m {
		if strings.HasPrefix(k, prefix) && k > strings.TrimPrefix(cursor, "after:") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) > limit {
		keys = keys[:limit]
		return keys, "after:" + keys[limit-1], nil
	}
	return keys, "", nil
}

func (f *fakeKV) KVCompareAndSwap(ctx context.Context, binding, key string, old []byte, oldExists bool, value []byte, ttl time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("cas", binding); err != nil {
		return err
	}
	cur, ok := f.m[key]
	if ok != oldExists || !bytes.Equal(cur, old) {
		return ErrKVConflict
	}
	f.m[key], f.ttls[key] = value, ttl
	return nil
}

func (f *fakeKV) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// peekingKV adds a KVPeeker that answers every get of "STORE" from the
// map.
type peekingKV struct{ *fakeKV }

func (p peekingKV) KVPeek(binding, key string) ([]byte, bool, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if binding != "STORE" {
		return nil, false, false
	}
	v, ok := p.m[key]
	return v, ok, true
}

// kvScript builds the request body of testdata/kv.wat.
type kvScript struct {
	b    []byte
	bufs []int // per command: its buffer limit, -1 for none
}

func (s *kvScript) field(v string) {
	s.b = binary.LittleEndian.AppendUint32(s.b, uint32(len(v)))
	s.b = append(s.b, v...)
}

func (s *kvScript) get(binding, key string, buf int) *kvScript {
	s.b = append(s.b, 'g')
	s.field(binding)
	s.field(key)
	s.b = binary.LittleEndian.AppendUint32(s.b, uint32(buf))
	s.bufs = append(s.bufs, buf)
	return s
}

func (s *kvScript) put(binding, key, value string, ttl int64) *kvScript {
	s.b = append(s.b, 'p')
	s.field(binding)
	s.field(key)
	s.field(value)
	s.b = binary.LittleEndian.AppendUint64(s.b, uint64(ttl))
	s.bufs = append(s.bufs, -1)
	return s
}

func (s *kvScript) del(binding, key string) *kvScript {
	s.b = append(s.b, 'd')
	s.field(binding)
	s.field(key)
	s.bufs = append(s.bufs, -1)
	return s
}

func (s *kvScript) list(binding, prefix, cursor string, limit, buf int) *kvScript {
	s.b = append(s.b, 'l')
	s.field(binding)
	s.field(prefix)
	s.field(cursor)
	s.b = binary.LittleEndian.AppendUint32(s.b, uint32(limit))
	s.b = binary.LittleEndian.AppendUint32(s.b, uint32(buf))
	s.bufs = append(s.bufs, buf)
	return s
}

// cas with old nil: only if absent.
func (s *kvScript) cas(binding, key string, old *string, value string, ttl int64) *kvScript {
	s.b = append(s.b, 'c')
	s.field(binding)
	s.field(key)
	if old == nil {
		s.b = binary.LittleEndian.AppendUint32(s.b, 0xFFFFFFFF)
	} else {
		s.field(*old)
	}
	s.field(value)
	s.b = binary.LittleEndian.AppendUint64(s.b, uint64(ttl))
	s.bufs = append(s.bufs, -1)
	return s
}

// kvOut is one command's answer: its result and what it wrote.
type kvOut struct {
	r    int32
	data string
}

func (s *kvScript) parse(t *testing.T, body []byte) []kvOut {
	t.Helper()
	var out []kvOut
	for i, buf := range s.bufs {
		if len(body) < 4 {
			t.Fatalf("answer ends before command %d: %q", i, body)
		}
		o := kvOut{r: int32(binary.LittleEndian.Uint32(body))}
		body = body[4:]
		if o.r >= 0 && int(o.r) <= buf {
			o.data, body = string(body[:o.r]), body[o.r:]
		}
		out = append(out, o)
	}
	if len(body) > 0 {
		t.Fatalf("%d bytes after the last answer", len(body))
	}
	return out
}

func str(s string) *string { return &s }

func TestKV(t *testing.T) {
	rt := newRuntime(t, Config{})
	long := strings.Repeat("k", 513)
	tests := []struct {
		name    string
		lim     Limits
		seed    map[string]string
		script  *kvScript
		want    []kvOut
		outcome string
		calls   []string // the KV's calls, when checked
		reads   int
		writes  int
		bytes   int64
	}{
		{
			name:   "put then get",
			script: new(kvScript).put("STORE", "a", "hello", 0).get("STORE", "a", 100),
			want:   []kvOut{{0, ""}, {5, "hello"}},
			writes: 1, reads: 1, bytes: 10,
		},
		{
			name:   "get of an absent key",
			script: new(kvScript).get("STORE", "nope", 100),
			want:   []kvOut{{-6, ""}},
			reads:  1,
		},
		{
			name:   "empty value",
			seed:   map[string]string{"e": ""},
			script: new(kvScript).get("STORE", "e", 0),
			want:   []kvOut{{0, ""}},
			reads:  1,
		},
		{
			name:   "repeat with a larger buffer is one op",
			lim:    Limits{KVOps: 1},
			seed:   map[string]string{"a": "0123456789"},
			script: new(kvScript).get("STORE", "a", 4).get("STORE", "a", 4).get("STORE", "a", 10).get("STORE", "a", 10),
			want:   []kvOut{{10, ""}, {10, ""}, {10, "0123456789"}, {-7, ""}},
			calls:  []string{"get"}, outcome: OutcomeExceededKVOps,
			reads: 1, bytes: 10,
		},
		{
			name:   "a call between ends the repeat",
			seed:   map[string]string{"a": "0123456789", "b": "x"},
			script: new(kvScript).get("STORE", "a", 4).get("STORE", "b", 4).get("STORE", "a", 10),
			want:   []kvOut{{10, ""}, {1, "x"}, {10, "0123456789"}},
			calls:  []string{"get", "get", "get"},
			reads:  3, bytes: 21,
		},
		{
			name:   "delete",
			seed:   map[string]string{"a": "1"},
			script: new(kvScript).del("STORE", "a").del("STORE", "a").get("STORE", "a", 10),
			want:   []kvOut{{0, ""}, {0, ""}, {-6, ""}},
			writes: 2, reads: 1,
		},
		{
			name: "list by prefix with a cursor",
			seed: map[string]string{"a1": "", "a2": "", "a3": "", "b": ""},
			script: new(kvScript).list("STORE", "a", "", 0, 100).
				list("STORE", "a", "", 2, 100).
				list("STORE", "a", "after:a2", 2, 100).
				list("STORE", "", "", 0, 100),
			want: []kvOut{
				{10, "a1\x00a2\x00a3\x00\x00"},
				{15, "a1\x00a2\x00after:a2\x00"},
				{4, "a3\x00\x00"},
				{12, "a1\x00a2\x00a3\x00b\x00\x00"},
			},
			reads: 4, bytes: 41,
		},
		{
			name:   "list repeat with a larger buffer is one op",
			seed:   map[string]string{"a1": "", "a2": ""},
			script: new(kvScript).list("STORE", "a", "", 0, 3).list("STORE", "a", "", 0, 7),
			want:   []kvOut{{7, ""}, {7, "a1\x00a2\x00\x00"}},
			calls:  []string{"list"},
			reads:  1, bytes: 7,
		},
		{
			name:   "list with a cursor the store did not issue",
			script: new(kvScript).list("STORE", "", "bogus", 0, 100),
			want:   []kvOut{{-8, ""}},
			reads:  1,
		},
		{
			name: "compare and swap",
			script: new(kvScript).cas("STORE", "n", nil, "1", 0).
				cas("STORE", "n", nil, "1", 0).
				cas("STORE", "n", str("1"), "2", 0).
				cas("STORE", "n", str("1"), "3", 0).
				get("STORE", "n", 10),
			want:   []kvOut{{0, ""}, {-12, ""}, {0, ""}, {-12, ""}, {1, "2"}},
			writes: 4, reads: 1, bytes: 5,
		},
		{
			name: "invalid arguments",
			script: new(kvScript).get("STORE", "", 10).
				get("STORE", long, 10).
				get("STORE", "a\x00b", 10).
				get("STORE", "\xff", 10).
				put("STORE", "a", "v", -1).
				cas("STORE", "a", nil, "v", -5).
				list("STORE", "", "", 1001, 10).
				list("STORE", long, "", 0, 10).
				get("", "a", 10).
				del("STORE", ""),
			want:  []kvOut{{-8, ""}, {-8, ""}, {-8, ""}, {-8, ""}, {-8, ""}, {-8, ""}, {-8, ""}, {-8, ""}, {-8, ""}, {-8, ""}},
			calls: []string{},
		},
		{
			name:   "a 512-byte key is valid",
			script: new(kvScript).put("STORE", long[:512], "v", 0),
			want:   []kvOut{{0, ""}},
			writes: 1, bytes: 1,
		},
		{
			name:   "value too large",
			lim:    Limits{KVValueBytes: 4},
			script: new(kvScript).put("STORE", "a", "12345", 0).cas("STORE", "a", nil, "12345", 0).put("STORE", "a", "1234", 0),
			want:   []kvOut{{-9, ""}, {-9, ""}, {0, ""}},
			calls:  []string{"put"},
			writes: 1, bytes: 4,
		},
		{
			name:   "unbound",
			script: new(kvScript).get("OTHER", "a", 10).put("OTHER", "a", "v", 0).del("OTHER", "a").list("OTHER", "", "", 0, 10).cas("OTHER", "a", nil, "v", 0),
			want:   []kvOut{{-10, ""}, {-10, ""}, {-10, ""}, {-10, ""}, {-10, ""}},
			reads:  2, writes: 3, bytes: 2,
		},
		{
			name:   "unavailable",
			script: new(kvScript).get("DOWN", "a", 10).put("DOWN", "a", "v", 0).del("DOWN", "a").list("DOWN", "", "", 0, 10).cas("DOWN", "a", nil, "v", 0),
			want:   []kvOut{{-11, ""}, {-11, ""}, {-11, ""}, {-11, ""}, {-11, ""}},
			reads:  2, writes: 3, bytes: 2,
		},
		{
			name:    "op limit",
			lim:     Limits{KVOps: 2},
			script:  new(kvScript).put("STORE", "a", "v", 0).get("STORE", "a", 10).get("STORE", "a", 10).del("STORE", "a").list("STORE", "", "", 0, 10).cas("STORE", "a", nil, "v", 0),
			want:    []kvOut{{0, ""}, {1, "v"}, {-7, ""}, {-7, ""}, {-7, ""}, {-7, ""}},
			outcome: OutcomeExceededKVOps,
			calls:   []string{"put", "get"},
			reads:   1, writes: 1, bytes: 2,
		},
		{
			name:    "no ops allowed",
			lim:     Limits{KVOps: -1},
			script:  new(kvScript).get("STORE", "a", 10),
			want:    []kvOut{{-7, ""}},
			outcome: OutcomeExceededKVOps,
			calls:   []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := rt.NewWorker(context.Background(), guest(t, "kv"), nil, tt.lim)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close(context.Background())
			kv := newFakeKV()
			for k, v := range tt.seed {
				kv.m[k] = []byte(v)
			}
			rec := httptest.NewRecorder()
			res := w.Serve(rec, httptest.NewRequest("POST", "/", bytes.NewReader(tt.script.b)), kv, noNext(t))
			want := tt.outcome
			if want == "" {
				want = OutcomeOK
			}
			if res.Outcome != want || res.Code != "" {
				t.Fatalf("outcome %q %q (%v), want %q", res.Outcome, res.Code, res.Err, want)
			}
			if got := tt.script.parse(t, rec.Body.Bytes()); !slices.Equal(got, tt.want) {
				t.Errorf("answers %v, want %v", got, tt.want)
			}
			if tt.calls != nil {
				if got := kv.called(); !slices.Equal(got, tt.calls) && !(len(got) == 0 && len(tt.calls) == 0) {
					t.Errorf("KV calls %q, want %q", got, tt.calls)
				}
			}
			if res.KVReads != tt.reads || res.KVWrites != tt.writes || res.KVBytes != tt.bytes {
				t.Errorf("KVReads, KVWrites, KVBytes = %d, %d, %d; want %d, %d, %d", res.KVReads, res.KVWrites, res.KVBytes, tt.reads, tt.writes, tt.bytes)
			}
		})
	}
}

func TestKVTTL(t *testing.T) {
	rt := newRuntime(t, Config{})
	w := newWorker(t, rt, "kv", nil, Limits{})
	kv := newFakeKV()
	s := new(kvScript).put("STORE", "a", "v", 90).cas("STORE", "b", nil, "v", 3).put("STORE", "c", "v", 0)
	rec := httptest.NewRecorder()
	res := w.Serve(rec, httptest.NewRequest("POST", "/", bytes.NewReader(s.b)), kv, noNext(t))
	if res.Outcome != OutcomeOK {
		t.Fatalf("outcome %q (%v)", res.Outcome, res.Err)
	}
	want := map[string]time.Duration{"a": 90 * time.Second, "b": 3 * time.Second, "c": 0}
	for k, d := range want {
		if kv.ttls[k] != d {
			t.Errorf("ttl of %q = %v, want %v", k, kv.ttls[k], d)
		}
	}
}

// TestKVHostWithoutKV: a Host that is not a KV leaves every binding
// unbound.
func TestKVHostWithoutKV(t *testing.T) {
	rt := newRuntime(t, Config{})
	w := newWorker(t, rt, "kv", nil, Limits{})
	s := new(kvScript).get("STORE", "a", 10).put("STORE", "a", "v", 0)
	rec := httptest.NewRecorder()
	res := w.Serve(rec, httptest.NewRequest("POST", "/", bytes.NewReader(s.b)), &fakeHost{}, noNext(t))
	if got, want := s.parse(t, rec.Body.Bytes()), []kvOut{{-10, ""}, {-10, ""}}; res.Outcome != OutcomeOK || !slices.Equal(got, want) {
		t.Fatalf("outcome %q, answers %q, want %q", res.Outcome, got, want)
	}
}

// TestKVPeek: a KVPeeker answers gets without KVGet.
func TestKVPeek(t *testing.T) {
	rt := newRuntime(t, Config{})
	w := newWorker(t, rt, "kv", nil, Limits{})
	kv := newFakeKV()
	kv.m["a"] = []byte("hot")
	s := new(kvScript).get("STORE", "a", 10).get("STORE", "b", 10).get("OTHER", "a", 10)
	rec := httptest.NewRecorder()
	res := w.Serve(rec, httptest.NewRequest("POST", "/", bytes.NewReader(s.b)), peekingKV{kv}, noNext(t))
	if got, want := s.parse(t, rec.Body.Bytes()), []kvOut{{3, "hot"}, {-6, ""}, {-10, ""}}; res.Outcome != OutcomeOK || !slices.Equal(got, want) {
		t.Fatalf("outcome %q, answers %q, want %q", res.Outcome, got, want)
	}
	if got := kv.called(); !slices.Equal(got, []string{"get"}) { // OTHER only
		t.Errorf("KV calls %q, want one get", got)
	}
	if res.KVReads != 3 {
		t.Errorf("KVReads = %d, want 3", res.KVReads)
	}
}

// TestKVPausesCPU: time waiting on the store is not guest CPU.
func TestKVPausesCPU(t *testing.T) {
	rt := newRuntime(t, Config{})
	w := newWorker(t, rt, "kv", nil, Limits{CPU: 5 * time.Millisecond})
	kv := newFakeKV()
	kv.m["a"] = []byte("v")
	kv.getWait = 50 * time.Millisecond // ten times the budget
	s := new(kvScript).get("STORE", "a", 10)
	rec := httptest.NewRecorder()
	res := w.Serve(rec, httptest.NewRequest("POST", "/", bytes.NewReader(s.b)), kv, noNext(t))
	if res.Outcome != OutcomeOK {
		t.Fatalf("outcome %q (%v)", res.Outcome, res.Err)
	}
	if res.CPU >= 50*time.Millisecond {
		t.Errorf("CPU = %v includes the KV wait", res.CPU)
	}
}

// BenchmarkKVGet measures a kv_get of a hot key inside the guest: each
// request runs 1,000 gets (the default op limit) and the benchmark
// reports the time per get, the request's own cost spread over them.
// "peek" is a KV that answers from memory (hosting's node cache); "wait"
// is one whose KVGet the guest waits for (a miss: the CPU meter pauses).
func BenchmarkKVGet(b *testing.B) {
	for _, bc := range []struct {
		name string
		kv   func(*fakeKV) Host
	}{
		{"peek", func(f *fakeKV) Host { return peekingKV{f} }},
		{"wait", func(f *fakeKV) Host { return f }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rt := newRuntime(b, Config{})
			w := newWorker(b, rt, "kv", nil, Limits{})
			kv := newFakeKV()
			kv.m["hot"] = []byte("a value of some thirty-two bytes")
			s := new(kvScript)
			for range 1000 {
				s.get("STORE", "hot", 64)
			}
			host := bc.kv(kv)
			b.ResetTimer()
			for range b.N {
				kv.calls = kv.calls[:0]
				rec := httptest.NewRecorder()
				res := w.Serve(rec, httptest.NewRequest("POST", "/", bytes.NewReader(s.b)), host, nil)
				if res.Outcome != OutcomeOK || res.KVReads != 1000 {
					b.Fatalf("outcome %q, %d reads", res.Outcome, res.KVReads)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/get")
		})
	}
}

// TestKVTTLBounds: a guest's ttl_seconds is 0 (never) to 100 years, as
// through the API; beyond, and negative, it is kv_invalid.
func TestKVTTLBounds(t *testing.T) {
	for _, tc := range []struct {
		s  int64
		ok bool
	}{{0, true}, {1, true}, {3_153_600_000, true}, {3_153_600_001, false}, {4e12, false}, {-1, false}} {
		d, ok := kvTTL(uint64(tc.s))
		if ok != tc.ok || ok && d != time.Duration(tc.s)*time.Second {
			t.Errorf("kvTTL(%d) = %v, %v; want ok %v", tc.s, d, ok, tc.ok)
		}
	}
}
