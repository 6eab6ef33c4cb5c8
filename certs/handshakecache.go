package certs

import (
	"crypto/tls"
	"sync"
	"sync/atomic"
	"time"
)

// handshakeMemoTTL is how long handshakes may reuse the certificate
// certmagic chose for the same name: long enough that a busy name asks
// certmagic (its cache lookup, logger set-up and on-demand maintenance:
// about 5 µs and 25 allocations) about once a second instead of on every
// handshake, short enough that a renewed certificate is served at most
// this late (renewal starts days, or for short-lived certificates hours,
// before expiry).
const handshakeMemoTTL = time.Second

// handshakeMemoSweep is how many new entries trigger a sweep of expired
// ones, which bounds the memo to about the names seen in a second.
const handshakeMemoSweep = 4096

// handshakeMemo remembers, per name, the certificate certmagic returned
// to the last handshake, for handshakeMemoTTL. getCertificate consults it
// only after every check a handshake must pass (name, Allow), so a
// forgotten or disallowed name is still refused at once.
type handshakeMemo struct {
	entries sync.Map // name → *memoEntry
	added   atomic.Int64
}

type memoEntry struct {
	cert    *tls.Certificate
	expires int64 // UnixNano
}

// get returns name's certificate if one was stored less than
// handshakeMemoTTL ago, else nil.
func (h *handshakeMemo) get(name string) *tls.Certificate {
	if e, ok := h.entries.Load(name); ok {
		if e := e.(*memoEntry); time.Now().UnixNano() < e.expires {
			return e.cert
		}
	}
	return nil
}

// put stores cert for name.
func (h *handshakeMemo) put(name string, cert *tls.Certificate) {
	now := time.Now().UnixNano()
	h.entries.Store(name, &memoEntry{cert: cert, expires: now + int64(handshakeMemoTTL)})
	if h.added.Add(1)%handshakeMemoSweep == 0 {
		h.entries.Range(func(k, v any) bool {
			if v.(*memoEntry).expires <= now {
				h.entries.CompareAndDelete(k, v)
			}
			return true
		})
	}
}
