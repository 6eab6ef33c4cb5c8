package main

import (
	"strings"
	"testing"

	"github.com/pierhq/pier/tenants"
)

// TestFormatLimitsShowsEveryLimit: the CLI's groups cover every limit, so
// a new one cannot go unshown.
func TestFormatLimitsShowsEveryLimit(t *testing.T) {
	l, _ := tenants.PlanLimits(tenants.PlanPro)
	var all []string
	for _, g := range formatLimits(l) {
		all = append(all, g.text)
	}
	text := strings.Join(all, ", ")
	for _, f := range l.Fields() {
		if !strings.Contains(text, f.Name+" ") {
			t.Errorf("formatLimits does not show %s: %s", f.Name, text)
		}
	}
}
