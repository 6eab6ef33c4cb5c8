package siterules_test

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/pierhq/pier/internal/siterules"
)

func ExampleRedirects_Match() {
	r, err := siterules.ParseRedirects(`
/home          /               301
/blog/:year/*  /posts/:year/:splat
/app/*         /app.html       200
`)
	if err != nil {
		panic(err)
	}
	for _, p := range []string{"/home", "/blog/2024/hello world", "/app/settings", "/about"} {
		m, ok := r.Match(p, "ref=x")
		fmt.Println(p, "→", m.Status, m.To, ok)
	}
	// Output:
	// /home → 301 /?ref=x true
	// /blog/2024/hello world → 302 /posts/2024/hello%20world?ref=x true
	// /app/settings → 200 /app.html?ref=x true
	// /about → 0  false
}

func ExampleHeaders_Apply() {
	h, err := siterules.ParseHeaders(`
/*
  X-Frame-Options: DENY
/assets/*
  Cache-Control: public, max-age=31536000, immutable
/embed/*
  ! X-Frame-Options
`)
	if err != nil {
		panic(err)
	}
	hdr := http.Header{"Cache-Control": {"public, max-age=0, must-revalidate"}}
	h.Apply("/assets/app.js", hdr)
	fmt.Println(hdr.Get("Cache-Control"), "|", hdr.Get("X-Frame-Options"))

	hdr = http.Header{}
	h.Apply("/embed/map.html", hdr)
	fmt.Println(len(hdr))
	// Output:
	// public, max-age=31536000, immutable | DENY
	// 0
}

func ExampleParseError() {
	_, err := siterules.ParseRedirects("/a /b\n/old /new 404\n")
	var pe *siterules.ParseError
	if errors.As(err, &pe) {
		fmt.Println(pe.Line, err)
	}
	// Output:
	// 2 _redirects line 2: invalid status "404": want 301, 302, 303, 307, 308 or 200
}
