// Package cgimeta names the CGI meta-variables (RFC 3875 §4.1) a request
// sets in a WAGI worker's environment. hosting/worker keeps vars and
// secrets of these names out of that environment, and tenants refuses
// them as names of new secrets: a visitor could replace such a value by
// sending a header, and a program printing its request's meta-variables
// would show it.
package cgimeta

import "strings"

// Is reports whether name is a meta-variable a request may set: HTTP_*
// (one per request header) or one of RFC 3875's.
func Is(name string) bool {
	if strings.HasPrefix(name, "HTTP_") {
		return true
	}
	switch name {
	case "AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "GATEWAY_INTERFACE", "HTTPS", "PATH_INFO", "PATH_TRANSLATED",
		"QUERY_STRING", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_IDENT", "REMOTE_PORT", "REMOTE_USER", "REQUEST_METHOD",
		"REQUEST_URI", "SCRIPT_NAME", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE":
		return true
	}
	return false
}
