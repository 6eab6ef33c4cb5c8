package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// maxPages bounds a listing walk, so a server that keeps answering a
// next_cursor cannot make the client loop forever (at the default page
// size of 100 rows, that is ten million rows).
const maxPages = 100_000

// listAll reads a paginated list endpoint from its first page to its
// last: it sends q (plus the previous answer's next_cursor as cursor) and
// returns the rows of every page's field, in order. A server that does
// not paginate answers one page without next_cursor.
func listAll[T any](ctx context.Context, c *Client, path string, q url.Values, field string) ([]T, error) {
	all := []T{}
	cursor := ""
	for range maxPages {
		pq := url.Values{}
		for k, v := range q {
			pq[k] = v
		}
		if cursor != "" {
			pq.Set("cursor", cursor)
		}
		var page map[string]json.RawMessage
		if err := c.do(ctx, request{method: http.MethodGet, path: path, query: pq, out: &page}); err != nil {
			return nil, err
		}
		var rows []T
		if raw, ok := page[field]; ok {
			if err := json.Unmarshal(raw, &rows); err != nil {
				return nil, fmt.Errorf("apiclient: decoding %s of GET %s: %w", field, path, err)
			}
		}
		all = append(all, rows...)
		var next string
		if raw, ok := page["next_cursor"]; ok {
			if err := json.Unmarshal(raw, &next); err != nil {
				return nil, fmt.Errorf("apiclient: decoding next_cursor of GET %s: %w", path, err)
			}
		}
		if next == "" {
			return all, nil
		}
		if next == cursor {
			return nil, fmt.Errorf("apiclient: GET %s answered its own cursor as next_cursor", path)
		}
		cursor = next
	}
	return nil, fmt.Errorf("apiclient: GET %s: more than %d pages", path, maxPages)
}
