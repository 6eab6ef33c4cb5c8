// Package hosting owns the edge: the one http.Handler that answers every
// Host (*/*) on the public port. It normalises the Host header, routes
// <site>.<domain> and <deployment>--<site>.<domain> (previews) to a
// deployment, applies the deployment's _redirects, resolves the request
// path with Cloudflare's html_handling and not_found_handling semantics and
// serves the asset from the blob cache with ETag, If-None-Match, Range,
// HEAD, pre-compressed br/gzip variants and the deployment's _headers.
//
// The hot path touches neither the registry nor the blob store for a warm
// site: routes are cached (stale-while-revalidate, negative entries for
// unknown hosts, Invalidate for changes made on this node) and loaded
// deployments are compiled once into lookup tables with precomputed
// response headers, interned across sites deployed from identical content
// and bounded by a CLOCK cache.
//
// # Notes
//
// Path resolution follows Cloudflare's asset worker exactly (see
// resolve.go), with three deliberate differences: a single-page
// application never answers index.html for a path whose last segment has
// a non-.html extension (a missing /app.3f2a.js stays 404); a 404.html
// page is served without validators and ignores If-None-Match and Range
// (RFC 9110 §13.2.1); and a 200 _redirects rewrite whose destination
// html_handling would redirect is served internally instead of leaking a
// 307 to the destination.
//
// Seams for later work: workers, custom domains, TLS, ACME challenges and
// rate limits wrap or extend ServeHTTP's steps (route, then serve); the
// deployment's Worker and RunWorkerFirst are part of its digest already.
//
// hosting is imported by cmd/pier only. It imports tenants, assets,
// internal/siterules and the standard library (plus golang.org/x/net/idna);
// it never imports admin.
package hosting
