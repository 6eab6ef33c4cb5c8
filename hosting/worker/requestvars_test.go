package worker

import (
	"net/http/httptest"
	"testing"
)

// varsHost is a fakeHost with variables of its own request.
type varsHost struct {
	fakeHost
	vars map[string]string
}

func (h *varsHost) RequestVars() map[string]string { return h.vars }

func TestRequestVars(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 1})
	w := newWorker(t, rt, "vars", map[string]string{"greeting": "hi", "b": "1"}, Limits{})
	tests := []struct {
		name string
		host Host
		want string
	}{
		{"the Worker's only", &fakeHost{}, `{"b":"1","greeting":"hi"}|hi|unset`},
		{"the request's over the Worker's", &varsHost{vars: map[string]string{"greeting": "per call", "missing": "found"}},
			`{"b":"1","greeting":"per call","missing":"found"}|per call|found`},
		{"none of the request's", &varsHost{}, `{"b":"1","greeting":"hi"}|hi|unset`},
	}
	// The same pooled instance serves them in turn: a request's
	// variables never outlive it.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			res := w.Serve(rec, httptest.NewRequest("GET", "/", nil), tt.host, nil)
			if res.Outcome != OutcomeOK {
				t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
			}
			if got := rec.Body.String(); got != tt.want {
				t.Errorf("body = %q, want %q", got, tt.want)
			}
		})
	}
}
