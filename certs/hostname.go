package certs

import "strings"

// maxHostnameLen is the longest DNS name in presentation form (RFC 1035).
const maxHostnameLen = 253

// Normalize returns host in the form certificates are managed under —
// lowercase, without a trailing dot — and whether it is a name a
// certificate may be requested for: at least two labels of letters,
// digits and inner hyphens (IDNs must already be punycode), each 1–63
// bytes, 253 bytes in all, and not an IP address (the last label is not
// all digits). Wildcards are not accepted: SNI never carries one.
//
// It allocates only when host has upper-case letters, so the TLS
// handshake can call it on every ClientHello.
func Normalize(host string) (string, bool) {
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > maxHostnameLen {
		return "", false
	}
	labels, start, upper := 0, 0, false
	for i := 0; i <= len(host); i++ {
		if i < len(host) && host[i] != '.' {
			c := host[i]
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
			case c >= 'A' && c <= 'Z':
				upper = true
			default:
				return "", false
			}
			continue
		}
		label := host[start:i]
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", false
		}
		labels++
		start = i + 1
	}
	if labels < 2 {
		return "", false
	}
	last := host[strings.LastIndexByte(host, '.')+1:]
	if strings.Trim(last, "0123456789") == "" {
		return "", false
	}
	if upper {
		host = strings.ToLower(host)
	}
	return host, true
}
