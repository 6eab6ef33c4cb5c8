package certs

import (
	"fmt"
	"io"
	"sync/atomic"
)

// counters are the manager's Prometheus counters.
type counters struct {
	ordersStarted   atomic.Int64 // certificate attempts started with the CA (budget charged)
	ordersRefused   atomic.Int64 // orders refused by the budget or back-off
	ordersFailed    atomic.Int64 // orders that failed
	obtained        atomic.Int64 // certificates obtained (or renewed)
	refusedMalform  atomic.Int64 // handshakes with a malformed or missing SNI
	refusedDisallow atomic.Int64 // handshakes for names Allow refused
}

// WriteMetrics writes the manager's counters in the Prometheus text
// format, for the /metrics endpoint. Two nodes sharing storage that race
// for one name add up to one pier_cert_orders_total.
func (m *Manager) WriteMetrics(w io.Writer) error {
	c := &m.count
	_, err := fmt.Fprintf(w, `# HELP pier_cert_orders_total New certificates requested from the CA (one per attempt; the ACME client may place up to one order per challenge type within an attempt when validation fails).
# TYPE pier_cert_orders_total counter
pier_cert_orders_total %d
# HELP pier_cert_orders_refused_total Certificate orders refused by the order budget or a failed name's back-off.
# TYPE pier_cert_orders_refused_total counter
pier_cert_orders_refused_total %d
# HELP pier_cert_orders_failed_total Certificate orders that failed.
# TYPE pier_cert_orders_failed_total counter
pier_cert_orders_failed_total %d
# HELP pier_cert_obtained_total Certificates obtained or renewed.
# TYPE pier_cert_obtained_total counter
pier_cert_obtained_total %d
# HELP pier_tls_handshakes_refused_total TLS handshakes refused before any certificate lookup, by reason.
# TYPE pier_tls_handshakes_refused_total counter
pier_tls_handshakes_refused_total{reason="malformed_sni"} %d
pier_tls_handshakes_refused_total{reason="not_allowed"} %d
`, c.ordersStarted.Load(), c.ordersRefused.Load(), c.ordersFailed.Load(), c.obtained.Load(),
		c.refusedMalform.Load(), c.refusedDisallow.Load())
	return err
}
