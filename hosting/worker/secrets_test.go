package worker

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestSecrets(t *testing.T) {
	rt := newRuntime(t, Config{})
	ctx := context.Background()
	const value = "s3cr3t-value"
	vars := map[string]string{"greeting": "var", "other": "x"}
	t.Run("get_var finds a secret first, get_config only vars", func(t *testing.T) {
		w, err := rt.NewWorker(ctx, guest(t, "vars"), vars, Limits{}, WithSecrets(map[string]string{"greeting": value, "missing": "m"}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close(ctx) })
		rec := httptest.NewRecorder()
		res := w.Serve(rec, httptest.NewRequest("GET", "/", nil), &fakeHost{}, noNext(t))
		if res.Outcome != OutcomeOK {
			t.Fatalf("outcome %q (%v)", res.Outcome, res.Err)
		}
		if got, want := rec.Body.String(), `{"greeting":"var","other":"x"}|`+value+`|m`; got != want {
			t.Errorf("body = %q, want %q", got, want)
		}
	})
	t.Run("without secrets, vars as before", func(t *testing.T) {
		w, err := rt.NewWorker(ctx, guest(t, "vars"), vars, Limits{}, WithSecrets(nil))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close(ctx) })
		rec := httptest.NewRecorder()
		w.Serve(rec, httptest.NewRequest("GET", "/", nil), &fakeHost{}, noNext(t))
		if got, want := rec.Body.String(), `{"greeting":"var","other":"x"}|var|unset`; got != want {
			t.Errorf("body = %q, want %q", got, want)
		}
	})
	t.Run("WAGI environment", func(t *testing.T) {
		w, err := rt.NewWorker(ctx, guest(t, "cgi"), map[string]string{"GREETING": "var", "PLAIN": "p", "HTTP_X_FLAG": "var-flag"}, Limits{},
			WithSecrets(map[string]string{"GREETING": value, "API_KEY": "k", "REQUEST_METHOD": "spoofed",
				// Names a request may set: never in the environment, with
				// or without the request's header.
				"HTTP_X_UPSTREAM_KEY": "upstream-secret", "REMOTE_HOST": "host-secret", "HTTP_X_SENT": "sent-secret"}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close(ctx) })
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/", strings.NewReader("ping"))
		req.Header.Set("X-Sent", "visitor")
		res := w.Serve(rec, req, &fakeHost{}, noNext(t))
		if res.Outcome != OutcomeOK {
			t.Fatalf("outcome %q (%v)", res.Outcome, res.Err)
		}
		env := strings.Split(strings.TrimSuffix(rec.Body.String(), "ping"), "\x00")
		for _, e := range env {
			if strings.Contains(e, "-secret") || strings.Contains(e, "var-flag") {
				t.Errorf("environment has %s", e)
			}
		}
		for _, want := range []string{"GREETING=" + value, "API_KEY=k", "PLAIN=p", "REQUEST_METHOD=POST", "HTTP_X_SENT=visitor"} {
			if !slices.Contains(env, want) {
				t.Errorf("environment lacks %s: %q", want, env)
			}
		}
		for _, bad := range []string{"GREETING=var", "REQUEST_METHOD=spoofed"} {
			if slices.Contains(env, bad) {
				t.Errorf("environment has %s", bad)
			}
		}
	})
}
