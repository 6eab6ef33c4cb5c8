package hosting

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/hosting/worker"
	"github.com/pierhq/pier/internal/logstream"
	"github.com/pierhq/pier/tenants"
)

// fakeKVStore is an in-memory tenants.KVStore whose clock decides expiry.
// It counts reads of values, so tests can tell cache hits from misses.
type fakeKVStore struct {
	now func() time.Time

	mu      sync.Mutex
	ns      map[string]tenants.KVNamespace
	entries map[string]map[string]tenants.KVEntry
	gets    int
	lookups int
	fail    error // every KV call fails with it
}

func newFakeKVStore(now func() time.Time) *fakeKVStore {
	return &fakeKVStore{now: now, ns: map[string]tenants.KVNamespace{}, entries: map[string]map[string]tenants.KVEntry{}}
}

func (s *fakeKVStore) addNamespace(id, tenantID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ns[id] = tenants.KVNamespace{ID: id, TenantID: tenantID, Name: name}
	s.entries[id] = map[string]tenants.KVEntry{}
}

func (s *fakeKVStore) CreateKVNamespace(ctx context.Context, ns tenants.KVNamespace) error {
	s.addNamespace(ns.ID, ns.TenantID, ns.Name)
	return nil
}

func (s *fakeKVStore) KVNamespace(ctx context.Context, tenantID, ref string) (tenants.KVNamespace, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.ns {
		if n.TenantID == tenantID && (n.ID == ref || n.Name == ref) {
			return n, nil
		}
	}
	return tenants.KVNamespace{}, tenants.ErrNotFound
}

func (s *fakeKVStore) KVNamespaceByID(ctx context.Context, id string) (tenants.KVNamespace, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookups++
	n, ok := s.ns[id]
	if !ok {
		return n, fmt.Errorf("namespace %s: %w", id, tenants.ErrNotFound)
	}
	return n, nil
}

func (s *fakeKVStore) KVNamespaces(ctx context.Context, tenantID string) ([]tenants.KVNamespace, error) {
	return nil, errors.New("not implemented")
}

func (s *fakeKVStore) DeleteKVNamespace(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ns, id)
	delete(s.entries, id)
	return nil
}

// live returns the namespace's unexpired entry (locked).
func (s *fakeKVStore) live(ns, key string) (tenants.KVEntry, bool, error) {
	m, ok := s.entries[ns]
	if !ok {
		return tenants.KVEntry{}, false, tenants.ErrNotFound
	}
	e, ok := m[key]
	if ok && !e.Expires.IsZero() && !s.now().Before(e.Expires) {
		return tenants.KVEntry{}, false, nil
	}
	return e, ok, nil
}

func (s *fakeKVStore) KVGet(ctx context.Context, ns, key string) (tenants.KVEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	if s.fail != nil {
		return tenants.KVEntry{}, s.fail
	}
	e, ok, err := s.live(ns, key)
	if err != nil {
		return e, err
	}
	if !ok {
		return e, fmt.Errorf("key %q: %w", key, tenants.ErrNotFound)
	}
	e.Value = bytes.Clone(e.Value)
	return e, nil
}

func (s *fakeKVStore) KVPut(ctx context.Context, ns string, e tenants.KVEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	m, ok := s.entries[ns]
	if !ok {
		return tenants.ErrNotFound
	}
	e.Value = bytes.Clone(e.Value)
	m[e.Key] = e
	return nil
}

func (s *fakeKVStore) KVPutMany(ctx context.Context, ns string, es []tenants.KVEntry) error {
	for _, e := range es {
		if err := s.KVPut(ctx, ns, e); err != nil {
			return err
		}
	}
	return nil
}

func (s *fakeKVStore) KVCompareAndSwap(ctx context.Context, ns string, old []byte, oldExists bool, e tenants.KVEntry) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return false, s.fail
	}
	cur, ok, err := s.live(ns, e.Key)
	if err != nil {
		return false, err
	}
	if ok != oldExists || (ok && !bytes.Equal(cur.Value, old)) {
		return false, nil
	}
	e.Value = bytes.Clone(e.Value)
	s.entries[ns][e.Key] = e
	return true, nil
}

