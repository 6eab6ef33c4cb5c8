package e2e

import (
	"fmt"
	"testing"

	"github.com/pierhq/pier/internal/testenv"
)

// TestUsageSurvivesRestart: requests a site served are in its usage
// series once the flusher wrote them (every 10 s) and after a restart:
// pier serve writes the last minute when it stops.
func TestUsageSurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s := startPier(t, "", nil)
	s.pier("tenants", "create", "acme")
	s.pier("sites", "create", "counted", "--tenant", "acme")
	s.deploy(writeSite(t, map[string]string{"index.html": "hello"}), "counted")
	for range 3 {
		if r := s.get("counted.localhost", "/"); r.Status != 200 {
			t.Fatalf("GET / = %d", r.Status)
		}
	}
	s.get("counted.localhost", "/nope")
	var usage struct {
		Totals struct {
			Requests map[string]int `json:"requests"`
			BytesOut int            `json:"bytes_out"`
		} `json:"totals"`
	}
	read := func() error {
		usage.Totals.Requests = nil
		if code := s.api("GET", "/api/v1/sites/counted/usage", s.Token, nil, &usage); code != 200 {
			return fmt.Errorf("GET usage = %d", code)
		}
		if r := usage.Totals.Requests; r["2xx"] < 3 || r["4xx"] < 1 || usage.Totals.BytesOut < 15 {
			return fmt.Errorf("usage totals %+v, want ≥3 2xx, ≥1 4xx, ≥15 bytes", usage.Totals)
		}
		return nil
	}
	testenv.WaitFor(t, testenv.Patience, read)
	s.get("counted.localhost", "/") // counted only by the flush at shutdown
	s.restart()
	testenv.WaitFor(t, testenv.Patience, func() error {
		if err := read(); err != nil {
			return err
		}
		if usage.Totals.Requests["2xx"] < 4 {
			return fmt.Errorf("after a restart 2xx = %d, want 4: the last request was lost", usage.Totals.Requests["2xx"])
		}
		return nil
	})
}
