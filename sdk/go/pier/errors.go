package pier

import (
	"errors"
	"fmt"
)

// Errors returned by [Transport], [Asset] and the HTTP client when the host
// refuses a subrequest. They are wrapped (for example in a [net/url.Error]
// by [net/http.Client]), so test them with [errors.Is].
var (
	// ErrSubrequestLimit: the plan's subrequest budget for this request is
	// used up (redirects count).
	ErrSubrequestLimit = errors.New("pier: subrequest limit reached")
	// ErrEgressDenied: the destination is not allowed (loopback, private,
	// link-local or unique-local addresses, the platform's own endpoints,
	// or the plan's deny list).
	ErrEgressDenied = errors.New("pier: egress denied")
	// ErrNetwork: DNS, connect, TLS or timeout failure.
	ErrNetwork = errors.New("pier: network error")
	// ErrResponseTooLarge: the response exceeded the host's size cap.
	ErrResponseTooLarge = errors.New("pier: response too large")
	// ErrInvalidRequest: the host could not parse the request, or its URL
	// is not an absolute http or https URL.
	ErrInvalidRequest = errors.New("pier: invalid subrequest")
	// ErrNotFound: [Asset] found no such asset.
	ErrNotFound = errors.New("pier: asset not found")
	// ErrNoHost: the program is not running inside the Pier host.
	ErrNoHost = errors.New("pier: not running inside the pier host")
)

// hostError maps a negative result of fetch, asset or response_read to its
// error (docs/workers.md §2).
func hostError(code int32) error {
	switch code {
	case -1:
		return ErrSubrequestLimit
	case -2:
		return ErrEgressDenied
	case -3:
		return ErrNetwork
	case -4:
		return ErrResponseTooLarge
	case -5:
		return ErrInvalidRequest
	case -6:
		return ErrNotFound
	}
	return fmt.Errorf("pier: host error %d", code)
}