func (s *fakeKVStore) KVDelete(ctx context.Context, ns, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	m, ok := s.entries[ns]
	if !ok {
		return tenants.ErrNotFound
	}
	delete(m, key)
	return nil
}

func (s *fakeKVStore) KVList(ctx context.Context, ns, prefix string, p tenants.PageRequest) ([]tenants.KVKey, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, "", s.fail
	}
	m, ok := s.entries[ns]
	if !ok {
		return nil, "", tenants.ErrNotFound
	}
	var keys []tenants.KVKey
	for k := range m {
		if _, live, _ := s.live(ns, k); live && strings.HasPrefix(k, prefix) && k > p.Cursor {
			keys = append(keys, tenants.KVKey{Key: k})
		}
	}
	slices.SortFunc(keys, func(a, b tenants.KVKey) int { return strings.Compare(a.Key, b.Key) })
	if len(keys) > p.Size() {
		keys = keys[:p.Size()]
		return keys, keys[len(keys)-1].Key, nil
	}
	return keys, "", nil
}

func (s *fakeKVStore) SweepExpiredKV(ctx context.Context, now time.Time, limit int) (int, error) {
	return 0, nil
}

// set writes key as another node would: the store only.
func (s *fakeKVStore) set(ns, key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[ns][key] = tenants.KVEntry{Key: key, Value: []byte(value)}
}

func (s *fakeKVStore) reads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets
}

var _ tenants.KVStore = (*fakeKVStore)(nil)

// kvScript builds the request body of testdata/workers/kv.wat (the same
// guest as hosting/worker's): per command an op byte, length-prefixed
// fields and numbers; the answer is each command's i32 result, then the
// value of a get or list that fit its buffer.
type kvScript struct {
	b    []byte
	bufs []int
}

func (s *kvScript) field(v string) {
	s.b = binary.LittleEndian.AppendUint32(s.b, uint32(len(v)))
	s.b = append(s.b, v...)
}

func (s *kvScript) get(binding, key string) *kvScript {
	s.b = append(s.b, 'g')
	s.field(binding)
	s.field(key)
	s.b = binary.LittleEndian.AppendUint32(s.b, 1024)
	s.bufs = append(s.bufs, 1024)
	return s
}

