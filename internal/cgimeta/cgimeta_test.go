package cgimeta

import "testing"

func TestIs(t *testing.T) {
	for name, want := range map[string]bool{
		"HTTP_X_API_KEY": true, "HTTP_": true, "REMOTE_HOST": true, "CONTENT_TYPE": true, "SERVER_SOFTWARE": true,
		"API_KEY": false, "HTTPX": false, "http_x": false, "PATH": false, "": false,
	} {
		if got := Is(name); got != want {
			t.Errorf("Is(%q) = %v, want %v", name, got, want)
		}
	}
}
