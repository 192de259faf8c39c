package lock

import (
	"context"
	"time"

	"github.com/aside-go/aside/internal/backoff"
)

// watchdog renews the lease every ttl/3 until ctx is canceled (by Release
// or by the lock being lost). A renewal that fails on a network error is
// retried sooner, always before the lease would end; if none gets through
// in time, the expiry timer (onExpiry) cancels the lock's context. A
// renewal that finds the token gone cancels it at once.
func (l *Lock) watchdog(ctx context.Context) {
	defer close(l.wdDone)
	l.mu.Lock()
	ttl := l.ttl
	l.mu.Unlock()
	timer := time.NewTimer(ttl / 3)
	defer timer.Stop()
	retry := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		l.mu.Lock()
		ttl, until, state := l.ttl, l.validUntil, l.state
		l.mu.Unlock()
		if state != held {
			return
		}
		if !time.Now().Before(until) {
			// No renewal got through in time (the expiry timer does the
			// same when Context was asked for).
			l.lose(errUnconfirmed)
			return
		}
		// A renewal answered after the lease ended would prove nothing.
		rctx, cancel := context.WithDeadline(ctx, until)
		sent := time.Now()
		ok, err := l.c.refresh(rctx, l.t, l.token, ttl)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil && ok:
			l.mu.Lock()
			if l.state == held {
				l.extendLocked(sent, ttl)
			}
			l.mu.Unlock()
			retry = 0
			timer.Reset(ttl / 3)
		case err == nil:
			l.lose(errGone)
			return
		default:
			// Unconfirmed: try again soon, spread over what is left.
			if retry == 0 {
				retry = max(ttl/30, time.Millisecond)
			} else {
				retry = min(2*retry, ttl/6)
			}
			d := min(backoff.Jitter(retry), time.Until(until)/2)
			timer.Reset(max(d, time.Millisecond))
		}
	}
}
