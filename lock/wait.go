package lock

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/aside-go/aside/internal/backoff"
	"github.com/aside-go/aside/internal/lease"
)

// How waiting works.
//
// A release leaves one wake-up in the key's wake list. The Client's
// lease.Hub runs one watcher goroutine per key that some of its callers
// wait on; it BLPOPs the list, so the callers of one process share one
// blocked connection. Redis hands each wake-up to the watcher blocked
// longest; the watcher signals the longest-waiting caller of its process,
// which then tries to obtain. Callers never poll: besides wake-ups they
// retry only when the holder's lease would end (the lease left is returned
// by every failed attempt), which covers a holder that crashed.
//
// A wake-up is never swallowed by a caller that does not use it: a caller
// that leaves (its ctx ended) with an unused wake-up passes it to the next
// caller of its process, or back to Redis when there is none and the lock
// is free, on a context of its own (also while the Client closes). The
// obtain script clears the wake list, since a wake-up is stale once the
// lock is held; that holder's release leaves a fresh one.

// join adds a caller to the waiters of t.
func (c *Client) join(t *target) *lease.Waiter {
	return c.hub.Join(t.wake(), func(ctx context.Context) error { return c.passOn(ctx, t) })
}

// leave removes a caller. For a lock that was obtained a pending wake-up
// is stale; for a semaphore it may stand for another free permit.
func (c *Client) leave(t *target, w *lease.Waiter, obtained bool) {
	c.hub.Leave(w, obtained && !t.sem)
}

// pollDelay is the wait of a caller without a watcher (MaxBlocking
// reached) after its n-th attempt: 10 ms doubling to 1 s, jittered, and
// never past the holder's lease.
func pollDelay(n int, left time.Duration) time.Duration {
	d := 10 * time.Millisecond << min(n, 7)
	return min(backoff.Jitter(min(d, time.Second)), fallbackDelay(left))
}

// fallbackDelay is how long a waiter sleeps, absent a wake-up, after an
// attempt that found the lease still running for left: until it would end,
// plus jitter so waiters do not all retry at once.
func fallbackDelay(left time.Duration) time.Duration {
	if left <= 0 {
		left = time.Millisecond
	}
	return left + rand.N(left/10+5*time.Millisecond)
}
