package hosting

import (
	"bufio"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/hosting/worker"
)

// Usage is a snapshot of one site's counters since the process started.
type Usage struct {
	// Requests counts answered requests by status class: "1xx" … "5xx".
	Requests map[string]int64
	// BytesOut counts response body bytes written.
	BytesOut int64
	// Invocations counts worker invocations; ByOutcome splits them by
	// outcome (worker.OutcomeOK, worker.OutcomeExceededCPU, …).
	Invocations int64
	ByOutcome   map[string]int64
	// Violations counts invocations that broke a limit or failed, by
	// outcome: every outcome of ByOutcome but ok.
	Violations map[string]int64
	// CPU is the guest execution time of all invocations.
	CPU time.Duration
	// SubRequests counts the workers' fetch calls, refused ones included.
	SubRequests int64
	// KVReads and KVWrites count the workers' KV operations (gets and
	// listings; puts, deletes and compare-and-swaps), KVBytes the bytes
	// they read and wrote (worker.Result).
	KVReads, KVWrites, KVBytes int64
	// RateLimited counts requests answered 429 rate_limited (they are in
	// Requests["4xx"] too).
	RateLimited int64
}

// outcomes are the invocation outcomes counted, in exposition order.
var outcomes = [...]string{
	worker.OutcomeOK,
	worker.OutcomeException,
	worker.OutcomeExceededCPU,
	worker.OutcomeExceededSubrequests,
	worker.OutcomeExceededMemory,
	worker.OutcomeResponseTooLarge,
	worker.OutcomeRequestTooLarge,
	worker.OutcomeCanceled,
	worker.OutcomeExceededKVOps,
	"other", // an outcome this edge does not know (a newer runtime)
}

func outcomeIndex(o string) int {
	for i, s := range outcomes[:len(outcomes)-1] {
		if s == o {
			return i
		}
	}
	return len(outcomes) - 1
}

var classNames = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// siteUsage holds one site's counters. Every field is updated with atomic
// adds only, so the static hot path takes no lock and allocates nothing.
//
// The request counters and the rate limiter's state come first and fill
// one cache line: a static request touches one line of counters (and its
// rate check the same line; ratelimit.go). They are not
// striped per core: with many sites, stripes cost more in memory and
// cache misses than they save in contention on one hot site (measured
// with BenchmarkEdgeManySites and BenchmarkEdgeParallel).
type siteUsage struct {
	requests [len(classNames)]atomic.Int64
	bytesOut atomic.Int64
	// rateTAT is the site's rate limiter (ratelimit.go): the theoretical
	// arrival time of its next request, in ns since Edge.epoch.
	rateTAT atomic.Int64
	// rateLimited counts requests answered 429 rate_limited.
	rateLimited atomic.Int64
	site        string
	outcomes    [len(outcomes)]atomic.Int64
	cpuNanos    atomic.Int64
	subrequests atomic.Int64
	// ident is the site's ID and tenant, set when a route to the site is
	// loaded (off the hot path); the UsageFlusher reads it.
	ident atomic.Pointer[usageIdent]
	// kv counts the site's KV use, allocated by its first invocation that
	// used KV (a site without KV pays one pointer).
	kv atomic.Pointer[kvUsage]
	// 192 bytes, a size class whose objects start on 64-byte boundaries,
	// so the request counters never straddle two lines (the size tests
	// check it: pad again when a field goes).
}

// kvUsage is a site's KV counters.
type kvUsage struct {
	reads, writes, bytes atomic.Int64
}

// kvCounts returns the site's KV counters, creating them.
func (u *siteUsage) kvCounts() *kvUsage {
	if k := u.kv.Load(); k != nil {
		return k
	}
	u.kv.CompareAndSwap(nil, new(kvUsage))
	return u.kv.Load()
}

// usageIdent is the store identity of the site a siteUsage counts.
type usageIdent struct{ siteID, tenantID string }

// record counts one answered request.
func (u *siteUsage) record(status int, bytes int64) {
	if c := status/100 - 1; c >= 0 && c < len(u.requests) {
		u.requests[c].Add(1)
	}
	if bytes > 0 {
		u.bytesOut.Add(bytes)
	}
}

