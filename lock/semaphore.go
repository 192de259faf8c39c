package lock

import (
	"context"
	"fmt"
	"github.com/aside-go/aside/internal/script"
	"time"
)

// Semaphore is a counting semaphore shared by every process that uses the
// same name: at most its number of permits are held at once. Each permit
// is a [Lock] with its own token and lease, so a holder that crashes gives
// its permit back when its lease ends, and a live one keeps it with
// [Lock.Refresh] or [WithWatchdog]. Releasing a permit wakes one waiter.
// Permits carry no fence ([Lock.Fence] is 0). A Semaphore is safe for
// concurrent use.
//
// Holders live in a sorted set "{prefix|name}:sem" (token to lease end,
// judged by the Redis server's clock) and wake-ups in
// "{prefix|name}:sem:wake", in one hash slot.
type Semaphore struct {
	c *Client
	t *target
}

// NewSemaphore returns the semaphore named name with the given number of
// permits. Every process should use the same number for a name.
func (c *Client) NewSemaphore(name string, permits int) (*Semaphore, error) {
	if permits < 1 {
		return nil, fmt.Errorf("lock: semaphore %q: %d permits, want at least 1", name, permits)
	}
	return &Semaphore{c: c, t: c.semTarget(name, permits)}, nil
}

// Acquire takes a permit for ttl, waiting while all are held until one is
// released or its lease ends, or ctx ends (then it returns
// [ErrNotObtained] joined with ctx.Err()). Release the returned Lock to
// give the permit back.
func (s *Semaphore) Acquire(ctx context.Context, ttl time.Duration, opts ...Option) (*Lock, error) {
	return s.c.obtain(ctx, s.t, ttl, true, applyOptions(false, opts))
}

// TryAcquire makes one attempt to take a permit and returns
// [ErrNotObtained] at once if all are held.
func (s *Semaphore) TryAcquire(ctx context.Context, ttl time.Duration, opts ...Option) (*Lock, error) {
	return s.c.obtain(ctx, s.t, ttl, false, applyOptions(false, opts))
}

// Held returns how many permits are held now (leases not yet ended).
func (s *Semaphore) Held(ctx context.Context) (int, error) {
	n, err := script.SemCount.Run(ctx, s.c.rdb, s.t.mainKeys).Int64()
	if err != nil {
		return 0, fmt.Errorf("lock: semaphore %q: %w", s.t.name, err)
	}
	return int(n), nil
}
