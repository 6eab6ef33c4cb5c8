package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pierhq/pier/internal/apiclient"
)

// retryPolicy repeats calls that failed for a reason that may pass (a 5xx
// or 429 answer, a network error) with exponential backoff and jitter. A
// 4xx answer is never retried.
type retryPolicy struct {
	attempts int           // tries in all, including the first; default 5
	base     time.Duration // wait before the second try; default 250ms, doubled each time
	max      time.Duration // longest wait, also caps Retry-After; default 10s
}

func (p retryPolicy) withDefaults() retryPolicy {
	if p.attempts <= 0 {
		p.attempts = 5
	}
	if p.base <= 0 {
		p.base = 250 * time.Millisecond
	}
	if p.max <= 0 {
		p.max = 10 * time.Second
	}
	return p
}

// do calls fn until it succeeds, fails with an error retryable rejects, or
// the attempts are spent; it returns fn's last error.
func (p retryPolicy) do(ctx context.Context, retryable func(error) bool, fn func(context.Context) error) error {
	p = p.withDefaults()
	wait := p.base
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		}
		if err == nil || attempt >= p.attempts || !retryable(err) || ctx.Err() != nil {
			if err != nil && attempt > 1 {
				return fmt.Errorf("after %d attempts: %w", attempt, err)
			}
			return err
		}
		// Full jitter in [wait/2, wait], at least what the server asked for.
		d := wait/2 + rand.N(wait/2+1)
		if ra := apiclient.RetryAfter(err); ra > d {
			d = min(ra, p.max)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
		wait = min(wait*2, p.max)
	}
}

// retryUnavailable accepts only answers in which the server said the call
// did not happen and may be repeated (429, 503): for calls that are not
// idempotent, where a lost answer to a call that succeeded must not be
// repeated.
func retryUnavailable(err error) bool {
	return apiclient.IsStatus(err, 429) || apiclient.IsStatus(err, 503)
}

// retryServerErrors accepts only 5xx and 429 answers: for the first call
// of a command, where a refused connection more likely means a wrong --api
// than a restarting server.
func retryServerErrors(err error) bool {
	var e *apiclient.Error
	return errors.As(err, &e) && apiclient.Retryable(err)
}
