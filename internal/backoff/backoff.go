// Package backoff is the one exponential backoff with jitter of aside:
// lock waiters, lease watchers, pub/sub reconnects and the consistency
// keeper's retries all wait with it.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Jitter returns d plus up to a quarter of d, at random, so that callers
// told the same delay do not all come back at once.
func Jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + rand.N(d/4+1)
}

// Backoff is an exponential backoff with jitter: Min, doubling up to Max,
// each delay plus up to a quarter of it at random. The zero value goes
// from 10 ms to 1 s. It is not safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration
	n        int
}

// Next returns the next delay.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = 10 * time.Millisecond
	}
	if hi <= 0 {
		hi = time.Second
	}
	d := hi
	if b.n < 30 && lo<<b.n < hi {
		d = lo << b.n
	}
	b.n++
	return Jitter(d)
}

// Reset starts again from Min.
func (b *Backoff) Reset() { b.n = 0 }
