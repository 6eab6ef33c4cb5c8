// Package httperr is the one place an error becomes an HTTP response: an
// Error carries a status, a stable machine code, a user-safe message and
// optional details; anything else is a 500 whose text never reaches the
// client. Imported by admin (the edge writes its visitors' errors itself,
// in hosting).
package httperr

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// Error is an error with a user-safe message and an HTTP status.
type Error struct {
	Status  int            // HTTP status
	Code    string         // stable, snake_case, e.g. "path_too_long"
	Message string         // safe to show the client
	Details map[string]any // extra fields (field, line, limit, path…)
	Err     error          // internal cause, logged, never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an *Error with a formatted message.
func New(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// With returns a copy of e with key=value added to its details.
func (e *Error) With(key string, value any) *Error {
	c := *e
	c.Details = make(map[string]any, len(e.Details)+1)
	for k, v := range e.Details {
		c.Details[k] = v
	}
	c.Details[key] = value
	return &c
}

// Write writes err as {"error":{"code","message",…details}}. Errors that
// are not (and do not wrap) an *Error become a 500 "internal" whose cause is
// logged to log (if non-nil) and not shown.
func Write(w http.ResponseWriter, log *slog.Logger, err error) {
	var he *Error
	if !errors.As(err, &he) {
		if log != nil {
			log.Error("internal error", "err", err)
		}
		he = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal server error"}
	}
	body := make(map[string]any, len(he.Details)+2)
	for k, v := range he.Details {
		body[k] = v
	}
	body["code"] = he.Code
	body["message"] = he.Message
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(he.Status)
	json.NewEncoder(w).Encode(map[string]any{"error": body})
}
