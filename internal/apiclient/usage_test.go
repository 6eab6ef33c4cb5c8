package apiclient

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func TestUsageQueries(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 22, 18, 0, 0, 0, time.FixedZone("CET", 3600))
	const answer = `{"site":"blog","step":"1m","points":[{"time":"2026-11-22T17:00:00Z","requests":{"2xx":3},"cpu_ms":1.5}],"totals":{"requests":{"2xx":3},"bytes_out":10}}`
	for _, tc := range []struct {
		name  string
		call  func(c *Client) (*Usage, error)
		query string
	}{
		{"site with defaults", func(c *Client) (*Usage, error) { return c.SiteUsage(ctx, "blog", UsageQuery{}) }, ""},
		{"site with window and step, in UTC", func(c *Client) (*Usage, error) {
			return c.SiteUsage(ctx, "blog", UsageQuery{From: at, To: at.Add(time.Hour), Step: "5m"})
		}, "from=2026-11-22T17%3A00%3A00Z&step=5m&to=2026-11-22T18%3A00%3A00Z"},
		{"tenant with step only", func(c *Client) (*Usage, error) { return c.TenantUsage(ctx, "acme", UsageQuery{Step: "1d"}) }, "step=1d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, queries := pagedServer(t, map[string]string{"": answer})
			u, err := tc.call(c)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{tc.query}; !reflect.DeepEqual(*queries, want) {
				t.Errorf("queries %q, want %q", *queries, want)
			}
			if len(u.Points) != 1 || u.Points[0].Requests["2xx"] != 3 || u.Points[0].CPUMillis != 1.5 || u.Totals.BytesOut != 10 {
				t.Errorf("usage %+v", u)
			}
		})
	}
}
