package testenv

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// ZoneResolver starts a DNS server on loopback that stands in for a
// recursive resolver in front of challtestsrv, for ACME DNS-01 clients
// (certmagic's DNS01Solver) that look up the zone of a challenge record by
// its SOA, which challtestsrv does not answer: it answers SOA queries for
// each of zones (and NOERROR without an answer for names below them), and
// forwards every other query to challtestsrv. It returns the server's
// address (udp and tcp) and stops it when tb ends.
func (p *Pebble) ZoneResolver(tb testing.TB, zones ...string) string {
	tb.Helper()
	for i, z := range zones {
		zones[i] = dns.Fqdn(strings.ToLower(z))
	}
	upstream := p.DNS
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if len(r.Question) == 1 && r.Question[0].Qtype == dns.TypeSOA {
			q := r.Question[0]
			m := new(dns.Msg)
			m.SetReply(r)
			name := strings.ToLower(q.Name)
			for _, z := range zones {
				soa := &dns.SOA{
					Hdr: dns.RR_Header{Name: z, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 1},
					Ns:  "ns." + z, Mbox: "hostmaster." + z,
					Serial: 1, Refresh: 1, Retry: 1, Expire: 1, Minttl: 1,
				}
				if name == z {
					m.Answer = append(m.Answer, soa)
				} else if dns.IsSubDomain(z, name) {
					m.Ns = append(m.Ns, soa)
				}
			}
			if len(m.Answer) == 0 && len(m.Ns) == 0 {
				m.SetRcode(r, dns.RcodeNameError)
			}
			w.WriteMsg(m)
			return
		}
		c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
		in, _, err := c.Exchange(r, upstream)
		if err != nil {
			m := new(dns.Msg)
			m.SetRcode(r, dns.RcodeServerFailure)
			w.WriteMsg(m)
			return
		}
		w.WriteMsg(in)
	})
	// The UDP and TCP ports must match; retry when the TCP one is taken.
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	for range 20 {
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			break
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		tb.Fatalf("testenv: zone resolver: %v", err)
	}
	addr := pc.LocalAddr().String()
	udp := &dns.Server{PacketConn: pc, Handler: handler}
	tcp := &dns.Server{Listener: ln, Handler: handler}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	tb.Cleanup(func() {
		udp.Shutdown()
		tcp.Shutdown()
	})
	return addr
}
