package apiclient

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// pagedServer answers GET requests from pages, keyed by the cursor query
// parameter, and records the query of every request.
func pagedServer(t *testing.T, pages map[string]string) (*Client, *[]string) {
	t.Helper()
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		body, ok := pages[r.URL.Query().Get("cursor")]
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			io.WriteString(w, `{"error":{"code":"invalid","message":"cursor: bad","field":"cursor"}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return New(srv.URL, "pier_secret", srv.Client()), &queries
}

func TestListsFollowNextCursor(t *testing.T) {
	ctx := context.Background()
	t.Run("sites over three pages keep the filter", func(t *testing.T) {
		c, queries := pagedServer(t, map[string]string{
			"":   `{"sites":[{"name":"a"},{"name":"b"}],"next_cursor":"c1"}`,
			"c1": `{"sites":[{"name":"c"},{"name":"d"}],"next_cursor":"c2"}`,
			"c2": `{"sites":[{"name":"e"}]}`,
		})
		got, err := c.ListSites(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range got {
			names = append(names, s.Name)
		}
		if want := []string{"a", "b", "c", "d", "e"}; !reflect.DeepEqual(names, want) {
			t.Errorf("sites %v, want %v", names, want)
		}
		if want := []string{"tenant=acme", "cursor=c1&tenant=acme", "cursor=c2&tenant=acme"}; !reflect.DeepEqual(*queries, want) {
			t.Errorf("queries %q, want %q", *queries, want)
		}
	})
	t.Run("site search over two pages keeps the search and the filter", func(t *testing.T) {
		c, queries := pagedServer(t, map[string]string{
			"":   `{"sites":[{"name":"blog"}],"next_cursor":"c1"}`,
			"c1": `{"sites":[{"name":"my-blog"}]}`,
		})
		got, err := c.SearchSites(ctx, "acme", "blog")
		if err != nil || len(got) != 2 || got[1].Name != "my-blog" {
			t.Fatalf("SearchSites = %v, %v", got, err)
		}
		if want := []string{"q=blog&tenant=acme", "cursor=c1&q=blog&tenant=acme"}; !reflect.DeepEqual(*queries, want) {
			t.Errorf("queries %q, want %q", *queries, want)
		}
	})
	t.Run("site search without tenant", func(t *testing.T) {
		c, queries := pagedServer(t, map[string]string{"": `{"sites":[]}`})
		if _, err := c.SearchSites(ctx, "", "blog"); err != nil {
			t.Fatal(err)
		}
		if want := []string{"q=blog"}; !reflect.DeepEqual(*queries, want) {
			t.Errorf("queries %q, want %q", *queries, want)
		}
	})
	t.Run("empty next_cursor ends the walk", func(t *testing.T) {
		c, queries := pagedServer(t, map[string]string{"": `{"tenants":[{"name":"acme"}],"next_cursor":""}`})
		got, err := c.ListTenants(ctx, "")
		if err != nil || len(got) != 1 || len(*queries) != 1 {
			t.Errorf("ListTenants = %v, %v after %d requests", got, err, len(*queries))
		}
	})
	t.Run("empty list is empty, not nil", func(t *testing.T) {
		c, _ := pagedServer(t, map[string]string{"": `{"domains":[]}`})
		got, err := c.ListDomains(ctx, "blog")
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("ListDomains = %#v, %v", got, err)
		}
	})
	t.Run("a page error is returned", func(t *testing.T) {
		c, _ := pagedServer(t, map[string]string{"": `{"deployments":[{"id":"d1"}],"next_cursor":"gone"}`})
		got, err := c.ListDeployments(ctx, "blog")
		if err == nil || got != nil {
			t.Errorf("ListDeployments = %v, %v; want an error", got, err)
		}
	})
	t.Run("a repeated cursor is an error, not a loop", func(t *testing.T) {
		c, queries := pagedServer(t, map[string]string{
			"":   `{"tokens":[{"id":"k1"}],"next_cursor":"c1"}`,
			"c1": `{"tokens":[{"id":"k2"}],"next_cursor":"c1"}`,
		})
		_, err := c.ListTenantTokens(ctx, "acme")
		if err == nil || !strings.Contains(err.Error(), "its own cursor") || len(*queries) != 2 {
			t.Errorf("ListTenantTokens error %v after %d requests", err, len(*queries))
		}
	})
}
