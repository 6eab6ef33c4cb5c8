package admin

import (
	"context"
	"fmt"
	"net/http"
)

// attentionLimit caps the claims the attention list returns.
const attentionLimit = 200

// CertOrders is what the attention list shows of the certificate order
// budget: the new orders of the last hour across every node, and the
// platform-wide cap (0: none).
type CertOrders struct {
	LastHour int `json:"last_hour"`
	Cap      int `json:"cap"`
}

// attention is the operator's attention list (GET /api/v1/attention,
// admin only): custom domains with a failed certificate, blocked claims
// and pending claims whose last check failed, newest first, and the
// certificate order budget used this hour when TLS is on.
func (a *API) attention(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	list, err := a.store.DomainsNeedingAttention(ctx, attentionLimit)
	if err != nil {
		return fmt.Errorf("admin: listing domains needing attention: %w", err)
	}
	sites := map[string]string{} // site ID → name
	out := make([]domainJSON, 0, len(list))
	for _, d := range list {
		name, ok := sites[d.SiteID]
		if !ok {
			if s, err := a.store.Site(ctx, d.SiteID); err == nil {
				name = s.Name
			}
			sites[d.SiteID] = name
		}
		out = append(out, a.domainView(d, name))
	}
	body := map[string]any{"domains": out}
	if a.cfg.CertOrders != nil {
		orders, err := a.certOrders(ctx)
		if err != nil {
			a.log.WarnContext(ctx, "reading the certificate order budget", "err", err)
		} else {
			body["cert_orders"] = orders
		}
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (a *API) certOrders(ctx context.Context) (CertOrders, error) {
	used, limit, err := a.cfg.CertOrders(ctx)
	return CertOrders{LastHour: used, Cap: limit}, err
}