// invocation counts one worker invocation.
func (u *siteUsage) invocation(res *worker.Result) {
	u.outcomes[outcomeIndex(res.Outcome)].Add(1)
	if res.CPU > 0 {
		u.cpuNanos.Add(int64(res.CPU))
	}
	if res.SubRequests > 0 {
		u.subrequests.Add(int64(res.SubRequests))
	}
	if res.KVReads > 0 || res.KVWrites > 0 || res.KVBytes > 0 {
		k := u.kvCounts()
		k.reads.Add(int64(res.KVReads))
		k.writes.Add(int64(res.KVWrites))
		k.bytes.Add(res.KVBytes)
	}
}

func (u *siteUsage) snapshot() Usage {
	s := Usage{
		Requests:    make(map[string]int64, len(classNames)),
		ByOutcome:   map[string]int64{},
		Violations:  map[string]int64{},
		BytesOut:    u.bytesOut.Load(),
		CPU:         time.Duration(u.cpuNanos.Load()),
		SubRequests: u.subrequests.Load(),
		RateLimited: u.rateLimited.Load(),
	}
	if k := u.kv.Load(); k != nil {
		s.KVReads, s.KVWrites, s.KVBytes = k.reads.Load(), k.writes.Load(), k.bytes.Load()
	}
	for i, c := range classNames {
		s.Requests[c] = u.requests[i].Load()
	}
	for i, o := range outcomes {
		n := u.outcomes[i].Load()
		if n == 0 {
			continue
		}
		s.Invocations += n
		s.ByOutcome[o] = n
		if o != worker.OutcomeOK {
			s.Violations[o] = n
		}
	}
	return s
}

// usageTable maps site names to their counters. Sites are added when a
// route to them is loaded (off the hot path) and kept for the process's
// lifetime: a site's counters survive redeploys and evictions.
type usageTable struct {
	mu sync.RWMutex
	m  map[string]*siteUsage
}

func newUsageTable() *usageTable { return &usageTable{m: map[string]*siteUsage{}} }

// get returns site's counters, creating them, and records the site's ID
// and tenant for the UsageFlusher (a site name reused by a new site
// switches to the new identity: counts not flushed yet go to it).
func (t *usageTable) get(site, siteID, tenantID string) *siteUsage {
	t.mu.RLock()
	u := t.m[site]
	t.mu.RUnlock()
	if u == nil {
		t.mu.Lock()
		if u = t.m[site]; u == nil {
			u = &siteUsage{site: strings.Clone(site)}
			t.m[u.site] = u
		}
		t.mu.Unlock()
	}
	if id := u.ident.Load(); id == nil || id.siteID != siteID || id.tenantID != tenantID {
		u.ident.Store(&usageIdent{siteID: siteID, tenantID: tenantID})
	}
	return u
}

// appendAll appends every site's counters to out.
func (t *usageTable) appendAll(out []*siteUsage) []*siteUsage {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, u := range t.m {
		out = append(out, u)
	}
	return out
}

func (t *usageTable) sorted() []*siteUsage {
	t.mu.RLock()
	out := make([]*siteUsage, 0, len(t.m))
	for _, u := range t.m {
		out = append(out, u)
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b *siteUsage) int { return strings.Compare(a.site, b.site) })
	return out
}

// Usage returns the counters of site (all zero for a site that was never
// requested on this node). Only tests call it; the counters leave the
// process through WriteMetrics and a UsageFlusher.
func (e *Edge) Usage(site string) Usage {
	e.usage.mu.RLock()
	u := e.usage.m[strings.ToLower(site)]
	e.usage.mu.RUnlock()
	if u == nil {
		return (&siteUsage{}).snapshot()
	}
	return u.snapshot()
}

