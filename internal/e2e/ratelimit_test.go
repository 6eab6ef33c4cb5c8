package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/testenv"
)

// TestRateLimit: through the real pier serve, a site whose tenant's
// override allows 1 request a second and 3 in a row gets 429 rate_limited
// with Retry-After past its burst, while another tenant's site on the
// same edge keeps answering 200; the refusals show in the live log
// (outcome rate_limited), in /metrics and in the site's usage (4xx), and
// raising the override reaches the edge.
func TestRateLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s := startPier(t, "", nil)
	s.pier("tenants", "create", "limited")
	s.pier("tenants", "create", "neighbour")
	setRate := func(rps, burst int) {
		t.Helper()
		body := map[string]any{"limits": map[string]int{"requestsPerSecond": rps, "requestBurst": burst}}
		if code := s.api("PATCH", "/api/v1/tenants/limited", s.Token, body, nil); code != 200 {
			t.Fatalf("PATCH limits: %d", code)
		}
	}
	setRate(1, 3)
	s.pier("sites", "create", "busy", "--tenant", "limited")
	s.pier("sites", "create", "calm", "--tenant", "neighbour")
	s.deploy(writeSite(t, map[string]string{"index.html": "busy"}), "busy")
	s.deploy(writeSite(t, map[string]string{"index.html": "calm"}), "calm")

	// The burst, then 429 (a token may come back if a second passes).
	served := 0
	var r response
	for range 20 {
		if r = s.get("busy.localhost", "/", "Accept", "application/json"); r.Status != 200 {
			break
		}
		served++
	}
	if r.Status != 429 || served < 3 {
		t.Fatalf("after %d requests served: %d %q, want 429 past a burst of 3", served, r.Status, r.Body)
	}
	if ra := r.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1", ra)
	}
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil || body.Error.Code != "rate_limited" {
		t.Errorf("429 body %q (%v), want the JSON error rate_limited", r.Body, err)
	}
	t.Logf("at the limit: %d, Retry-After %s, Content-Type %s, body %s", r.Status, r.Header.Get("Retry-After"), r.Header.Get("Content-Type"), strings.TrimSpace(r.Body))

	for i := range 50 {
		if r := s.get("calm.localhost", "/"); r.Status != 200 || r.Body != "calm" {
			t.Fatalf("neighbour request %d: %d %q", i, r.Status, r.Body)
		}
	}

	// The live log: follow busy, and request until a refusal comes through.
	logs := s.followLogs("busy")
	refused := 1
	testenv.WaitFor(t, testenv.Patience, func() error {
		if s.get("busy.localhost", "/").Status == 429 {
			refused++
		}
		for _, l := range logs.Lines() {
			if strings.Contains(l, `"outcome":"rate_limited"`) && strings.Contains(l, `"status":429`) {
				return nil
			}
		}
		return errors.New("pier logs shows no request with outcome rate_limited")
	})

	// /metrics counts every refusal; the usage series has them in 4xx.
	m := regexp.MustCompile(`pier_site_rate_limited_total\{site="busy"\} (\d+)`).FindStringSubmatch(s.getURL(s.API + "/metrics"))
	if m == nil {
		t.Fatal("/metrics has no pier_site_rate_limited_total for busy")
	}
	if n, _ := strconv.Atoi(m[1]); n != refused {
		t.Errorf("pier_site_rate_limited_total = %d, want the %d 429s answered", n, refused)
	}
	if !strings.Contains(s.getURL(s.API+"/metrics"), `pier_site_rate_limited_total{site="calm"} 0`) {
		t.Error("the neighbour was rate-limited")
	}
	testenv.WaitFor(t, testenv.Patience, func() error {
		var usage struct {
			Totals struct {
				Requests map[string]int `json:"requests"`
			} `json:"totals"`
		}
		if code := s.api("GET", "/api/v1/sites/busy/usage", s.Token, nil, &usage); code != 200 {
			return fmt.Errorf("GET usage = %d", code)
		}
		if r := usage.Totals.Requests; r["4xx"] < refused || r["2xx"] < served {
			return fmt.Errorf("usage requests %v, want ≥ %d 4xx and ≥ %d 2xx", r, refused, served)
		}
		return nil
	})

	// A raised override reaches the edge (at the route's revalidation,
	// within 10 s): 50 requests in a row are served.
	setRate(1000, 1000)
	testenv.WaitFor(t, testenv.Patience, func() error {
		for i := range 50 {
			if r := s.get("busy.localhost", "/"); r.Status != 200 {
				return fmt.Errorf("request %d after raising the rate: %d", i, r.Status)
			}
		}
		return nil
	})
}
