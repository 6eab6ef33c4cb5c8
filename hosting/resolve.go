package hosting

import (
	"net/http"
	"strings"

	"github.com/pierhq/pier/tenants"
)

// intent is the outcome of resolving a decoded request path against a
// deployment's files: serve an asset (with status 200, or 404 for a
// 404.html page), or redirect (307) to another decoded path.
type intent struct {
	file     *file
	status   int
	redirect string
	fallback bool // produced by not_found_handling, not html_handling
}

func (it intent) none() bool { return it.file == nil && it.redirect == "" }

// resolver implements Cloudflare's Workers static assets path resolution
// (html_handling and not_found_handling) over a file set. It is the
// reference semantics: the loaded deployment precomputes its answers for
// every path that can resolve by html_handling, and falls back to
// notFound at request time for all others.
//
// Like Cloudflare, a resolution redirects to a canonical path only when the
// canonical path would serve the same content (the same hash) as the file
// the request names.
type resolver struct {
	files    map[string]*file
	html     string // tenants.HTML* mode
	notFound string // tenants.NotFound* mode
}

func (rs *resolver) exists(p string) *file { return rs.files[p] }

func asset(f *file, fallback bool) intent {
	return intent{file: f, status: http.StatusOK, fallback: fallback}
}

// resolve returns the intent for decoded path p. skip disables redirects
// (used while checking a redirect's destination).
func (rs *resolver) resolve(p string, skip bool) intent {
	switch rs.html {
	case tenants.HTMLForceTrailingSlash:
		return rs.force(p, skip)
	case tenants.HTMLDropTrailingSlash:
		return rs.drop(p, skip)
	case tenants.HTMLNone:
		if f := rs.exists(p); f != nil {
			return asset(f, false)
		}
		return rs.fallback(p)
	default:
		return rs.auto(p, skip)
	}
}

// trim returns p without suffix n bytes.
func trim(p string, n int) string { return p[:len(p)-n] }

func (rs *resolver) auto(p string, skip bool) intent {
	exact := rs.exists(p)
	switch {
	case strings.HasSuffix(p, "/index"):
		if exact != nil {
			return asset(exact, false)
		}
		if it := rs.safeRedirect(p+".html", trim(p, len("index")), skip); !it.none() {
			return it
		}
		if it := rs.safeRedirect(trim(p, len("/index"))+".html", trim(p, len("/index")), skip); !it.none() {
			return it
		}
	case strings.HasSuffix(p, "/index.html"):
		if it := rs.safeRedirect(p, trim(p, len("index.html")), skip); !it.none() {
			return it
		}
		if it := rs.safeRedirect(trim(p, len("/index.html"))+".html", trim(p, len("/index.html")), skip); !it.none() {
			return it
		}
	case strings.HasSuffix(p, "/"):
		if f := rs.exists(p + "index.html"); f != nil {
			return asset(f, false)
		}
		if it := rs.safeRedirect(trim(p, 1)+".html", trim(p, 1), skip); !it.none() {
			return it
		}
	case strings.HasSuffix(p, ".html"):
		if it := rs.safeRedirect(p, trim(p, len(".html")), skip); !it.none() {
			return it
		}
		if it := rs.safeRedirect(trim(p, len(".html"))+"/index.html", trim(p, len(".html"))+"/", skip); !it.none() {
			return it
		}
	}
	if exact != nil {
		return asset(exact, false)
	}
	if f := rs.exists(p + ".html"); f != nil {
		return asset(f, false)
	}
	if it := rs.safeRedirect(p+"/index.html", p+"/", skip); !it.none() {
		return it
	}
	return rs.fallback(p)
}

func (rs *resolver) force(p string, skip bool) intent {
	exact := rs.exists(p)
	switch {
	case strings.HasSuffix(p, "/index"):
		if exact != nil {
			return asset(exact, false)
		}
		if it := rs.safeRedirect(p+".html", trim(p, len("index")), skip); !it.none() {
			return it
		}
		if it := rs.safeRedirect(trim(p, len("/index"))+".html", trim(p, len("index")), skip); !it.none() {
			return it
		}
	case strings.HasSuffix(p, "/index.html"):
		if it := rs.safeRedirect(p, trim(p, len("index.html")), skip); !it.none() {
			return it
		}
		if it := rs.safeRedirect(trim(p, len("/index.html"))+".html", trim(p, len("index.html")), skip); !it.none() {
			return it
		}
	case strings.HasSuffix(p, "/"):
		if f := rs.exists(p + "index.html"); f != nil {
			return asset(f, false)
		}
		if f := rs.exists(trim(p, 1) + ".html"); f != nil {
			return asset(f, false)
		}
	case strings.HasSuffix(p, ".html"):
		if it := rs.safeRedirect(p, trim(p, len(".html"))+"/", skip); !it.none() {
			return it
		}
		if exact != nil {
			// Both /foo.html and /foo/index.html exist: /foo.html is
			// served at /foo.html only.
			return asset(exact, false)
		}
		if it := rs.safeRedirect(trim(p, len(".html"))+"/index.html", trim(p, len(".html"))+"/", skip); !it.none() {
			return it
		}
	}
	if exact != nil {
		return asset(exact, false)
	}
	if it := rs.safeRedirect(p+".html", p+"/", skip); !it.none() {
		return it
	}
	if it := rs.safeRedirect(p+"/index.html", p+"/", skip); !it.none() {
		return it
	}
	return rs.fallback(p)
}