// WriteMetrics writes every site's counters in the Prometheus text
// exposition format (version 0.0.4); cmd/pier serves it at /metrics on the
// admin listener. Sites appear once requested; worker series appear for
// sites that invoked a worker.
func (e *Edge) WriteMetrics(w io.Writer) error {
	sites := e.usage.sorted()
	bw := bufio.NewWriter(w)
	var b []byte
	header := func(name, typ, help string) {
		b = append(b, "# HELP "...)
		b = append(b, name...)
		b = append(b, ' ')
		b = append(b, help...)
		b = append(b, "\n# TYPE "...)
		b = append(b, name...)
		b = append(b, ' ')
		b = append(b, typ...)
		b = append(b, '\n')
	}
	sample := func(name, site, label, value string, v float64, isInt bool, n int64) {
		b = append(b, name...)
		b = append(b, `{site="`...)
		b = appendLabelValue(b, site)
		b = append(b, '"')
		if label != "" {
			b = append(b, ',')
			b = append(b, label...)
			b = append(b, `="`...)
			b = appendLabelValue(b, value)
			b = append(b, '"')
		}
		b = append(b, "} "...)
		if isInt {
			b = strconv.AppendInt(b, n, 10)
		} else {
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		}
		b = append(b, '\n')
	}
	flush := func() error {
		_, err := bw.Write(b)
		b = b[:0]
		return err
	}
	header("pier_site_requests_total", "counter", "Requests answered, by status class.")
	for _, u := range sites {
		for i, c := range classNames {
			sample("pier_site_requests_total", u.site, "class", c, 0, true, u.requests[i].Load())
		}
		if err := flush(); err != nil {
			return err
		}
	}
	header("pier_site_response_bytes_total", "counter", "Response body bytes written.")
	for _, u := range sites {
		sample("pier_site_response_bytes_total", u.site, "", "", 0, true, u.bytesOut.Load())
	}
	header("pier_site_rate_limited_total", "counter", "Requests answered 429 rate_limited: over the site's request rate on this node (counted in the 4xx class too).")
	for _, u := range sites {
		sample("pier_site_rate_limited_total", u.site, "", "", 0, true, u.rateLimited.Load())
	}
	if err := flush(); err != nil {
		return err
	}
	invoked := make([]*siteUsage, 0, len(sites))
	for _, u := range sites {
		for i := range u.outcomes {
			if u.outcomes[i].Load() != 0 {
				invoked = append(invoked, u)
				break
			}
		}
	}
	header("pier_worker_invocations_total", "counter", "Worker invocations, by outcome.")
	for _, u := range invoked {
		for i, o := range outcomes {
			sample("pier_worker_invocations_total", u.site, "outcome", o, 0, true, u.outcomes[i].Load())
		}
		if err := flush(); err != nil {
			return err
		}
	}
	header("pier_worker_cpu_seconds_total", "counter", "Guest CPU time of worker invocations.")
	for _, u := range invoked {
		sample("pier_worker_cpu_seconds_total", u.site, "", "", time.Duration(u.cpuNanos.Load()).Seconds(), false, 0)
	}
	header("pier_worker_subrequests_total", "counter", "Workers' fetch calls, refused ones included.")
	for _, u := range invoked {
		sample("pier_worker_subrequests_total", u.site, "", "", 0, true, u.subrequests.Load())
	}
	if err := flush(); err != nil {
		return err
	}
	var kvSites []*siteUsage
	for _, u := range invoked {
		if u.kv.Load() != nil {
			kvSites = append(kvSites, u)
		}
	}
	if len(kvSites) > 0 {
		header("pier_worker_kv_operations_total", "counter", "Workers' KV operations, by kind: read (get, list) or write (put, delete, compare-and-swap).")
		for _, u := range kvSites {
			k := u.kv.Load()
			sample("pier_worker_kv_operations_total", u.site, "kind", "read", 0, true, k.reads.Load())
			sample("pier_worker_kv_operations_total", u.site, "kind", "write", 0, true, k.writes.Load())
		}
		header("pier_worker_kv_bytes_total", "counter", "Bytes the workers' KV operations read and wrote.")
		for _, u := range kvSites {
			sample("pier_worker_kv_bytes_total", u.site, "", "", 0, true, u.kv.Load().bytes.Load())
		}
	}
	if e.kvWriteLatency.count() > 0 {
		header("pier_kv_write_seconds", "histogram", "Workers' KV writes (put, delete, compare-and-swap) on this node, from the guest's call to the store's acknowledgement (durable).")
		b = e.kvWriteLatency.appendTo(b, "pier_kv_write_seconds")
	}
	if err := flush(); err != nil {
		return err
	}
	return bw.Flush()
}

// appendLabelValue escapes a label value as the exposition format
// requires: backslash, double quote and line feed.
func appendLabelValue(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}
