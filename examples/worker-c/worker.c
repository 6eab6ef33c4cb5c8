/*
 * worker-c: a Pier worker in C, written directly against the http-wasm
 * handler ABI (module "http_handler") and Pier's own imports (module
 * "pier"); see docs/workers.md.
 *
 *   GET /c/hello[?name=x]  -> "hello, x from C" (text/plain)
 *   GET /c/headers         -> the request's header names, one a line
 *   anything else          -> falls through to the site's static assets
 *
 * Build (Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32):
 *   clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor \
 *     -Wl,--export=handle_request -Wl,--strip-all -o build/worker.wasm worker.c
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define IMPORT(module, name) __attribute__((import_module(module), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

/* http_handler: https://http-wasm.io/http-handler-abi/ */
IMPORT("http_handler", "get_method")
int32_t get_method(char *buf, int32_t buf_limit);
IMPORT("http_handler", "get_uri")
int32_t get_uri(char *buf, int32_t buf_limit);
IMPORT("http_handler", "get_header_names")
int64_t get_header_names(int32_t kind, char *buf, int32_t buf_limit);
IMPORT("http_handler", "set_status_code")
void set_status_code(int32_t status);
IMPORT("http_handler", "set_header_value")
void set_header_value(int32_t kind, const char *name, int32_t name_len,
                      const char *value, int32_t value_len);
IMPORT("http_handler", "write_body")
void write_body(int32_t kind, const char *buf, int32_t len);

/* pier: Pier's own imports */
IMPORT("pier", "log")
void pier_log(const char *msg, int32_t len);

enum { KIND_REQUEST = 0, KIND_RESPONSE = 1 };
enum { RESPONSE_WRITTEN = 0, NEXT = 1 };

/* One request at a time per instance: static buffers are safe. */
static char uri[2048];
static char method[16];
static char names[8192];
static char body[8192];

static int has_prefix(const char *s, size_t n, const char *prefix) {
    size_t p = strlen(prefix);
    return n >= p && memcmp(s, prefix, p) == 0;
}

/* path_is reports whether the URI's path (before '?') equals path. */
static int path_is(const char *u, size_t n, const char *path) {
    size_t p = strlen(path);
    return n >= p && memcmp(u, path, p) == 0 && (n == p || u[p] == '?');
}

/* query_param copies the value of name in the URI's query into out
 * (no percent-decoding) and returns its length, or -1 if absent. */
static int query_param(const char *u, size_t n, const char *name, char *out, size_t out_cap) {
    const char *q = memchr(u, '?', n);
    if (!q) return -1;
    size_t name_len = strlen(name);
    const char *end = u + n, *p = q + 1;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > name_len && memcmp(p, name, name_len) == 0 && p[name_len] == '=') {
            size_t len = (size_t)(stop - p) - name_len - 1;
            if (len >= out_cap) len = out_cap - 1;
            memcpy(out, p + name_len + 1, len);
            out[len] = 0;
            return (int)len;
        }
        p = stop + 1;
    }
    return -1;
}

static void respond(int32_t status, const char *content_type, const char *b, int32_t len) {
    static const char ct[] = "Content-Type";
    set_status_code(status);
    set_header_value(KIND_RESPONSE, ct, sizeof ct - 1, content_type, (int32_t)strlen(content_type));
    write_body(KIND_RESPONSE, b, len);
}

static int64_t hello(const char *u, size_t n) {
    char name[64];
    if (query_param(u, n, "name", name, sizeof name) <= 0) strcpy(name, "world");
    int len = snprintf(body, sizeof body, "hello, %s from C\n", name);
    if (len >= (int)sizeof body) len = sizeof body - 1;
    respond(200, "text/plain; charset=utf-8", body, len);
    char line[128];
    int l = snprintf(line, sizeof line, "worker-c: hello %s", name);
    pier_log(line, l < (int)sizeof line ? l : (int)sizeof line - 1);
    return RESPONSE_WRITTEN;
}

static int64_t headers(void) {
    int64_t r = get_header_names(KIND_REQUEST, names, sizeof names);
    int32_t len = (int32_t)r; /* r >> 32 is the count of names */
    if (len > (int32_t)sizeof names) {
        const char msg[] = "too many headers\n";
        respond(431, "text/plain; charset=utf-8", msg, sizeof msg - 1);
        return RESPONSE_WRITTEN;
    }
    /* NUL-terminated names become lines. */
    int32_t out = 0;
    for (int32_t i = 0; i < len && out < (int32_t)sizeof body; i++)
        body[out++] = names[i] ? names[i] : '\n';
    respond(200, "text/plain; charset=utf-8", body, out);
    return RESPONSE_WRITTEN;
}

EXPORT("handle_request")
int64_t handle_request(void) {
    int32_t n = get_uri(uri, sizeof uri);
    if (n > (int32_t)sizeof uri || !has_prefix(uri, (size_t)n, "/c/"))
        return NEXT; /* long URIs are never ours */
    int32_t m = get_method(method, sizeof method);
    int get = m == 3 && memcmp(method, "GET", 3) == 0;
    int head = m == 4 && memcmp(method, "HEAD", 4) == 0;
    if (!get && !head) return NEXT;
    if (path_is(uri, (size_t)n, "/c/hello")) return hello(uri, (size_t)n);
    if (path_is(uri, (size_t)n, "/c/headers")) return headers();
    return NEXT;
}

/* Called after a request that fell through; nothing to do. */
EXPORT("handle_response")
void handle_response(int32_t req_ctx, int32_t is_error) {
    (void)req_ctx;
    (void)is_error;
}
