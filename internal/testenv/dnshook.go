package testenv

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
)

// DNSHook is an operator's DNS-01 webhook for tests: an http.Handler that
// speaks lego's httpreq protocol (POST <prefix>/present and
// <prefix>/cleanup with {"fqdn","value"}, what `pier serve --dns01-webhook`
// and certs/dnshook send) and sets the TXT records in pebble-challtestsrv,
// the DNS server Pebble validates against. With User set it demands that
// basic-auth user and Password.
type DNSHook struct {
	ChallSrv       string // challtestsrv's management URL (Pebble.ChallSrv)
	User, Password string

	mu    sync.Mutex
	calls []string // "present _acme-challenge.example.test."
}

// NewDNSHook returns a hook writing to p's challtestsrv.
func (p *Pebble) NewDNSHook(user, password string) *DNSHook {
	return &DNSHook{ChallSrv: p.ChallSrv, User: user, Password: password}
}

func (h *DNSHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if u, p, _ := r.BasicAuth(); u != h.User || p != h.Password {
		http.Error(w, "wrong credentials", http.StatusUnauthorized)
		return
	}
	var m struct{ FQDN, Value string }
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil || m.FQDN == "" {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	action := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	var path string
	var body any
	switch action {
	case "present":
		path, body = "/set-txt", map[string]string{"host": m.FQDN, "value": m.Value}
	case "cleanup":
		path, body = "/clear-txt", map[string]string{"host": m.FQDN}
	default:
		http.NotFound(w, r)
		return
	}
	b, _ := json.Marshal(body)
	resp, err := http.Post(h.ChallSrv+path, "application/json", bytes.NewReader(b))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		http.Error(w, "challtestsrv: "+resp.Status, http.StatusBadGateway)
		return
	}
	h.mu.Lock()
	h.calls = append(h.calls, action+" "+m.FQDN)
	h.mu.Unlock()
}

// Calls lists the calls answered so far, as "present <fqdn>" and
// "cleanup <fqdn>".
func (h *DNSHook) Calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.calls...)
}
