// Package manifestjson decodes the JSON form of an assets.Manifest several
// times faster than encoding/json, for the stores that keep manifests as
// one JSON value per deployment (a manifest can hold 100,000 entries). It
// is imported only by the tenants stores.
package manifestjson

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/pierhq/pier/assets"
)

// Decode parses data exactly as json.Unmarshal into an assets.Manifest
// would. The shapes json.Marshal and PostgreSQL's jsonb output produce are
// parsed directly; anything else (escaped strings, unknown or null fields,
// numbers that are not plain integers, invalid input) is handed to
// encoding/json, so results and errors never differ from it.
func Decode(data []byte) (assets.Manifest, error) {
	if m, ok := decodeFast(data); ok {
		return m, nil
	}
	var m assets.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return m, nil
}

type parser struct {
	b []byte
	i int
	// types interns content types: a manifest repeats a few of them.
	types map[string]string
}

func decodeFast(data []byte) (assets.Manifest, bool) {
	p := parser{b: data}
	p.ws()
	if bytes.HasPrefix(p.b[p.i:], []byte("null")) {
		p.i += 4
		p.ws()
		return nil, p.i == len(p.b)
	}
	if !p.lit('{') {
		return nil, false
	}
	m := make(assets.Manifest, bytes.Count(data, []byte(`"hash"`)))
	p.types = make(map[string]string)
	if !p.lit('}') {
		for {
			path, ok := p.str()
			if !ok || !p.lit(':') {
				return nil, false
			}
			e, ok := p.entry()
			if !ok {
				return nil, false
			}
			m[path] = e
			if p.lit(',') {
				continue
			}
			if p.lit('}') {
				break
			}
			return nil, false
		}
	}
	p.ws()
	return m, p.i == len(p.b)
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// lit consumes c after optional white space.
func (p *parser) lit(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// raw returns the bytes of a string without escapes; false for anything
// else (escapes, control characters, invalid UTF-8 are left to
// encoding/json).
func (p *parser) raw() ([]byte, bool) {
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	start, ascii := p.i+1, true
	for j := start; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			s := p.b[start:j]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			p.i = j + 1
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, false
}

func (p *parser) str() (string, bool) {
	s, ok := p.raw()
	return string(s), ok
}

// int parses a JSON integer that fits an int64 without doubt.
func (p *parser) int() (int64, bool) {
	p.ws()
	neg := false
	if p.i < len(p.b) && p.b[p.i] == '-' {
		neg = true
		p.i++
	}
	start := p.i
	var v int64
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		v = v*10 + int64(p.b[p.i]-'0')
		p.i++
	}
	n := p.i - start
	if n == 0 || n > 18 || (n > 1 && p.b[start] == '0') {
		return 0, false
	}
	if p.i < len(p.b) {
		switch p.b[p.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	if neg {
		v = -v
	}
	return v, true
}

func (p *parser) entry() (assets.Entry, bool) {
	var e assets.Entry
	if !p.lit('{') {
		return e, false
	}
	if p.lit('}') {
		return e, true
	}
	for {
		key, ok := p.raw()
		if !ok || !p.lit(':') {
			return e, false
		}
		switch string(key) {
		case "hash":
			e.Hash, ok = p.str()
		case "content_type":
			var s []byte
			if s, ok = p.raw(); ok {
				t, seen := p.types[string(s)]
				if !seen {
					t = string(s)
					p.types[t] = t
				}
				e.ContentType = t
			}
		case "size":
			e.Size, ok = p.int()
		case "br_size":
			e.BrSize, ok = p.int()
		case "gz_size":
			e.GzSize, ok = p.int()
		default:
			return e, false // unknown, or a case variant encoding/json folds
		}
		if !ok {
			return e, false
		}
		if p.lit(',') {
			continue
		}
		return e, p.lit('}')
	}
}
