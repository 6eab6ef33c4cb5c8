package hosting

import (
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/pierhq/pier/hosting/worker"
)

func TestSiteUsage(t *testing.T) {
	tests := []struct {
		name       string
		goroutines int
		status     int
		bytes      int64
		class      string
	}{
		{"one goroutine", 1, 200, 10, "2xx"},
		{"many goroutines over the stripes", 32, 404, 7, "4xx"},
		{"HEAD: no bytes", 4, 304, 0, "3xx"},
		{"server errors", 3, 503, 12, "5xx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := &siteUsage{site: "s"}
			const per = 100
			var wg sync.WaitGroup
			for range tc.goroutines {
				wg.Go(func() {
					for range per {
						u.record(tc.status, tc.bytes)
					}
				})
			}
			wg.Wait()
			s := u.snapshot()
			n := int64(tc.goroutines * per)
			if s.Requests[tc.class] != n || s.BytesOut != n*tc.bytes {
				t.Fatalf("requests %v, bytes %d; want %d %s and %d bytes", s.Requests, s.BytesOut, n, tc.class, n*tc.bytes)
			}
			var all int64
			for _, c := range s.Requests {
				all += c
			}
			if all != n {
				t.Fatalf("%d requests over all classes, want %d", all, n)
			}
		})
	}
}

func TestSiteUsageInvocations(t *testing.T) {
	u := &siteUsage{site: "s"}
	results := []worker.Result{
		{Outcome: worker.OutcomeOK, CPU: time.Millisecond, SubRequests: 2},
		{Outcome: worker.OutcomeOK, CPU: time.Millisecond},
		{Outcome: worker.OutcomeExceededCPU, CPU: 10 * time.Millisecond},
		{Outcome: worker.OutcomeExceededSubrequests, SubRequests: 6},
		{Outcome: "somethingNew"},
	}
	for i := range results {
		u.invocation(&results[i])
	}
	s := u.snapshot()
	tests := []struct {
		name      string
		got, want int64
	}{
		{"invocations", s.Invocations, 5},
		{"ok", s.ByOutcome[worker.OutcomeOK], 2},
		{"cpu violations", s.Violations[worker.OutcomeExceededCPU], 1},
		{"subrequest violations", s.Violations[worker.OutcomeExceededSubrequests], 1},
		{"unknown outcome", s.Violations["other"], 1},
		{"ok is no violation", s.Violations[worker.OutcomeOK], 0},
		{"cpu", int64(s.CPU), int64(12 * time.Millisecond)},
		{"subrequests", s.SubRequests, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %d, want %d", tc.got, tc.want)
			}
		})
	}
}

func TestSiteUsageLayout(t *testing.T) {
	if n := unsafe.Sizeof(siteUsage{}); n != 192 {
		t.Fatalf("siteUsage is %d bytes; keep it 192 (update the padding)", n)
	}
	if off := unsafe.Offsetof(siteUsage{}.requests); off != 0 {
		t.Fatalf("request counters at offset %d, want 0", off)
	}
}
