package main

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/apiclient"
)

func TestRetryPolicy(t *testing.T) {
	unavailable := &apiclient.Error{Status: 503, Code: "storage_unavailable", Message: "down"}
	invalid := &apiclient.Error{Status: 400, Code: "invalid", Message: "bad"}
	dropped := &url.Error{Op: "Put", URL: "http://x", Err: io.EOF}
	tests := []struct {
		name      string
		retryable func(error) bool
		errs      []error // what each call returns; past the end: success
		wantCalls int
		wantErr   string
	}{
		{name: "success", retryable: apiclient.Retryable, wantCalls: 1},
		{name: "503 then success", retryable: apiclient.Retryable, errs: []error{unavailable}, wantCalls: 2},
		{name: "dropped twice then success", retryable: apiclient.Retryable, errs: []error{dropped, dropped}, wantCalls: 3},
		{name: "400 once", retryable: apiclient.Retryable, errs: []error{invalid}, wantCalls: 1, wantErr: "bad (invalid)"},
		{name: "gives up", retryable: apiclient.Retryable, errs: []error{unavailable, unavailable, unavailable, unavailable, unavailable, unavailable}, wantCalls: 5, wantErr: "after 5 attempts: down (storage_unavailable)"},
		{name: "non-idempotent: dropped connection not repeated", retryable: retryUnavailable, errs: []error{dropped}, wantCalls: 1, wantErr: "EOF"},
		{name: "non-idempotent: 503 repeated", retryable: retryUnavailable, errs: []error{unavailable}, wantCalls: 2},
		{name: "first call: dropped connection not repeated", retryable: retryServerErrors, errs: []error{dropped}, wantCalls: 1, wantErr: "EOF"},
		{name: "first call: 503 repeated", retryable: retryServerErrors, errs: []error{unavailable}, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := retryPolicy{base: time.Microsecond, max: time.Microsecond}
			calls := 0
			err := p.do(context.Background(), tt.retryable, func(context.Context) error {
				calls++
				if calls <= len(tt.errs) {
					return tt.errs[calls-1]
				}
				return nil
			})
			if calls != tt.wantCalls {
				t.Errorf("%d calls, want %d", calls, tt.wantCalls)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestRetryStopsWhenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := retryPolicy{base: time.Hour}.do(ctx, apiclient.Retryable, func(context.Context) error {
		calls++
		cancel()
		return &apiclient.Error{Status: 503, Message: "down"}
	})
	if calls != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("%d calls, err %v; want 1 call and context.Canceled", calls, err)
	}
}
