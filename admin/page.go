package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/pierhq/pier/internal/httperr"
	"github.com/pierhq/pier/tenants"
)

// errBadLimit answers a ?limit= that is not an integer from 1 to
// tenants.MaxPageLimit.
var errBadLimit = httperr.New(http.StatusBadRequest, "invalid",
	"limit must be an integer from 1 to %d", tenants.MaxPageLimit).
	With("field", "limit").With("limit", tenants.MaxPageLimit)

// errBadCursor answers a ?cursor= the listing did not issue.
var errBadCursor = &FieldError{Field: "cursor",
	Msg: "cursor is not one this listing returned as next_cursor; list again from the first page"}

// pageRequest reads ?limit= (default tenants.DefaultPageLimit) and
// ?cursor= (the previous answer's next_cursor) of a list request.
func pageRequest(r *http.Request) (tenants.PageRequest, error) {
	q := r.URL.Query()
	p := tenants.PageRequest{Limit: tenants.DefaultPageLimit, Cursor: q.Get("cursor")}
	if s := q.Get("limit"); s != "" || q.Has("limit") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > tenants.MaxPageLimit {
			return p, errBadLimit
		}
		p.Limit = n
	}
	return p, nil
}

// pageErr turns a listing's refusal of its cursor into the answer that
// names the cursor parameter.
func pageErr(op string, err error) error {
	if errors.Is(err, tenants.ErrInvalidCursor) {
		return errBadCursor
	}
	return fmt.Errorf("admin: %s: %w", op, err)
}

// writePage writes a list answer: {field: list, "next_cursor": next},
// next_cursor absent on the last page. The list field is the shape
// clients knew before pagination.
func writePage(w http.ResponseWriter, field string, list any, next string) {
	out := map[string]any{field: list}
	if next != "" {
		out["next_cursor"] = next
	}
	writeJSON(w, http.StatusOK, out)
}
