package admin_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/pierhq/pier/admin"
)

var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options"}

// loadOpenAPI fetches the served document.
func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	e := newEnv(t)
	r := must(t, e.do(t, "GET", "/api/v1/openapi.json", "", nil), 200)
	return r.body
}

// resolve follows a local JSON pointer ("#/components/…").
func resolve(t *testing.T, doc map[string]any, ref string) any {
	t.Helper()
	if !strings.HasPrefix(ref, "#/") {
		t.Fatalf("non-local $ref %q", ref)
	}
	var cur any = doc
	for _, part := range strings.Split(ref[2:], "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		m, ok := cur.(map[string]any)
		if !ok || m[part] == nil {
			t.Fatalf("$ref %q does not resolve (at %q)", ref, part)
		}
		cur = m[part]
	}
	return cur
}

func deref(t *testing.T, doc map[string]any, v any) map[string]any {
	t.Helper()
	m, _ := v.(map[string]any)
	for m != nil && m["$ref"] != nil {
		m, _ = resolve(t, doc, m["$ref"].(string)).(map[string]any)
	}
	if m == nil {
		t.Fatalf("not an object: %v", v)
	}
	return m
}

// TestOpenAPIMatchesRouter keeps the hand-written document true: the set
// of (method, path) it describes equals the router's, and every operation
// documents its answers, errors with the Error schema.
func TestOpenAPIMatchesRouter(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi %v", doc["openapi"])
	}

	var routed []string
	api := admin.New(admin.Config{}, nil, nil)
	err := chi.Walk(api.Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed = append(routed, method+" "+strings.TrimSuffix(route, "/"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	paths := doc["paths"].(map[string]any)
	var documented []string
	for p, item := range paths {
		for _, m := range httpMethods {
			if item.(map[string]any)[m] != nil {
				documented = append(documented, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(routed)
	sort.Strings(documented)
	if len(routed) == 0 {
		t.Fatal("chi.Walk found no routes")
	}
	t.Run("same operations", func(t *testing.T) {
		for _, r := range routed {
			if !slices.Contains(documented, r) {
				t.Errorf("routed but not documented: %s", r)
			}
		}
		for _, d := range documented {
			if !slices.Contains(routed, d) {
				t.Errorf("documented but not routed: %s", d)
			}
		}
	})

	errorSchema := "#/components/schemas/Error"
	paramRE := regexp.MustCompile(`\{([^}]+)\}`)
	for _, op := range documented {
		method, p, _ := strings.Cut(op, " ")
		item := paths[p].(map[string]any)
		o := item[strings.ToLower(method)].(map[string]any)
		t.Run(op, func(t *testing.T) {
			if o["operationId"] == nil || o["summary"] == nil {
				t.Errorf("no operationId or summary")
			}
			responses, _ := o["responses"].(map[string]any)
			if len(responses) == 0 {
				t.Fatalf("no responses")
			}
			var ok2xx bool
			for code, r := range responses {
				res := deref(t, doc, r)
				if res["description"] == nil {
					t.Errorf("response %s has no description", code)
				}
				if strings.HasPrefix(code, "2") {
					ok2xx = true
					continue
				}
				schema := res["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
				if schema["$ref"] != errorSchema {
					t.Errorf("response %s does not use the Error schema", code)
				}
			}
			if !ok2xx {
				t.Errorf("no success response")
			}
			public := o["security"] != nil && len(o["security"].([]any)) == 0
			if !public && responses["401"] == nil {
				t.Errorf("authenticated operation does not document 401")
			}
			if strings.Contains(p, "{") && responses["404"] == nil {
				t.Errorf("operation on a resource does not document 404")
			}
			declared := map[string]bool{}
			for _, params := range []any{item["parameters"], o["parameters"]} {
				list, _ := params.([]any)
				for _, prm := range list {
					prm := deref(t, doc, prm)
					if prm["in"] == "path" {
						declared[prm["name"].(string)] = true
					}
				}
			}
			for _, m := range paramRE.FindAllStringSubmatch(p, -1) {
				if !declared[m[1]] {
					t.Errorf("path parameter %s not declared", m[1])
				}
			}
		})
	}

	t.Run("every $ref resolves", func(t *testing.T) {
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				if ref, ok := v["$ref"].(string); ok {
					resolve(t, doc, ref)
				}
				for _, x := range v {
					walk(x)
				}
			case []any:
				for _, x := range v {
					walk(x)
				}
			}
		}
		walk(doc)
	})
}

// TestOpenAPIIsValidJSON guards the embedded file itself (a syntax error
// would otherwise only show as a decoding failure in the other test).
func TestOpenAPIIsValidJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := must(t, e.do(t, "GET", "/api/v1/openapi.json", "", nil), 200)
	if !json.Valid(r.raw) {
		t.Fatal("openapi.json is not valid JSON")
	}
	if r.header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
	}
}

// TestOpenAPIListsArePaginated checks that every list operation documents
// ?limit=, ?cursor=, a 400 and next_cursor beside its list.
func TestOpenAPIListsArePaginated(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	lists := map[string]string{
		"listTenants": "tenants", "listSites": "sites", "listDeployments": "deployments",
		"listDomains": "domains", "listTenantTokens": "tokens", "listAdminTokens": "tokens", "listKVKeys": "keys",
	}
	seen := map[string]bool{}
	for _, item := range doc["paths"].(map[string]any) {
		o, _ := item.(map[string]any)["get"].(map[string]any)
		field, ok := lists[fmt.Sprint(o["operationId"])]
		if o == nil || !ok {
			continue
		}
		id := o["operationId"].(string)
		seen[id] = true
		t.Run(id, func(t *testing.T) {
			params := map[string]bool{}
			list, _ := o["parameters"].([]any)
			for _, prm := range list {
				prm := deref(t, doc, prm)
				if prm["in"] == "query" {
					params[prm["name"].(string)] = true
				}
			}
			if !params["limit"] || !params["cursor"] {
				t.Errorf("query parameters %v lack limit or cursor", params)
			}
			responses := o["responses"].(map[string]any)
			if responses["400"] == nil {
				t.Errorf("no 400 answer for a bad limit or cursor")
			}
			ok := deref(t, doc, responses["200"])
			schema := deref(t, doc, ok["content"].(map[string]any)["application/json"].(map[string]any)["schema"])
			props := schema["properties"].(map[string]any)
			if props[field] == nil || props["next_cursor"] == nil {
				t.Errorf("200 properties %v lack %s or next_cursor", slices.Collect(maps.Keys(props)), field)
			}
		})
	}
	for id := range lists {
		if !seen[id] {
			t.Errorf("operation %s not found", id)
		}
	}
}
