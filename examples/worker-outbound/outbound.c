/*
 * worker-outbound: an operator's outbound worker for Pier, in C against the
 * http-wasm handler ABI (module "http_handler") and Pier's imports (module
 * "pier"); see docs/workers.md, "The outbound worker", and README.md.
 *
 * `pier serve --outbound-worker build/worker.wasm` runs it for every fetch
 * of every tenant's worker, before the egress policy. It sees the fetch as
 * its request (method, path and query, headers with Host = the target
 * host, body) and the tenant, site, plan and full URL as variables. Here:
 *
 *   - a fetch to a host in DENY_HOSTS is answered 403 with a JSON body
 *     naming the host (the tenant's worker gets that answer);
 *   - every other fetch continues to the network with the header
 *     Pier-Outbound: checked added;
 *   - every call is logged (to the tenant's live log, marked "outbound: ").
 *
 * DENY_HOSTS (--outbound-worker-var DENY_HOSTS=a.example,*.b.example) is a
 * comma-separated list of host names; "*.example.com" matches any name
 * below example.com. Unset: blocked.example and *.blocked.example.
 *
 * Build (Debian: clang lld wasi-libc libclang-rt-dev-wasm32):
 *   clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor \
 *     -Wl,--export=handle_request -Wl,--strip-all -o build/worker.wasm outbound.c
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define IMPORT(module, name) __attribute__((import_module(module), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

/* http_handler: https://http-wasm.io/http-handler-abi/ */
IMPORT("http_handler", "get_method")
int32_t get_method(char *buf, int32_t buf_limit);
IMPORT("http_handler", "get_header_values")
int64_t get_header_values(int32_t kind, const char *name, int32_t name_len, char *buf, int32_t buf_limit);
IMPORT("http_handler", "set_header_value")
void set_header_value(int32_t kind, const char *name, int32_t name_len, const char *value, int32_t value_len);
IMPORT("http_handler", "set_status_code")
void set_status_code(int32_t status);
IMPORT("http_handler", "write_body")
void write_body(int32_t kind, const char *buf, int32_t len);

/* pier: Pier's own imports */
IMPORT("pier", "get_var")
int32_t get_var(const char *name, int32_t name_len, char *buf, int32_t buf_limit);
IMPORT("pier", "log")
void pier_log(const char *msg, int32_t len);

enum { KIND_REQUEST = 0, KIND_RESPONSE = 1 };
enum { RESPONSE_WRITTEN = 0, NEXT = 1 };

static const char default_deny[] = "blocked.example,*.blocked.example";

/* One request at a time per instance: static buffers are safe. */
static char url[2048], tenant[128], site[128], method[32], host[256], deny[4096], body[1024], line[2600];

/* var reads variable name into buf (NUL-terminated) and returns its
 * length, or -1 when it is unset or does not fit. */
static int var(const char *name, char *buf, int32_t cap) {
    int32_t n = get_var(name, (int32_t)strlen(name), buf, cap - 1);
    if (n < 0 || n >= cap) {
        buf[0] = 0;
        return -1;
    }
    buf[n] = 0;
    return n;
}

/* target_host puts the request's Host header, lower-cased and without a
 * port, in host. */
static void target_host(void) {
    static const char name[] = "Host";
    int64_t r = get_header_values(KIND_REQUEST, name, sizeof name - 1, host, sizeof host);
    int32_t len = (int32_t)r; /* NUL-terminated values; r >> 32 is their count */
    if ((r >> 32) == 0 || len > (int32_t)sizeof host) {
        host[0] = 0;
        return;
    }
    host[sizeof host - 1] = 0;
    for (char *p = host; *p; p++) {
        if (*p == ':' && host[0] != '[') { /* host:port; an IPv6 literal keeps its brackets */
            *p = 0;
            break;
        }
        *p = (char)tolower((unsigned char)*p);
    }
    size_t n = strlen(host);
    if (n > 0 && host[n - 1] == '.') host[n - 1] = 0;
}

/* matches reports whether host matches one glob of the comma-separated
 * list: "name" or "*.suffix". */
static int matches(const char *list, const char *h) {
    size_t hl = strlen(h);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n > 0 && isspace((unsigned char)*p)) p++, n--;
        while (n > 0 && isspace((unsigned char)p[n - 1])) n--;
        if (n > 2 && p[0] == '*' && p[1] == '.') {
            size_t s = n - 1; /* ".suffix" */
            if (hl > s && strncasecmp(h + hl - s, p + 1, s) == 0) return 1;
        } else if (n > 0 && n == hl && strncasecmp(h, p, n) == 0) {
            return 1;
        }
        if (!comma) break;
        p = comma + 1;
    }
    return 0;
}

/* json_string appends s to out as a JSON string's contents. */
static size_t json_string(char *out, size_t cap, size_t at, const char *s) {
    for (; *s && at + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[at++] = '\\';
            out[at++] = (char)c;
        } else if (c < 0x20) {
            at += (size_t)snprintf(out + at, cap - at, "\\u%04x", c);
        } else {
            out[at++] = (char)c;
        }
    }
    return at;
}

static void log_call(const char *decision) {
    int n = snprintf(line, sizeof line, "%s %s %s (tenant %s, site %s)", decision, method, url, tenant, site);
    if (n >= (int)sizeof line) n = sizeof line - 1;
    if (n > 0) pier_log(line, n);
}

static int64_t refuse(void) {
    static const char ct[] = "Content-Type", json[] = "application/json";
    size_t at = (size_t)snprintf(body, sizeof body, "{\"error\":{\"code\":\"outbound_denied\",\"message\":\"the platform does not allow fetches to this host\",\"host\":\"");
    at = json_string(body, sizeof body, at, host);
    at += (size_t)snprintf(body + at, sizeof body - at, "\"}}\n");
    if (at >= sizeof body) at = sizeof body - 1;
    set_status_code(403);
    set_header_value(KIND_RESPONSE, ct, sizeof ct - 1, json, sizeof json - 1);
    write_body(KIND_RESPONSE, body, (int32_t)at);
    log_call("deny");
    return RESPONSE_WRITTEN;
}

EXPORT("handle_request")
int64_t handle_request(void) {
    var("PIER_URL", url, sizeof url);
    var("PIER_TENANT", tenant, sizeof tenant);
    var("PIER_SITE", site, sizeof site);
    int32_t m = get_method(method, sizeof method - 1);
    method[m >= 0 && m < (int32_t)sizeof method ? m : 0] = 0;
    target_host();
    const char *list = var("DENY_HOSTS", deny, sizeof deny) >= 0 ? deny : default_deny;
    if (matches(list, host)) return refuse();

    static const char name[] = "Pier-Outbound", value[] = "checked";
    set_header_value(KIND_REQUEST, name, sizeof name - 1, value, sizeof value - 1);
    log_call("pass");
    return NEXT;
}
