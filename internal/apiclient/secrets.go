package apiclient

import (
	"context"
	"net/http"
	"time"
)

// Secret is a site's secret as the API shows it: never its value.
type Secret struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// RekeyReport is the answer of POST /api/v1/secrets/rekey.
type RekeyReport struct {
	Rekeyed int    `json:"rekeyed"`
	KeyID   string `json:"key_id"`
	Skipped int    `json:"skipped,omitempty"`
}

// PutSecret creates or replaces secret name of site with value.
func (c *Client) PutSecret(ctx context.Context, site, name, value string) (*Secret, error) {
	var s Secret
	err := c.do(ctx, request{method: http.MethodPut, path: "/sites/" + esc(site) + "/secrets/" + esc(name),
		body: map[string]string{"value": value}, out: &s})
	return ret(&s, err)
}

// ListSecrets lists a site's secrets (names and times) by name.
func (c *Client) ListSecrets(ctx context.Context, site string) ([]Secret, error) {
	var out struct {
		Secrets []Secret `json:"secrets"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/sites/" + esc(site) + "/secrets", out: &out}); err != nil {
		return nil, err
	}
	return out.Secrets, nil
}

// DeleteSecret deletes secret name of site.
func (c *Client) DeleteSecret(ctx context.Context, site, name string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: "/sites/" + esc(site) + "/secrets/" + esc(name)})
}

// RekeySecrets re-seals every secret under the server's primary key
// (admin). A secret sealed under a key the server no longer has makes it
// an *Error rekey_incomplete, whose Fields say how many.
func (c *Client) RekeySecrets(ctx context.Context) (*RekeyReport, error) {
	var r RekeyReport
	err := c.do(ctx, request{method: http.MethodPost, path: "/secrets/rekey", out: &r})
	return ret(&r, err)
}
