package testenv

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestStartPebble(t *testing.T) {
	p := StartPebble(t, PebbleOptions{HTTPPort: 5002, TLSPort: 5001})

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.TLSRoots}}}
	resp, err := client.Get(p.Directory)
	if err != nil {
		t.Fatalf("directory: %v", err)
	}
	var dir map[string]any
	err = json.NewDecoder(resp.Body).Decode(&dir)
	resp.Body.Close()
	if err != nil || dir["newOrder"] == nil {
		t.Fatalf("directory = %v, %v; want an ACME directory", dir, err)
	}
	if len(p.RootPEM) == 0 || p.CertPool == nil {
		t.Fatal("issuing root not fetched")
	}
	if p.Orders() != 0 {
		t.Errorf("Orders() = %d before any order", p.Orders())
	}

	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, p.DNS)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if addrs, err := r.LookupHost(ctx, "www.example.test"); err == nil && len(addrs) > 0 {
		t.Errorf("unconfigured name resolves to %v; want no answer", addrs)
	}
	p.AddA(t, "www.example.test", "127.0.0.1")
	addrs, err := r.LookupHost(ctx, "www.example.test")
	if err != nil || len(addrs) != 1 || addrs[0] != "127.0.0.1" {
		t.Errorf("after AddA: %v, %v; want [127.0.0.1]", addrs, err)
	}
	p.SetTXT(t, "_pier-challenge.www.example.test", "tok123")
	txt, err := r.LookupTXT(ctx, "_pier-challenge.www.example.test")
	if err != nil || len(txt) != 1 || txt[0] != "tok123" {
		t.Errorf("after SetTXT: %v, %v; want [tok123]", txt, err)
	}
}
