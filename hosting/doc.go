// Package hosting owns the edge: the one http.Handler that answers every
// Host (*/*) on the public port. It normalises the Host header, routes
// <site>.<domain>, <deployment>--<site>.<domain> (previews) and
// <alias>--<site>.<domain> (git branch aliases, also previews) to a
// deployment, applies the deployment's _redirects, resolves the request
// path with Cloudflare's html_handling and not_found_handling semantics and
// serves the asset from the blob cache with ETag, If-None-Match, Range,
// HEAD, pre-compressed br/gzip variants and the deployment's _headers, or
// hands the request to the deployment's WebAssembly worker.
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
// # Rate limits
//
// With Config.RateLimits, every request of a routed site is first checked
// against the site's request rate: a token bucket per site on this node
// (all its hosts share it) from the tenant's effective RequestsPerSecond
// and RequestBurst. A request over it is answered 429 rate_limited with
// Retry-After before any asset or worker; see ratelimit.go.
//
// # Workers
//
// A deployment with a worker (Deployment.Worker, the hash of its wasm
// blob) is dispatched as docs/architecture.md ("Dispatch order") says: the
// worker first when run_worker_first matches the decoded path (see
// runFirst for the encoding: Cloudflare's patterns, "!" excludes, true is
// stored as ["/*"]); then _redirects; then the asset html_handling
// resolves; then the worker when no asset answered (a 200 rewrite to a
// missing asset included); not_found_handling only for sites without a
// worker. Static assets answer GET and HEAD only: other methods go to the
// worker, or get 405 without one. A worker's response goes out as the
// worker wrote it, plus X-Content-Type-Options: nosniff when absent (and
// X-Robots-Tag on previews); the guest's next (http-wasm next=1) runs the
// static logic for the request as the guest left it, never the worker
// again.
//
// Each site gets its own *worker.Worker per loaded deployment, created on
// the first worker request (concurrent first requests wait for one load)
// with the tenant's effective limits and the deployment's vars. Workers
// are never interned across sites, even when the static part is: a
// guest's memory outlives a request. A worker is retired by Invalidate,
// by the eviction of its deployment, by a route revalidation that finds
// another deployment active, or by a change of the tenant's limits, and
// closed once the requests using it finish. Config.Workers nil answers
// every request that would reach a worker 503 workers_disabled.
//
// Per request the runtime gets a worker.Host: Fetch goes through the
// egress policy of the tenant's plan (package egress, one transport per
// plan) — first through the operator's outbound worker when
// Config.Outbound is set (outbound.go: it answers the fetch itself or lets
// it continue, and its failures fail that fetch only) —, Asset serves the deployment's own assets in-process (as a GET of
// that path would be answered, _headers included; a 404 is
// worker.ErrAssetNotFound), Log publishes to the site's log stream.
//
// # Counters
//
// Every request routed to a site counts its status class and body bytes
// with two atomic adds on counters the route already holds (no lock, no
// allocation on the static path); worker invocations add their outcome,
// CPU time and subrequests, and publish one logstream invocation event
// when someone listens; any other request of a followed site publishes
// one request event saying how it was answered (static, redirect,
// not_found…). Whether anyone follows costs one atomic load while nobody
// follows any site. Edge.WriteMetrics writes them all in the
// Prometheus text format, which cmd/pier serves at /metrics. A
// UsageFlusher (usageflush.go) persists them: every 10 s, at each minute
// boundary and at shutdown it adds what each site counted since its
// previous flush to the site's row of that minute in the store (one
// AddUsage call, one transaction), reading the same atomic counters, so
// the request path is unchanged. Edge.Usage reads one site's counters
// (only tests call it).
//
// Custom domains: when the Registry also implements DomainRegistry, a host
// outside the platform domain routes to the site of its active claim
// (cached like other routes; InvalidateHost drops one), and
// /.well-known/pier-challenge/<token> answers the HTTP ownership proof of
// a pending claim. The decisions TLS makes from memory (which names get a
// certificate) live in internal/tlspolicy, not here.
//
// Branch aliases: when the Registry also implements BranchRegistry, a
// preview prefix that is not shaped like a generated deployment id
// (dnsname.IsDeploymentIDShape) and names no deployment of the site is
// looked up as a git branch alias, which serves the deployment of the
// branch's latest push; an unknown alias is the same 404 as an unknown
// preview. A push that moves an alias is a ChangeSite of the site, and
// Invalidate drops the site's alias routes with its other routes.
//
// The edge is a tenants.ChangeFollower: SiteChanged and DomainChanged
// drop cached routes when the admin API or the store's change feed says
// a site or a hostname changed. PrewarmWorkers compiles live workers at
// start-up.
//
// KV (kv.go, kvcache.go): a worker reaches the namespaces its deployment
// binds through the request's Host (worker.KV), which checks once per
// namespace and node that the namespace belongs to the deployment's tenant,
// and reads through a node-local cache bounded by bytes with a share per
// tenant. Writes go to Config.KV (the store) and then through the cache;
// the edge is a tenants.KVFollower, so KVChanged invalidates keys other
// nodes (or the admin API) wrote, and Resync drops the whole cache.
//
// TLS and ACME challenges wrap ServeHTTP in cmd/pier (package certs);
// RedirectToHTTPS sends custom domains to https.
//
// Errors: every error the edge answers a visitor with goes through one
// function, Edge.writeError (errors.go), in the format the request's
// Accept prefers: the JSON envelope {"error":{"code","message"}}, a small
// self-contained HTML page, or plain text; the stable code is in each. A
// worker reports its failures in its worker.Result and writes nothing;
// runWorker answers them through the same function.
//
// hosting is imported by cmd/pier only. It imports tenants, assets,
// hosting/worker, hosting/egress, internal/dnsname, internal/siterules,
// internal/logstream and the standard library; it never imports admin,
// nor internal/httperr (the admin API's errors).
package hosting
