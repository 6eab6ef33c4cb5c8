package domainverify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer is a tiny authoritative UDP DNS server for tests: it answers
// TXT, A, AAAA and CNAME questions from its maps and NXDOMAIN otherwise;
// names in fail get SERVFAIL.
type dnsServer struct {
	mu    sync.Mutex
	txt   map[string][]string
	a     map[string][]netip.Addr
	cname map[string]string
	fail  map[string]bool
	addr  string
}

func startDNS(t *testing.T) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{txt: map[string][]string{}, a: map[string][]netip.Addr{}, cname: map[string]string{}, fail: map[string]bool{}, addr: pc.LocalAddr().String()}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := s.answer(buf[:n]); out != nil {
				pc.WriteTo(out, from)
			}
		}
	}()
	return s
}

func (s *dnsServer) answer(msg []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := strings.ToLower(strings.TrimSuffix(q.Name.String(), "."))
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionAvailable: true}
	hdr := func(n string, typ dnsmessage.Type) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(n + "."), Type: typ, Class: dnsmessage.ClassINET, TTL: 1}
	}
	var answers []func(*dnsmessage.Builder) error
	found := false
	target := name
	if c, ok := s.cname[name]; ok {
		found = true
		cn := c
		answers = append(answers, func(b *dnsmessage.Builder) error {
			return b.CNAMEResource(hdr(name, dnsmessage.TypeCNAME), dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(cn + ".")})
		})
		target = c
	}
	switch {
	case s.fail[name]:
		rh.RCode = dnsmessage.RCodeServerFailure
	case q.Type == dnsmessage.TypeTXT:
		if v, ok := s.txt[target]; ok {
			found = true
			for _, x := range v {
				answers = append(answers, func(b *dnsmessage.Builder) error {
					return b.TXTResource(hdr(target, dnsmessage.TypeTXT), dnsmessage.TXTResource{TXT: []string{x}})
				})
			}
		}
	case q.Type == dnsmessage.TypeA || q.Type == dnsmessage.TypeAAAA:
		for _, a := range s.a[target] {
			found = true
			if a.Is4() && q.Type == dnsmessage.TypeA {
				answers = append(answers, func(b *dnsmessage.Builder) error {
					return b.AResource(hdr(target, dnsmessage.TypeA), dnsmessage.AResource{A: a.As4()})
				})
			}
			if a.Is6() && q.Type == dnsmessage.TypeAAAA {
				answers = append(answers, func(b *dnsmessage.Builder) error {
					return b.AAAAResource(hdr(target, dnsmessage.TypeAAAA), dnsmessage.AAAAResource{AAAA: a.As16()})
				})
			}
		}
	}
	if !found && rh.RCode == dnsmessage.RCodeSuccess {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	for _, f := range answers {
		if err := f(&b); err != nil {
			return nil
		}
	}
	out, _ := b.Finish()
	return out
}

func (s *dnsServer) set(f func(s *dnsServer)) { s.mu.Lock(); f(s); s.mu.Unlock() }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCheckTXT(t *testing.T) {
	dns := startDNS(t)
	dns.set(func(s *dnsServer) {
		s.txt["_pier-challenge.good.example"] = []string{"other", "tok-1"}
		s.txt["_pier-challenge.wrong.example"] = []string{"tok-2"}
		s.fail["_pier-challenge.broken.example"] = true
	})
	v := &Verifier{Resolver: NewResolver(dns.addr)}
	tests := []struct {
		host        string
		wantErr     bool
		notProven   bool
		mentionName bool
	}{
		{"good.example", false, false, false},
		{"wrong.example", true, true, true},
		{"missing.example", true, true, true},
		{"broken.example", true, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			err := v.CheckTXT(ctxT(t), tc.host, "tok-1")
			if (err != nil) != tc.wantErr {
				t.Fatalf("CheckTXT = %v, want error: %v", err, tc.wantErr)
			}
			if got := errors.Is(err, ErrNotProven); got != tc.notProven {
				t.Errorf("errors.Is(%v, ErrNotProven) = %v, want %v", err, got, tc.notProven)
			}
			if tc.mentionName && !strings.Contains(err.Error(), "_pier-challenge."+tc.host) {
				t.Errorf("error %q does not name the record", err)
			}
		})
	}
}

func TestPointsHere(t *testing.T) {
	dns := startDNS(t)
	dns.set(func(s *dnsServer) {
		s.cname["www.shop.example"] = "blog.pier.test"
		s.a["blog.pier.test"] = []netip.Addr{netip.MustParseAddr("192.0.2.10")}
		s.a["shop.example"] = []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}
		s.a["v6.example"] = []netip.Addr{netip.MustParseAddr("2001:db8::10")}
		s.a["elsewhere.example"] = []netip.Addr{netip.MustParseAddr("198.51.100.1")}
		s.cname["gone.example"] = "other.host.test"
		s.a["other.host.test"] = []netip.Addr{netip.MustParseAddr("198.51.100.2")}
		s.fail["broken.example"] = true
	})
	v := &Verifier{Resolver: NewResolver(dns.addr)}
	public := []string{"192.0.2.10", "2001:db8::10"}
	tests := []struct {
		name, host string
		ips        []string
		want       bool
		wantErr    bool
	}{
		{"CNAME to the site", "www.shop.example", nil, true, false},
		{"apex A to a public IP", "shop.example", public, true, false},
		{"AAAA only", "v6.example", public, true, false},
		{"points elsewhere", "elsewhere.example", public, false, false},
		{"CNAME elsewhere", "gone.example", public, false, false},
		{"does not exist", "nothing.example", public, false, false},
		{"no public IPs configured", "shop.example", nil, false, false},
		{"DNS failure", "broken.example", public, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.PointsHere(ctxT(t), tc.host, "blog.pier.test", tc.ips)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("PointsHere(%s) = %v, %v; want %v, error %v", tc.host, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestCheckHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case ChallengePath + "tok-1":
			w.Write([]byte("tok-1\n"))
		case ChallengePath + "tok-2":
			w.Write([]byte("something else"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	v := &Verifier{}
	tests := []struct {
		token     string
		wantErr   bool
		notProven bool
	}{
		{"tok-1", false, false},
		{"tok-2", true, true},
		{"tok-3", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.token, func(t *testing.T) {
			err := v.CheckHTTP(ctxT(t), host, tc.token, tc.token)
			if (err != nil) != tc.wantErr || errors.Is(err, ErrNotProven) != tc.notProven {
				t.Fatalf("CheckHTTP(%s) = %v; want error %v, not proven %v", tc.token, err, tc.wantErr, tc.notProven)
			}
		})
	}
	srv.Close()
	if err := v.CheckHTTP(ctxT(t), host, "tok-1", "tok-1"); err == nil || errors.Is(err, ErrNotProven) {
		t.Errorf("CheckHTTP against a closed server = %v, want a connection error", err)
	}
}