// BenchmarkWorkerKVGet measures kv_get of a hot key inside the guest
// through the edge's real Host and cache: each request runs 1,000 gets
// (the default op limit), and the time per get includes the request's
// own cost spread over them.
func BenchmarkWorkerKVGet(b *testing.B) {
	e := newKVEnv(b, Config{})
	e.store.set("ns1", "hot", "a value of some thirty-two bytes")
	s := new(kvScript)
	for range 1000 {
		s.get("STORE", "hot")
	}
	if got := e.run(s); got[999] != "32:a value of some thirty-two bytes" {
		b.Fatalf("answers %q", got[999])
	}
	reads := e.store.reads()
	b.ResetTimer()
	for range b.N {
		rec := e.doBody("POST", "/", "app.pier.test", string(s.b))
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/get")
	if n := e.store.reads(); n != reads {
		b.Errorf("%d reads reached the store", n-reads)
	}
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

func (s *kvScript) list(binding, prefix string) *kvScript {
	s.b = append(s.b, 'l')
	s.field(binding)
	s.field(prefix)
	s.field("")
	s.b = binary.LittleEndian.AppendUint32(s.b, 0)
	s.b = binary.LittleEndian.AppendUint32(s.b, 1024)
	s.bufs = append(s.bufs, 1024)
	return s
}

func (s *kvScript) cas(binding, key string, old *string, value string) *kvScript {
	s.b = append(s.b, 'c')
	s.field(binding)
	s.field(key)
	if old == nil {
		s.b = binary.LittleEndian.AppendUint32(s.b, 0xFFFFFFFF)
	} else {
		s.field(*old)
	}
	s.field(value)
	s.b = binary.LittleEndian.AppendUint64(s.b, 0)
	s.bufs = append(s.bufs, -1)
	return s
}

// answers formats the guest's answer: "5:hello" for a value, "-6" for
// an error, "0" for a write.
func (s *kvScript) answers(t testing.TB, body []byte) []string {
	t.Helper()
	var out []string
	for i, buf := range s.bufs {
		if len(body) < 4 {
			t.Fatalf("answer ends before command %d: %q", i, body)
		}
		r := int32(binary.LittleEndian.Uint32(body))
		body = body[4:]
		if r >= 0 && int(r) <= buf {
			out = append(out, fmt.Sprintf("%d:%s", r, body[:r]))
			body = body[r:]
			continue
		}
		out = append(out, fmt.Sprint(r))
	}
	return out
}

// kvEnv is a worker env whose site "app" runs testdata/workers/kv.wasm
// with bindings STORE (namespace ns1 of the tenant), OTHER (ns2, another
// tenant's) and GONE (a namespace that does not exist).
type kvEnv struct {
	*env
	store *fakeKVStore
}

func newKVEnv(t testing.TB, cfg Config) *kvEnv {
	t.Helper()
	clock := newFakeClock()
	cfg.Now = clock.Now
	store := newFakeKVStore(clock.Now)
	if cfg.KV == nil {
		cfg.KV = store
	}
	e := newWorkerEnv(t, cfg)
	e.clock = clock
	store.addNamespace("ns1", testTenant, "data")
	store.addNamespace("ns2", "another-tenant", "theirs")
	e.workerSite("app", "d1", "kv", nil, tenants.DeploymentConfig{KV: []tenants.KVBinding{
		{Binding: "STORE", Namespace: "data", NamespaceID: "ns1"},
		{Binding: "OTHER", Namespace: "theirs", NamespaceID: "ns2"},
		{Binding: "GONE", Namespace: "gone", NamespaceID: "ns9"},
	}})
	return &kvEnv{env: e, store: store}
}

func (e *kvEnv) run(s *kvScript) []string {
	e.t.Helper()
	rec := e.doBody("POST", "/", "app.pier.test", string(s.b))
	if rec.Code != 200 {
		e.t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	return s.answers(e.t, rec.Body.Bytes())
}

func str(s string) *string { return &s }

func TestWorkerKV(t *testing.T) {
	e := newKVEnv(t, Config{})
	got := e.run(new(kvScript).put("STORE", "a", "one", 0).get("STORE", "a").get("STORE", "nope").list("STORE", ""))
	if want := []string{"0", "3:one", "-6", "3:a\x00\x00"}; !slices.Equal(got, want) {
		t.Fatalf("answers %q, want %q", got, want)
	}
	if n := e.store.reads(); n != 1 {
		t.Errorf("the store was read %d times, want 1 (the absent key; the written one is cached)", n)
	}
	// The next request's reads come from the cache, the absent key's too.
	if got, want := e.run(new(kvScript).get("STORE", "a").get("STORE", "nope")), []string{"3:one", "-6"}; !slices.Equal(got, want) {
		t.Fatalf("answers %q, want %q", got, want)
	}
	if n := e.store.reads(); n != 1 {
		t.Errorf("the store was read %d times, want 1", n)
	}
	// Compare-and-swap goes to the store and updates the cache.
	got = e.run(new(kvScript).cas("STORE", "a", str("two"), "x").cas("STORE", "a", str("one"), "two").get("STORE", "a").cas("STORE", "new", nil, "1").get("STORE", "new"))
	if want := []string{"-12", "0", "3:two", "0", "1:1"}; !slices.Equal(got, want) {
		t.Fatalf("answers %q, want %q", got, want)
	}
	got = e.run(new(kvScript).del("STORE", "a").get("STORE", "a"))
	if want := []string{"0", "-6"}; !slices.Equal(got, want) {
		t.Fatalf("answers %q, want %q", got, want)
	}
	u := e.edge.Usage("app")
	if u.KVReads != 8 || u.KVWrites != 5 || u.KVBytes != 21 {
		t.Errorf("usage: KV reads %d, writes %d, bytes %d", u.KVReads, u.KVWrites, u.KVBytes)
	}
	// Every write attempt's latency is in /metrics, the refused swap's too.
	var metrics strings.Builder
	if err := e.edge.WriteMetrics(&metrics); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(metrics.String(), "\npier_kv_write_seconds_count 5\n") {
		t.Errorf("/metrics has no pier_kv_write_seconds_count 5:\n%s", metrics.String())
	}
}

// TestWorkerKVIsolation: a binding to another tenant's namespace, to a
// deleted one or to none answers kv_unbound, without touching the
// namespace.
func TestWorkerKVIsolation(t *testing.T) {
	e := newKVEnv(t, Config{})
	e.store.set("ns2", "secret", "theirs")
	for _, b := range []string{"OTHER", "GONE", "NONE"} {
		got := e.run(new(kvScript).get(b, "secret").put(b, "secret", "mine", 0).del(b, "secret").list(b, "").cas(b, "secret", nil, "x"))
		if want := []string{"-10", "-10", "-10", "-10", "-10"}; !slices.Equal(got, want) {
			t.Errorf("%s: answers %q, want %q", b, got, want)
		}
	}
	if n := e.store.reads(); n != 0 {
		t.Errorf("the store was read %d times", n)
	}
	if v := e.store.entries["ns2"]["secret"]; string(v.Value) != "theirs" {
		t.Errorf("another tenant's key is now %q", v.Value)
	}
	e.store.mu.Lock()
	lookups := e.store.lookups
	e.store.mu.Unlock()
	e.run(new(kvScript).get("OTHER", "secret").get("GONE", "secret"))
	e.store.mu.Lock()
	defer e.store.mu.Unlock()
	if e.store.lookups != lookups {
		t.Errorf("namespaces looked up again: %d, then %d", lookups, e.store.lookups)
	}
}

func TestWorkerKVWithoutStore(t *testing.T) {
	e := newWorkerEnv(t, Config{})
	e.workerSite("app", "d1", "kv", nil, tenants.DeploymentConfig{KV: []tenants.KVBinding{{Binding: "STORE", Namespace: "data", NamespaceID: "ns1"}}})
	s := new(kvScript).get("STORE", "a").put("STORE", "a", "v", 0)
	rec := e.doBody("POST", "/", "app.pier.test", string(s.b))
	if got, want := s.answers(t, rec.Body.Bytes()), []string{"-10", "-10"}; !slices.Equal(got, want) {
		t.Fatalf("answers %q, want %q", got, want)
	}
}

// TestWorkerKVChanges: other nodes' writes reach the cache through
// KVChanged; a deleted namespace unbinds; Resync drops everything.
func TestWorkerKVChanges(t *testing.T) {
	e := newKVEnv(t, Config{})
	e.store.set("ns1", "k", "v1")
	if got := e.run(new(kvScript).get("STORE", "k")); got[0] != "2:v1" {
		t.Fatalf("got %q", got)
	}
	e.store.set("ns1", "k", "v2") // another node's write
	if got := e.run(new(kvScript).get("STORE", "k")); got[0] != "2:v1" {
		t.Fatalf("before the change arrives: got %q, want the cached v1", got)
	}
	e.edge.KVChanged("ns1", "k")
	if got := e.run(new(kvScript).get("STORE", "k")); got[0] != "2:v2" {
		t.Fatalf("after KVChanged: got %q", got)
	}
	e.store.set("ns1", "k", "v3")
	e.edge.Resync()
	if got := e.run(new(kvScript).get("STORE", "k")); got[0] != "2:v3" {
		t.Fatalf("after Resync: got %q", got)
	}
	if err := e.store.DeleteKVNamespace(context.Background(), "ns1"); err != nil {
		t.Fatal(err)
	}
	e.edge.KVChanged("ns1", "")
	if got := e.run(new(kvScript).get("STORE", "k").put("STORE", "k", "v", 0)); !slices.Equal(got, []string{"-10", "-10"}) {
		t.Fatalf("after the namespace's deletion: got %q", got)
	}
}

// TestWorkerKVTTL: a key stops being visible at its TTL, cached or not.
func TestWorkerKVTTL(t *testing.T) {
	e := newKVEnv(t, Config{})
	if got := e.run(new(kvScript).put("STORE", "t", "temp", 60).get("STORE", "t")); got[1] != "4:temp" {
		t.Fatalf("got %q", got)
	}
	e.clock.Advance(59 * time.Second)
	if got := e.run(new(kvScript).get("STORE", "t")); got[0] != "4:temp" {
		t.Fatalf("before the TTL: got %q", got)
	}
	e.clock.Advance(time.Second)
	if got := e.run(new(kvScript).get("STORE", "t")); got[0] != "-6" {
		t.Fatalf("at the TTL: got %q", got)
	}
}

func TestWorkerKVWriteAllowed(t *testing.T) {
	var seen atomic.Pointer[KVWrite]
	e := newKVEnv(t, Config{KVWriteAllowed: func(ctx context.Context, w KVWrite) error {
		seen.Store(&w)
		switch w.Key {
		case "big":
			return fmt.Errorf("over the storage quota: %w", worker.ErrKVValueTooLarge)
		case "down":
			return errors.New("quota store down")
		}
		return nil
	}})
	got := e.run(new(kvScript).put("STORE", "big", "v", 0).cas("STORE", "big", nil, "v").put("STORE", "down", "v", 0).put("STORE", "ok", "value", 0))
	if want := []string{"-9", "-9", "-11", "0"}; !slices.Equal(got, want) {
		t.Fatalf("answers %q, want %q", got, want)
	}
	if w := *seen.Load(); w != (KVWrite{TenantID: testTenant, Site: "app", NamespaceID: "ns1", Key: "ok", Bytes: 7}) {
		t.Errorf("KVWriteAllowed saw %+v", w)
	}
}

func TestWorkerKVStoreDown(t *testing.T) {
	e := newKVEnv(t, Config{KVCacheBytes: -1})
	e.store.set("ns1", "k", "v")
	e.run(new(kvScript).get("STORE", "k")) // the namespace's owner is known
	e.store.mu.Lock()
	e.store.fail = errors.New("connection refused")
	e.store.mu.Unlock()
	got := e.run(new(kvScript).get("STORE", "k").put("STORE", "k", "v", 0).del("STORE", "k").list("STORE", "").cas("STORE", "k", nil, "v"))
	if want := []string{"-11", "-11", "-11", "-11", "-11"}; !slices.Equal(got, want) {
		t.Fatalf("answers %q, want %q", got, want)
	}
}

// TestKVBindingsInDigest: two deployments differing only in their KV
// bindings are not shared.
func TestKVBindingsInDigest(t *testing.T) {
	d := &tenants.Deployment{Worker: "w"}
	plain := digestDeployment(testTenant, d)
	d.Config.KV = []tenants.KVBinding{{Binding: "STORE", NamespaceID: "ns1"}}
	one := digestDeployment(testTenant, d)
	d.Config.KV[0].NamespaceID = "ns2"
	two := digestDeployment(testTenant, d)
	if plain == one || one == two {
		t.Error("KV bindings do not change the deployment's digest")
	}
}

// TestWorkerKVInvocationEvent: the invocation event counts the request's
// KV operations and bytes; an op-limit refusal is its outcome.
func TestWorkerKVInvocationEvent(t *testing.T) {
	hub := logstream.New(64)
	e := newKVEnv(t, Config{Logs: hub})
	sub := hub.Subscribe("app")
	defer sub.Close()
	e.run(new(kvScript).put("STORE", "k", "value", 0).get("STORE", "k").get("STORE", "none"))
	ev, _, ok := sub.Next()
	if !ok || ev.Kind != logstream.KindInvocation || ev.KVReads != 2 || ev.KVWrites != 1 || ev.KVBytes != 10 || ev.Outcome != worker.OutcomeOK {
		t.Fatalf("event %+v", ev)
	}
}

// TestLatencyHistogram: observations land in the first bucket whose bound
// is not below them, buckets are written cumulative, and the sum and
// count follow.
func TestLatencyHistogram(t *testing.T) {
	var h latencyHistogram
	for _, d := range []time.Duration{50 * time.Microsecond, time.Millisecond, 3 * time.Millisecond, 2 * time.Second} {
		h.observe(d)
	}
	got := string(h.appendTo(nil, "x"))
	for _, want := range []string{
		`x_bucket{le="0.0001"} 1` + "\n",
		`x_bucket{le="0.0005"} 1` + "\n",
		`x_bucket{le="0.001"} 2` + "\n",
		`x_bucket{le="0.0025"} 2` + "\n",
		`x_bucket{le="0.005"} 3` + "\n",
		`x_bucket{le="1"} 3` + "\n",
		`x_bucket{le="+Inf"} 4` + "\n",
		"x_sum 2.00405\n",
		"x_count 4\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}
