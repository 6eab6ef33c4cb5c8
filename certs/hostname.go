package certs

import "github.com/pierhq/pier/internal/dnsname"

// Normalize returns host in the form certificates are managed under —
// lowercase, without a trailing dot — and whether it is a name a
// certificate may be requested for: at least two labels of letters,
// digits and inner hyphens (IDNs must already be punycode), each 1–63
// bytes, 253 bytes in all, and not an IP address (the last label is not
// all digits). Wildcards are not accepted: SNI never carries one. The
// rules are dnsname.NormalizeASCII's.
//
// It allocates only when host has upper-case letters, so the TLS
// handshake can call it on every ClientHello.
func Normalize(host string) (string, bool) {
	return dnsname.NormalizeASCII(host)
}
