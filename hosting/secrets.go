package hosting

import (
	"context"
	"fmt"

	"github.com/pierhq/pier/hosting/worker"
)

// Secrets loads a site's decrypted secrets when the edge creates its
// worker (cmd/pier implements it with the store and the operator's
// keyring). An error fails the worker's start: the request is answered
// 503 worker_unavailable, never served without its secrets; the next
// request tries again. Errors must not carry a secret's value.
type Secrets interface {
	SiteSecrets(ctx context.Context, siteID string) (map[string]string, error)
}

// secretsOption loads site siteID's secrets for its new worker; no
// option when the edge has no Secrets.
func (e *Edge) secretsOption(ctx context.Context, site, siteID string) ([]worker.Option, error) {
	if e.secrets == nil {
		return nil, nil
	}
	s, err := e.secrets.SiteSecrets(ctx, siteID)
	if err != nil {
		return nil, fmt.Errorf("%w of site %q: loading its secrets: %w", errWorkerLoad, site, err)
	}
	if len(s) == 0 {
		return nil, nil
	}
	return []worker.Option{worker.WithSecrets(s)}, nil
}
