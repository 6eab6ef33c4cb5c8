package tenants

import (
	"errors"
	"testing"
)

func TestPageRequestSize(t *testing.T) {
	tests := []struct {
		name  string
		limit int
		want  int
	}{
		{"zero is the default", 0, DefaultPageLimit},
		{"negative is the default", -5, DefaultPageLimit},
		{"one", 1, 1},
		{"max", MaxPageLimit, MaxPageLimit},
		{"over max is capped", MaxPageLimit + 1, MaxPageLimit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := (PageRequest{Limit: tc.limit}).Size(); got != tc.want {
				t.Errorf("Size() = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestCursorRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		c    Cursor
	}{
		{"name key", Cursor{Kind: CursorTenants, Key: "acme"}},
		{"empty key", Cursor{Kind: CursorSites}},
		{"unicode key", Cursor{Kind: CursorDomains, Key: "xn--bcher-kva.example"}},
		{"time and seq", Cursor{Kind: CursorDeployments, Time: 1_772_600_000_123_456, Seq: 42}},
		{"negative time", Cursor{Kind: CursorTokens, Time: -1, Seq: 1 << 40}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.c.Encode()
			got, err := DecodeCursor(tc.c.Kind, s)
			if err != nil {
				t.Fatalf("DecodeCursor(%q): %v", s, err)
			}
			if got != tc.c {
				t.Errorf("round trip = %+v, want %+v", got, tc.c)
			}
		})
	}
}

func TestDecodeCursorRefuses(t *testing.T) {
	good := Cursor{Kind: CursorSites, Key: "blog", Time: 7, Seq: 9}.Encode()
	flipped := []byte(good)
	if flipped[3] == 'A' {
		flipped[3] = 'B'
	} else {
		flipped[3] = 'A'
	}
	long := make([]byte, maxCursorKey+1)
	tests := []struct {
		name string
		kind CursorKind
		s    string
	}{
		{"empty", CursorSites, ""},
		{"not base64url", CursorSites, "a+b/c="},
		{"too short", CursorSites, "AAAA"},
		{"flipped byte", CursorSites, string(flipped)},
		{"truncated", CursorSites, good[:len(good)-2]},
		{"trailing garbage", CursorSites, good + "AA"},
		{"other kind", CursorTenants, good},
		{"key too long", CursorSites, Cursor{Kind: CursorSites, Key: string(long)}.Encode()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeCursor(tc.kind, tc.s)
			if !errors.Is(err, ErrInvalidCursor) || !errors.Is(err, ErrInvalid) {
				t.Errorf("DecodeCursor(%q) = %v, want ErrInvalidCursor", tc.s, err)
			}
		})
	}
}
