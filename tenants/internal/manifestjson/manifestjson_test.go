package manifestjson

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/pierhq/pier/assets"
)

// same checks Decode agrees with encoding/json on data, results and
// whether it fails.
func same(t *testing.T, data []byte) {
	t.Helper()
	var want assets.Manifest
	wantErr := json.Unmarshal(data, &want)
	got, err := Decode(data)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("Decode(%q) error = %v, encoding/json says %v", data, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode(%q) = %#v, encoding/json gives %#v", data, got, want)
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		fast bool // parsed without encoding/json
	}{
		{"null", `null`, true},
		{"null with spaces", " null \n", true},
		{"empty", `{}`, true},
		{"empty with spaces", ` { } `, true},
		{"marshal output", `{"/a.html":{"hash":"0123456789abcdef","size":12,"content_type":"text/html; charset=utf-8","br_size":5,"gz_size":7},"/b":{"hash":"fedcba9876543210","size":0}}`, true},
		{"jsonb output", `{"/a.html": {"hash": "0123456789abcdef", "size": 12, "br_size": 5, "gz_size": 7, "content_type": "text/html"}}`, true},
		{"empty entry", `{"/a":{}}`, true},
		{"unicode path", `{"/caf` + "\u00e9" + `/日本.txt":{"hash":"0123456789abcdef","size":1}}`, true},
		{"duplicate key last wins", `{"/a":{"hash":"0000000000000001"},"/a":{"hash":"0000000000000002"}}`, true},
		{"big size", `{"/a":{"size":999999999999999999}}`, true},
		{"negative size", `{"/a":{"size":-3}}`, true},
		{"escaped quote", `{"/a\"b":{"hash":"0123456789abcdef"}}`, false},
		{"escaped html", `{"/a\u0026b":{"hash":"0123456789abcdef"}}`, false},
		{"escaped surrogate pair", `{"/\ud83d\ude00":{"size":1}}`, false},
		{"invalid utf8", "{\"/\xff\":{\"size\":1}}", false},
		{"unknown field", `{"/a":{"hash":"0123456789abcdef","etag":"x"}}`, false},
		{"case-folded field", `{"/a":{"Hash":"0123456789abcdef","SIZE":3}}`, false},
		{"null field", `{"/a":{"hash":null,"size":1}}`, false},
		{"null entry", `{"/a":null}`, false},
		{"float size", `{"/a":{"size":1.5}}`, false},
		{"exponent size", `{"/a":{"size":1e3}}`, false},
		{"leading zero", `{"/a":{"size":01}}`, false},
		{"overflow", `{"/a":{"size":99999999999999999999}}`, false},
		{"string size", `{"/a":{"size":"1"}}`, false},
		{"trailing comma", `{"/a":{"size":1},}`, false},
		{"trailing garbage", `{"/a":{"size":1}} x`, false},
		{"truncated", `{"/a":{"size":1}`, false},
		{"control character", "{\"/a\nb\":{\"size\":1}}", false},
		{"array", `[]`, false},
		{"empty input", ``, false},
		{"nul", `nul`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			same(t, []byte(tc.in))
			if _, ok := decodeFast([]byte(tc.in)); ok != tc.fast {
				t.Errorf("fast path taken = %v, want %v", ok, tc.fast)
			}
		})
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	m := manifest(5000)
	m["/quote\"and\\backslash"] = assets.Entry{Hash: "0123456789abcdef", Size: 1}
	m["/<script>&"] = assets.Entry{Hash: "0123456789abcdef", ContentType: "text/x-\u2028"}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Error("manifest does not round-trip through json.Marshal and Decode")
	}
	same(t, data)
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{}`, `null`, `{"/a":{"hash":"0123456789abcdef","size":12,"content_type":"text/html"}}`, `{"/a": {"size": -1, "br_size": 0}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { same(t, data) })
}

func manifest(n int) assets.Manifest {
	types := []string{"text/html; charset=utf-8", "text/css; charset=utf-8", "image/png", ""}
	m := make(assets.Manifest, n)
	for i := range n {
		m[fmt.Sprintf("/static/dir%d/file-%d.%d.html", i%31, i, i*7)] = assets.Entry{
			Hash: fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15), Size: int64(i * 13),
			ContentType: types[i%len(types)], BrSize: int64(i % 3), GzSize: int64(i % 5),
		}
	}
	return m
}

func BenchmarkDecode(b *testing.B) {
	data, err := json.Marshal(manifest(10_000))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("manifestjson", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var m assets.Manifest
			if err := json.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
