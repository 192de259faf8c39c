package lock

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aside-go/aside/internal/lease"
	"github.com/aside-go/aside/internal/script"
)

// Info describes a lock as Redis holds it, read by [Client.Inspect].
// Waiters block on a wake list and are not recorded in Redis, so Info has
// no waiter count. The zero Info (with Key set) is a free lock that was
// never obtained, or whose fence counter expired ([Options.FenceTTL]).
type Info struct {
	Key   string        // the lock name as the user gave it
	Held  bool          // a holder's token is in Redis
	Token string        // the holder's token ("" when free)
	TTL   time.Duration // lease left (0 when free; -1 if the key has no expiry, which this package never writes)
	Fence int64         // the fence counter's current value (0 if none): the fence of the latest holder
}

// Inspect reads the lock key of this Client's prefix without taking it:
// the holder's token, the lease left and the fence counter, in one script
// (one round trip, one consistent moment). It changes nothing in Redis and
// is safe for concurrent use. Compare Token with [Lock.Token] to tell
// which holder has it.
func (c *Client) Inspect(ctx context.Context, key string) (Info, error) {
	t := c.lockTarget(key)
	info := Info{Key: key}
	res, err := script.LockInspect.Run(ctx, c.rdb, []string{t.main(), t.keys[2]}).Slice()
	if err != nil {
		return info, fmt.Errorf("lock: inspect %q: %w", key, err)
	}
	if len(res) != 3 {
		return info, fmt.Errorf("lock: inspect %q: unexpected reply of %d elements", key, len(res))
	}
	if tok, ok := res[0].(string); ok {
		info.Held, info.Token = true, tok
		info.TTL = lease.Left(res[1])
	}
	if f, ok := res[2].(string); ok {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return info, fmt.Errorf("lock: inspect %q: fence counter %q is not a number", key, f)
		}
		info.Fence = n
	}
	return info, nil
}

// SemaphoreInfo describes a semaphore as Redis holds it, read by
// [Client.InspectSemaphore]. Waiters are not recorded in Redis (see
// [Info]).
type SemaphoreInfo struct {
	Name    string
	Permits int          // as recorded in Redis (0 if unknown): kept while the semaphore has holders, expiring with the last lease
	Holders []HolderInfo // current holders, soonest-expiring first; nil when none
}

// HolderInfo is one holder of a semaphore permit.
type HolderInfo struct {
	Token string        // the permit's token ([Lock.Token])
	TTL   time.Duration // lease left, by the Redis server's clock
}

// InspectSemaphore reads a semaphore of this Client's prefix without
// acquiring a permit: the number of permits recorded with it and the live
// holders, in one script (one round trip, one consistent moment). Leases
// that have ended but are not yet removed are left out, and left in Redis:
// it changes nothing. It is safe for concurrent use.
func (c *Client) InspectSemaphore(ctx context.Context, name string) (SemaphoreInfo, error) {
	t := c.semTarget(name, 0)
	info := SemaphoreInfo{Name: name}
	res, err := script.SemInspect.Run(ctx, c.rdb, []string{t.main(), t.keys[2]}).Slice()
	if err != nil {
		return info, fmt.Errorf("lock: inspect semaphore %q: %w", name, err)
	}
	if len(res) == 0 || len(res)%2 != 1 {
		return info, fmt.Errorf("lock: inspect semaphore %q: unexpected reply of %d elements", name, len(res))
	}
	if p, ok := res[0].(string); ok {
		n, err := strconv.Atoi(p)
		if err != nil {
			return info, fmt.Errorf("lock: inspect semaphore %q: permits %q is not a number", name, p)
		}
		info.Permits = n
	}
	for i := 1; i < len(res); i += 2 {
		tok, _ := res[i].(string)
		ms, _ := res[i+1].(int64)
		info.Holders = append(info.Holders, HolderInfo{Token: tok, TTL: time.Duration(ms) * time.Millisecond})
	}
	return info, nil
}
