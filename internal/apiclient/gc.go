package apiclient

import (
	"context"
	"net/http"
	"time"
)

// GCReport is what a garbage collection deleted, or with DryRun would
// delete (POST /api/v1/gc).
type GCReport struct {
	DryRun      bool             `json:"dry_run"`
	Deployments int              `json:"deployments"`
	Blobs       int              `json:"blobs"`
	BlobBytes   int64            `json:"blob_bytes"`
	Objects     int              `json:"objects"`
	Bytes       int64            `json:"bytes"`
	Tenants     []GCTenantReport `json:"tenants"`
	Started     time.Time        `json:"started_at"`
	Duration    time.Duration    `json:"duration_ns"`
}

// GCTenantReport is a GCReport's part for one tenant.
type GCTenantReport struct {
	TenantID    string `json:"tenant_id"`
	Tenant      string `json:"tenant,omitempty"`
	Deployments int    `json:"deployments"`
	Blobs       int    `json:"blobs"`
	BlobBytes   int64  `json:"blob_bytes"`
	Objects     int    `json:"objects"`
	Bytes       int64  `json:"bytes"`
}

// CollectGarbage runs deployment retention and blob garbage collection
// on the server now, or with dryRun says what it would delete (admin).
func (c *Client) CollectGarbage(ctx context.Context, dryRun bool) (*GCReport, error) {
	body := struct {
		DryRun bool `json:"dry_run"`
	}{dryRun}
	var r GCReport
	err := c.do(ctx, request{method: http.MethodPost, path: "/gc", body: body, out: &r})
	return ret(&r, err)
}
