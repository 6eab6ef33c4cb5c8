package domainverify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/pierhq/pier/internal/testenv"
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

// ctxT bounds one check against the test's local servers: generously,
// since a deadline that fires on a busy machine reads as a wrong answer.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	t.Cleanup(cancel)
	return ctx
}

func TestCheckTXT(t *testing.T) {
	t.Parallel()
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
			t.Parallel()
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
	t.Parallel()
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
			t.Parallel()
			got, err := v.PointsHere(ctxT(t), tc.host, "blog.pier.test", tc.ips)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("PointsHere(%s) = %v, %v; want %v, error %v", tc.host, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// proofServer is the tenant's web server of the HTTP proof tests, and a
// Verifier whose DNS is dns and whose connections to any approved
// address go to it; dialed records the addresses approved.
type proofServer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	dialed []string
}

func (p *proofServer) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.dialed)
}

func startProof(t *testing.T, h http.HandlerFunc) *proofServer {
	p := &proofServer{srv: httptest.NewServer(h)}
	t.Cleanup(p.srv.Close)
	return p
}

func (p *proofServer) verifier(dns *dnsServer, publicIPs ...string) *Verifier {
	return &Verifier{
		Resolver:  NewResolver(dns.addr),
		PublicIPs: publicIPs,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			p.mu.Lock()
			p.dialed = append(p.dialed, addr)
			p.mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, "tcp", p.srv.Listener.Addr().String())
		},
	}
}

func TestCheckHTTP(t *testing.T) {
	t.Parallel()
	var ua string
	var uaMu sync.Mutex
	p := startProof(t, func(w http.ResponseWriter, r *http.Request) {
		uaMu.Lock()
		ua = r.UserAgent()
		uaMu.Unlock()
		switch r.URL.Path {
		case ChallengePath + "tok-1":
			w.Write([]byte("tok-1\n"))
		case ChallengePath + "tok-2":
			w.Write([]byte("something else"))
		case ChallengePath + "tok-big":
			w.Write([]byte(strings.Repeat("x", 1<<20)))
		case ChallengePath + "tok-redirect":
			http.Redirect(w, r, "http://127.0.0.1:8081/.well-known/pier-challenge/tok-1", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	})
	dns := startDNS(t)
	dns.set(func(s *dnsServer) { s.a["www.shop.example"] = []netip.Addr{netip.MustParseAddr("198.51.100.7")} })
	v := p.verifier(dns)
	tests := []struct {
		token     string
		wantErr   bool
		notProven bool
		mention   string
	}{
		{"tok-1", false, false, ""},
		{"tok-2", true, true, "did not answer the expected token"},
		{"tok-3", true, true, "answered 404"},
		{"tok-big", true, true, "did not answer the expected token"},
		{"tok-redirect", true, true, "redirect (302 to http://127.0.0.1:8081/"},
	}
	for _, tc := range tests {
		t.Run(tc.token, func(t *testing.T) {
			err := v.CheckHTTP(ctxT(t), "www.shop.example", tc.token, tc.token)
			if (err != nil) != tc.wantErr || errors.Is(err, ErrNotProven) != tc.notProven {
				t.Fatalf("CheckHTTP(%s) = %v; want error %v, not proven %v", tc.token, err, tc.wantErr, tc.notProven)
			}
			if msg := Message(err); !strings.Contains(msg, tc.mention) || err != nil && msg == "" {
				t.Errorf("Message = %q, want it to say %q", msg, tc.mention)
			}
		})
	}
	// The redirect was not followed: one connection per check, all to
	// the name's address on port 80.
	for _, a := range p.list() {
		if a != "198.51.100.7:80" {
			t.Errorf("dialed %s", a)
		}
	}
	if n := len(p.list()); n != len(tests) {
		t.Errorf("%d connections for %d checks", n, len(tests))
	}
	uaMu.Lock()
	defer uaMu.Unlock()
	if !strings.Contains(ua, "Pier") {
		t.Errorf("User-Agent %q does not name Pier", ua)
	}
}

// TestCheckHTTPRefusesInternalAddresses: the proof is never fetched from
// an address that is not public, nor — with the platform's addresses
// configured — from any other address, whatever DNS answers; and the
// error says why without naming the resolver.
func TestCheckHTTPRefusesInternalAddresses(t *testing.T) {
	t.Parallel()
	p := startProof(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.TrimPrefix(r.URL.Path, ChallengePath)))
	})
	dns := startDNS(t)
	internal := map[string]string{
		"loopback.example":  "127.0.0.1",
		"loop6.example":     "::1",
		"rfc1918.example":   "10.1.2.3",
		"private.example":   "192.168.1.1",
		"metadata.example":  "169.254.169.254",
		"ula.example":       "fd00::1",
		"linklocal.example": "fe80::1",
		"zero.example":      "0.0.0.0",
		"mapped.example":    "::ffff:10.0.0.1",
		"cgnat.example":     "100.64.0.1",
		"nat64.example":     "64:ff9b::a00:1",
	}
	dns.set(func(s *dnsServer) {
		for h, a := range internal {
			s.a[h] = []netip.Addr{netip.MustParseAddr(a)}
		}
		s.a["public.example"] = []netip.Addr{netip.MustParseAddr("198.51.100.7")}
		s.a["mixed.example"] = []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("198.51.100.8")}
		s.a["here.example"] = []netip.Addr{netip.MustParseAddr("192.0.2.10")}
	})
	v := p.verifier(dns)
	for h := range internal {
		t.Run(h, func(t *testing.T) {
			err := v.CheckHTTP(ctxT(t), h, "tok", "tok")
			if err == nil || !errors.Is(err, ErrNotProven) || !strings.Contains(Message(err), "non-public") {
				t.Errorf("CheckHTTP(%s) = %v (message %q), want refused as non-public", h, err, Message(err))
			}
		})
	}
	if len(p.list()) != 0 {
		t.Fatalf("dialed %v", p.list())
	}
	if err := v.CheckHTTP(ctxT(t), "mixed.example", "tok", "tok"); err != nil {
		t.Errorf("mixed addresses: %v", err)
	}
	if got := p.list(); !slices.Equal(got, []string{"198.51.100.8:80"}) {
		t.Errorf("mixed addresses dialed %v, want only the public one", got)
	}
	// A port in the host is refused too.
	if err := v.CheckHTTP(ctxT(t), "public.example:8080", "tok", "tok"); err == nil {
		t.Errorf("a host with a port passed")
	}

	// With the platform's addresses configured, only they are fetched from.
	vp := p.verifier(dns, "192.0.2.10")
	if err := vp.CheckHTTP(ctxT(t), "here.example", "tok", "tok"); err != nil {
		t.Errorf("platform address: %v", err)
	}
	err := vp.CheckHTTP(ctxT(t), "public.example", "tok", "tok")
	if !errors.Is(err, ErrNotProven) || !strings.Contains(Message(err), "none of the platform's addresses (192.0.2.10)") {
		t.Errorf("other public address = %v (%q)", err, Message(err))
	}
	if got := p.list(); !slices.Equal(got, []string{"198.51.100.8:80", "192.0.2.10:80"}) {
		t.Errorf("dialed %v", got)
	}
}

