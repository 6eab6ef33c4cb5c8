package admin

import (
	"encoding/json"
	"testing"
)

func TestLostUTF8(t *testing.T) {
	tests := []struct {
		raw  string // a JSON text with one string field
		lost bool
	}{
		{`{"v":"plain"}`, false},
		{`{"v":"\ud83d\ude00"}`, false}, // a pair: 😀
		{`{"v":"\uD83D\uDE00"}`, false},
		{`{"v":"\ufffd"}`, false}, // U+FFFD sent as such
		{"{\"v\":\"\xef\xbf\xbd\"}", false},
		{`{"v":"\\ud800"}`, false}, // an escaped backslash, then text
		{`{"v":"\ud800"}`, true},
		{`{"v":"\udc00"}`, true},
		{`{"v":"a\ud800b"}`, true},
		{`{"v":"\ud800\u0041"}`, true}, // a high half, then no low one
		{`{"v":"\ufffd\ud800"}`, true}, // a U+FFFD sent does not hide a lost one
		{`{"v":"\\ufffd\ud800"}`, true},
		{`{"v":"\\\ud800"}`, true},
		{`{"v":"\ud800\ud800\udc00"}`, true},
		{"{\"v\":\"a\xffb\"}", true}, // an invalid byte
	}
	for _, tc := range tests {
		var v struct{ V string }
		if err := json.Unmarshal([]byte(tc.raw), &v); err != nil {
			t.Fatalf("%s: %v", tc.raw, err)
		}
		if got := lostUTF8([]byte(tc.raw), v.V); got != tc.lost {
			t.Errorf("lostUTF8(%s) = %v, want %v (decoded %q)", tc.raw, got, tc.lost, v.V)
		}
	}
}
