package lifecycle

import (
	"fmt"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

func TestPolicyKeep(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	p := Policy{Active: "live", Branches: map[string]bool{"branch": true}, KeepNewest: 2, KeepDays: 30, Now: now}
	old := now.AddDate(0, 0, -31)
	tests := []struct {
		name    string
		i       int
		id      string
		created time.Time
		want    bool
	}{
		{"newest", 0, "x", old, true},
		{"second newest", 1, "x", old, true},
		{"third newest, old", 2, "x", old, false},
		{"third newest, younger than keepDays", 2, "x", now.AddDate(0, 0, -29), true},
		{"exactly keepDays old", 2, "x", now.AddDate(0, 0, -30), false},
		{"active, old and far down", 500, "live", old, true},
		{"a branch's, old and far down", 500, "branch", old, true},
		{"old and far down", 500, "other", old, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tenants.DeploymentSummary{ID: tc.id, Created: tc.created}
			if got := p.Keep(tc.i, d); got != tc.want {
				t.Errorf("Keep(%d, %s created %v) = %v, want %v", tc.i, tc.id, tc.created, got, tc.want)
			}
		})
	}
	t.Run("keepDays 0 keeps by count only", func(t *testing.T) {
		q := p
		q.KeepDays = 0
		if q.Keep(2, tenants.DeploymentSummary{ID: "x", Created: now}) {
			t.Errorf("kept the third newest with keepDays 0")
		}
	})
}

func TestRefSet(t *testing.T) {
	var r refSet
	in := []string{"00000000000000ff", "ffffffffffffffff", "0123456789abcdef", "00000000000000ff", "not-a-hash"}
	for _, h := range in {
		r.add(h)
	}
	r.seal()
	for _, h := range in {
		if !r.has(h) {
			t.Errorf("has(%s) = false after add", h)
		}
	}
	for i := range 100 {
		h := fmt.Sprintf("%016x", i*7919+3)
		if r.has(h) {
			t.Errorf("has(%s) = true, never added", h)
		}
	}
	if len(r.ids) != 3 {
		t.Errorf("%d ids kept, want 3 (duplicates compacted)", len(r.ids))
	}
}
