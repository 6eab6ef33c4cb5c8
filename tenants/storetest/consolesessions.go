package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

func (h *harness) consoleSession(t *testing.T, secret, tokenID string, idle, abs time.Time) tenants.ConsoleSession {
	t.Helper()
	cs := tenants.ConsoleSession{Hash: tokenHash(secret), TokenID: tokenID, Created: baseTime, IdleExpires: idle, Expires: abs}
	mustNil(t, "CreateConsoleSession("+secret+")", h.s.CreateConsoleSession(h.ctx, cs))
	return cs
}

func normConsoleSession(cs tenants.ConsoleSession) tenants.ConsoleSession {
	cs.Created, cs.IdleExpires, cs.Expires = ms(cs.Created), ms(cs.IdleExpires), ms(cs.Expires)
	return cs
}

func testConsoleSessions(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	admin := h.token(t, "k0", "", "admin-secret")
	tk := h.token(t, "k1", "t1", "one")
	idle, abs := baseTime.Add(12*time.Hour), baseTime.Add(7*24*time.Hour)
	a := h.consoleSession(t, "sess-a", admin.ID, idle, abs)
	b := h.consoleSession(t, "sess-b", tk.ID, idle, abs)

	t.Run("round trip with the token's hash", func(t *testing.T) {
		for _, tc := range []struct {
			cs   tenants.ConsoleSession
			hash string
		}{{a, admin.Hash}, {b, tk.Hash}} {
			got, err := h.s.ConsoleSession(h.ctx, tc.cs.Hash)
			mustNil(t, "ConsoleSession", err)
			want := normConsoleSession(tc.cs)
			want.TokenHash = tc.hash
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ConsoleSession:\n got %+v\nwant %+v", got, want)
			}
		}
	})
	t.Run("touch", func(t *testing.T) {
		later := baseTime.Add(13 * time.Hour)
		mustNil(t, "TouchConsoleSession", h.s.TouchConsoleSession(h.ctx, a.Hash, later))
		got, err := h.s.ConsoleSession(h.ctx, a.Hash)
		mustNil(t, "ConsoleSession", err)
		if !got.IdleExpires.Equal(ms(later)) || !got.Expires.Equal(ms(abs)) {
			t.Errorf("after touch: idle %v abs %v, want %v %v", got.IdleExpires, got.Expires, ms(later), ms(abs))
		}
	})
	errs := []struct {
		name   string
		call   func() error
		target error
	}{
		{"unknown hash", func() error { _, err := h.s.ConsoleSession(h.ctx, tokenHash("nope")); return err }, tenants.ErrNotFound},
		{"duplicate hash", func() error {
			return h.s.CreateConsoleSession(h.ctx, tenants.ConsoleSession{Hash: a.Hash, TokenID: "k1", IdleExpires: idle, Expires: abs})
		}, tenants.ErrConflict},
		{"unknown token", func() error {
			return h.s.CreateConsoleSession(h.ctx, tenants.ConsoleSession{Hash: tokenHash("x"), TokenID: "k9", IdleExpires: idle, Expires: abs})
		}, tenants.ErrNotFound},
		{"hash is not sha256 hex", func() error {
			return h.s.CreateConsoleSession(h.ctx, tenants.ConsoleSession{Hash: "plain", TokenID: "k1", IdleExpires: idle, Expires: abs})
		}, tenants.ErrInvalid},
		{"no expiry", func() error {
			return h.s.CreateConsoleSession(h.ctx, tenants.ConsoleSession{Hash: tokenHash("y"), TokenID: "k1"})
		}, tenants.ErrInvalid},
		{"touch unknown", func() error { return h.s.TouchConsoleSession(h.ctx, tokenHash("nope"), idle) }, tenants.ErrNotFound},
		{"delete unknown", func() error { return h.s.DeleteConsoleSession(h.ctx, tokenHash("nope")) }, tenants.ErrNotFound},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.call(), tc.target) })
	}
	t.Run("delete", func(t *testing.T) {
		mustNil(t, "DeleteConsoleSession", h.s.DeleteConsoleSession(h.ctx, a.Hash))
		_, err := h.s.ConsoleSession(h.ctx, a.Hash)
		wantErr(t, "ConsoleSession deleted", err, tenants.ErrNotFound)
		if _, err := h.s.ConsoleSession(h.ctx, b.Hash); err != nil {
			t.Errorf("other session gone: %v", err)
		}
	})
}

func testConsoleSessionsEndWithToken(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.tenant(t, "t2", "other")
	h.token(t, "k1", "t1", "one")
	h.token(t, "k2", "t1", "two")
	h.token(t, "k3", "t2", "three")
	idle, abs := baseTime.Add(time.Hour), baseTime.Add(2*time.Hour)
	s1 := h.consoleSession(t, "s1", "k1", idle, abs)
	s2 := h.consoleSession(t, "s2", "k2", idle, abs)
	s3 := h.consoleSession(t, "s3", "k3", idle, abs)
	gone := func(t *testing.T, cs tenants.ConsoleSession, want bool) {
		t.Helper()
		_, err := h.s.ConsoleSession(h.ctx, cs.Hash)
		if want {
			wantErr(t, "ConsoleSession", err, tenants.ErrNotFound)
		} else if err != nil {
			t.Errorf("session of token %s gone: %v", cs.TokenID, err)
		}
	}
	t.Run("token deleted", func(t *testing.T) {
		mustNil(t, "DeleteToken", h.s.DeleteToken(h.ctx, "k1"))
		gone(t, s1, true)
		gone(t, s2, false)
	})
	t.Run("tenant deleted", func(t *testing.T) {
		mustNil(t, "DeleteTenant", h.s.DeleteTenant(h.ctx, "t1"))
		gone(t, s2, true)
		gone(t, s3, false)
	})
}

func testConsoleSessionExpiry(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.token(t, "k1", "t1", "one")
	now := baseTime.Add(time.Hour)
	tests := []struct {
		name      string
		idle, abs time.Duration // from now
		expired   bool
	}{
		{"live", time.Minute, time.Hour, false},
		{"idle expired", -time.Minute, time.Hour, true},
		{"absolute expired", time.Minute, -time.Minute, true},
		{"both expired", -time.Minute, -time.Minute, true},
	}
	for _, tc := range tests {
		h.consoleSession(t, tc.name, "k1", now.Add(tc.idle), now.Add(tc.abs))
	}
	n, err := h.s.DeleteExpiredConsoleSessions(h.ctx, now)
	mustNil(t, "DeleteExpiredConsoleSessions", err)
	if n != 3 {
		t.Errorf("DeleteExpiredConsoleSessions = %d, want 3", n)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.s.ConsoleSession(h.ctx, tokenHash(tc.name))
			if tc.expired {
				wantErr(t, "ConsoleSession", err, tenants.ErrNotFound)
			} else if err != nil {
				t.Errorf("live session deleted: %v", err)
			}
		})
	}
}