func (rs *resolver) drop(p string, skip bool) intent {
	exact := rs.exists(p)
	switch {
	case strings.HasSuffix(p, "/index"):
		if exact != nil {
			return asset(exact, false)
		}
		if p == "/index" {
			if it := rs.safeRedirect("/index.html", "/", skip); !it.none() {
				return it
			}
		} else if it := rs.safeRedirect(trim(p, len("/index"))+".html", trim(p, len("/index")), skip); !it.none() {
			return it
		} else if it := rs.safeRedirect(p+".html", trim(p, len("/index")), skip); !it.none() {
			return it
		}
	case strings.HasSuffix(p, "/index.html"):
		if p == "/index.html" {
			if it := rs.safeRedirect("/index.html", "/", skip); !it.none() {
				return it
			}
		} else if it := rs.safeRedirect(p, trim(p, len("/index.html")), skip); !it.none() {
			return it
		} else if exact != nil {
			// Both /foo.html and /foo/index.html exist: /foo/index.html
			// is served at /foo/index.html only.
			return asset(exact, false)
		} else if it := rs.safeRedirect(trim(p, len("/index.html"))+".html", trim(p, len("/index.html")), skip); !it.none() {
			return it
		}
	case strings.HasSuffix(p, "/"):
		if p == "/" {
			if f := rs.exists("/index.html"); f != nil {
				return asset(f, false)
			}
		} else if it := rs.safeRedirect(trim(p, 1)+".html", trim(p, 1), skip); !it.none() {
			return it
		} else if it := rs.safeRedirect(trim(p, 1)+"/index.html", trim(p, 1), skip); !it.none() {
			return it
		}
	case strings.HasSuffix(p, ".html"):
		if it := rs.safeRedirect(p, trim(p, len(".html")), skip); !it.none() {
			return it
		}
		if it := rs.safeRedirect(trim(p, len(".html"))+"/index.html", trim(p, len(".html")), skip); !it.none() {
			return it
		}
	}
	if exact != nil {
		return asset(exact, false)
	}
	if f := rs.exists(p + ".html"); f != nil {
		return asset(f, false)
	}
	if f := rs.exists(p + "/index.html"); f != nil {
		return asset(f, false)
	}
	return rs.fallback(p)
}

// safeRedirect answers a redirect to dest when the request names file and
// dest is not itself a file but resolves (without redirects) to the same
// content as file.
func (rs *resolver) safeRedirect(file, dest string, skip bool) intent {
	if skip || rs.exists(dest) != nil {
		return intent{}
	}
	target := rs.exists(file)
	if target == nil {
		return intent{}
	}
	it := rs.resolve(dest, true)
	if it.file != nil && it.file.hash == target.hash {
		return intent{redirect: dest}
	}
	return intent{}
}

// fallback applies not_found_handling to p.
func (rs *resolver) fallback(p string) intent {
	switch rs.notFound {
	case tenants.NotFoundSPA:
		if looksLikeAsset(p) {
			return intent{}
		}
		if f := rs.exists("/index.html"); f != nil {
			return asset(f, true)
		}
	case tenants.NotFound404:
		for dir := p; ; {
			i := strings.LastIndexByte(dir, '/')
			if i < 0 {
				break
			}
			dir = dir[:i]
			if f := rs.exists(dir + "/404.html"); f != nil {
				return intent{file: f, status: http.StatusNotFound, fallback: true}
			}
		}
	}
	return intent{}
}

// candidates appends every request path that html_handling can resolve to
// the file at path f (in any mode); all other paths reach not_found_handling.
func candidates(dst []string, f string) []string {
	dst = append(dst, f)
	base, ok := strings.CutSuffix(f, ".html")
	if !ok {
		return dst
	}
	dst = append(dst, base, base+"/", base+"/index", base+"/index.html")
	if dir, ok := strings.CutSuffix(f, "/index.html"); ok {
		dst = append(dst, dir+"/")
		if dir != "" {
			dst = append(dst, dir, dir+".html")
		}
	}
	return dst
}
