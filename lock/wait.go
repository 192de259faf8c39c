package lock

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
)

// How waiting works.
//
// A release leaves one wake-up in the key's wake list (RPUSH, with an
// expiry). For every key that some of its callers wait on, a Client runs
// one watcher goroutine that BLPOPs that list, so the callers of one
// process share one blocked connection. Redis hands each wake-up to the
// watcher blocked longest; the watcher signals the longest-waiting caller
// of its process, which then tries to obtain. Callers never poll: besides
// wake-ups they retry only when the holder's lease would end (the lease
// left is returned by every failed attempt), which covers a holder that
// crashed, or a wake-up that was lost.
//
// A wake-up must never be swallowed by a caller that does not use it: a
// caller that leaves (its ctx ended) with an unused wake-up passes it to
// the next caller of its process, or back to Redis when there is none and
// the lock is free. The obtain script clears the wake list, since a
// wake-up is stale once the lock is held; that holder's release leaves a
// fresh one.

// blockTimeout is how long one BLPOP waits. It bounds how long a watcher
// outlives its last caller and how long Close takes.
const blockTimeout = time.Second

// waitQueue is the callers of one Client waiting on one key, oldest first.
type waitQueue struct {
	t        *target
	waiters  []*waiter
	watching bool // a watcher goroutine runs for this queue
}

// waiter is one blocked caller. ch holds at most one pending wake-up.
type waiter struct {
	ch chan struct{}
}

// join adds a caller to the queue of t and starts its watcher if needed.
func (c *Client) join(t *target) *waiter {
	w := &waiter{ch: make(chan struct{}, 1)}
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queues[t.wake()]
	if q == nil {
		q = &waitQueue{t: t}
		c.queues[t.wake()] = q
	}
	q.waiters = append(q.waiters, w)
	c.ensureWatchLocked(q)
	return w
}

// watched reports whether a watcher runs for t's queue, starting one if
// there is room now.
func (c *Client) watched(t *target) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queues[t.wake()]
	return q != nil && c.ensureWatchLocked(q)
}

// ensureWatchLocked starts q's watcher unless it runs, the Client is
// closed or MaxBlocking watchers run. It reports whether one runs. The
// caller holds c.mu.
func (c *Client) ensureWatchLocked(q *waitQueue) bool {
	if !q.watching && !c.closed && c.watchers < c.maxBlocking {
		q.watching = true
		c.watchers++
		c.wg.Add(1)
		go c.watch(q)
	}
	return q.watching
}

// leave removes a caller from its queue. A caller that did not obtain and
// holds an unused wake-up passes it on, so no other waiter is stranded.
func (c *Client) leave(t *target, w *waiter, obtained bool) {
	c.mu.Lock()
	q := c.queues[t.wake()]
	pending := false
	select {
	case <-w.ch:
		pending = true
	default:
	}
	handedOver := false
	if q != nil {
		for i, x := range q.waiters {
			if x == w {
				q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
				break
			}
		}
		// A wake-up the caller did not need goes to the next caller; for a
		// lock that was just obtained it is stale, but a semaphore may have
		// another free permit.
		if pending && (!obtained || t.sem) {
			handedOver = q.signal()
		}
		if len(q.waiters) == 0 && !q.watching {
			delete(c.queues, t.wake())
		}
	}
	// Back to Redis if no local caller took it: for a lock only if this
	// caller did not obtain (passOn checks the lock is free); for a
	// semaphore in any case (passOn checks a permit is free).
	if pending && !handedOver && (!obtained || t.sem) && !c.closed {
		// Best effort, in the background so the caller returns at once:
		// other waiters still retry when the lease ends.
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = c.passOn(ctx, t)
		}()
	}
	c.mu.Unlock()
}

// signal gives one wake-up to the oldest waiter that has none pending. The
// caller holds c.mu.
func (q *waitQueue) signal() bool {
	for _, w := range q.waiters {
		select {
		case w.ch <- struct{}{}:
			return true
		default:
		}
	}
	return false
}

// watch BLPOPs the wake list of q while q has waiters.
func (c *Client) watch(q *waitQueue) {
	defer c.wg.Done()
	backoff := 10 * time.Millisecond
	for {
		c.mu.Lock()
		if len(q.waiters) == 0 || c.closed {
			q.watching = false
			c.watchers--
			if len(q.waiters) == 0 {
				delete(c.queues, q.t.wake())
			}
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()

		err := c.rdb.BLPop(c.bg, blockTimeout, q.t.wake()).Err()
		switch {
		case errors.Is(err, redis.Nil): // timed out: block again
			continue
		case err != nil:
			// Redis unreachable: waiters still retry when leases end.
			t := time.NewTimer(jitter(backoff))
			select {
			case <-c.bg.Done():
			case <-t.C:
			}
			t.Stop()
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
		c.mu.Lock()
		handed := q.signal()
		c.mu.Unlock()
		if !handed {
			ctx, cancel := context.WithTimeout(c.bg, time.Second)
			_ = c.passOn(ctx, q.t)
			cancel()
		}
	}
}

// pollDelay is the wait of a caller without a watcher (MaxBlocking
// reached) after its n-th attempt: 10 ms doubling to 1 s, jittered, and
// never past the holder's lease.
func pollDelay(n int, left time.Duration) time.Duration {
	d := 10 * time.Millisecond << min(n, 7)
	return min(jitter(min(d, time.Second)), fallbackDelay(left))
}

// jitter returns d plus up to a quarter of d, at random.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + rand.N(d/4+1)
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