func TestNewResolverAddr(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"port kept", "192.0.2.1:5353", "192.0.2.1:5353"},
		{"port defaults to 53", "192.0.2.1", "192.0.2.1:53"},
		{"bracketed IPv6", "[2001:db8::1]", "[2001:db8::1]:53"},
		{"bare IPv6", "2001:db8::1", "[2001:db8::1]:53"},
		{"IPv6 with port", "[2001:db8::1]:5353", "[2001:db8::1]:5353"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := NewResolver(tc.in).Addr(); got != tc.want {
				t.Errorf("NewResolver(%q).Addr() = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestPublicAddr(t *testing.T) {
	t.Parallel()
	for a, want := range map[string]bool{
		"198.51.100.1": true, "8.8.8.8": true, "2606:4700::1": true,
		"127.0.0.53": false, "10.0.0.1": false, "172.16.0.1": false, "192.168.0.1": false,
		"169.254.169.254": false, "fe80::1": false, "fc00::1": false, "::": false, "0.0.0.0": false,
		"224.0.0.1": false, "ff02::1": false, "255.255.255.255": false, "::ffff:127.0.0.1": false,
		"2002:a00:1::1": false,
	} {
		if got := PublicAddr(netip.MustParseAddr(a)); got != want {
			t.Errorf("PublicAddr(%s) = %v, want %v", a, got, want)
		}
	}
}

// TestCheckErrorsSayWhy: a failed check's Message names the cause (DNS
// or connection) so a tenant can fix their DNS, never the platform's
// resolver; the full error, for logs, names the resolver actually asked.
func TestCheckErrorsSayWhy(t *testing.T) {
	t.Parallel()
	p := startProof(t, func(w http.ResponseWriter, r *http.Request) {})
	dns := startDNS(t)
	dns.set(func(s *dnsServer) {
		s.fail["broken.example"] = true
		s.fail["_pier-challenge.broken.example"] = true
		s.a["refused.example"] = []netip.Addr{netip.MustParseAddr("198.51.100.9")}
	})
	v := p.verifier(dns)
	p.srv.Close()

	err := v.CheckHTTP(ctxT(t), "nothing.example", "tok", "tok")
	if !errors.Is(err, ErrNotProven) || !strings.Contains(Message(err), "nothing.example does not exist in DNS (NXDOMAIN)") {
		t.Errorf("NXDOMAIN: %v (%q)", err, Message(err))
	}
	err = v.CheckHTTP(ctxT(t), "broken.example", "tok", "tok")
	if err == nil || errors.Is(err, ErrNotProven) || !strings.Contains(Message(err), "SERVFAIL") {
		t.Errorf("SERVFAIL: %v (%q)", err, Message(err))
	}
	err = v.CheckHTTP(ctxT(t), "refused.example", "tok", "tok")
	if err == nil || errors.Is(err, ErrNotProven) || !strings.Contains(Message(err), "connecting to refused.example (198.51.100.9:80) was refused") {
		t.Errorf("refused: %v (%q)", err, Message(err))
	}
	err = v.CheckTXT(ctxT(t), "broken.example", "tok")
	if err == nil || errors.Is(err, ErrNotProven) || !strings.Contains(Message(err), "SERVFAIL") {
		t.Errorf("TXT SERVFAIL: %v (%q)", err, Message(err))
	}
	for _, e := range []error{err, v.CheckHTTP(ctxT(t), "broken.example", "tok", "tok")} {
		if strings.Contains(Message(e), dns.addr) || strings.Contains(Message(e), ":53") {
			t.Errorf("Message %q names the resolver", Message(e))
		}
		if !strings.Contains(e.Error(), "on "+dns.addr) {
			t.Errorf("the error for logs does not name the resolver asked (%s): %v", dns.addr, e)
		}
	}
	if _, err := v.PointsHere(ctxT(t), "broken.example", "blog.pier.test", nil); err == nil || !strings.Contains(err.Error(), "on "+dns.addr) {
		t.Errorf("PointsHere error does not name the resolver asked (%s): %v", dns.addr, err)
	}
}
