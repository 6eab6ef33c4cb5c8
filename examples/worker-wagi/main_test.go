package main

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	t.Setenv("GREETING_NAME", "var")
	t.Setenv("REQUEST_METHOD", "GET")
	t.Setenv("HTTP_COOKIE", "secret")
	tests := []struct {
		name, method, target, body string
		status                     int
		want, wantNot              string
	}{
		{name: "hello", method: "GET", target: "/wagi/hello?name=x", status: 200, want: "hello, x from WAGI\n"},
		{name: "hello var", method: "GET", target: "/wagi/hello", status: 200, want: "hello, var from WAGI\n"},
		{name: "echo", method: "POST", target: "/wagi/echo", body: `{"a":1}`, status: 200, want: `{"a":1}`},
		{name: "env", method: "GET", target: "/wagi/env", status: 200, want: "REQUEST_METHOD=GET\n", wantNot: "secret"},
		{name: "unknown", method: "GET", target: "/elsewhere", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			newHandler().ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body)))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.want != "" && !strings.Contains(rec.Body.String(), tt.want) {
				t.Errorf("body %q, want it to contain %q", rec.Body, tt.want)
			}
			if tt.wantNot != "" && strings.Contains(rec.Body.String(), tt.wantNot) {
				t.Errorf("body %q contains %q", rec.Body, tt.wantNot)
			}
		})
	}
}
