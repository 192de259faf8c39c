package lock

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/lease"
	"github.com/aside-go/aside/internal/script"
	"github.com/redis/go-redis/v9"
)

// target is what a lease is taken on: a lock (one holder) or a semaphore
// (permits holders). It knows the Redis keys and which scripts apply.
type target struct {
	name    string // the user's name for it
	sem     bool
	permits int // semaphores only

	// keys is [main, wake, fence]: main is the lock key or the
	// semaphore's holders set, wake the wake list, fence the lock's fence
	// counter (none for semaphores). The slices below share it.
	keys       [3]string
	obtainKeys []string // KEYS of the obtain/acquire script
	mainKeys   []string // [main]
	wakeKeys   []string // [main, wake]
}

func (t *target) main() string { return t.keys[0] }
func (t *target) wake() string { return t.keys[1] }

// lockTarget builds the keys "{prefix|name}", "{prefix|name}:wake" and
// "{prefix|name}:fence" (keys.Base and keys.Sub).
func (c *Client) lockTarget(name string) *target {
	base := keys.Base(c.prefix, name)
	fence := keys.Sub(base, "fence")
	t := &target{name: name}
	t.keys = [3]string{base, keys.Sub(base, "wake"), fence}
	t.obtainKeys = t.keys[:3]
	t.mainKeys = t.keys[:1]
	t.wakeKeys = t.keys[:2]
	return t
}

func (c *Client) semTarget(name string, permits int) *target {
	set := keys.Sub(keys.Base(c.prefix, name), "sem")
	t := &target{name: name, sem: true, permits: permits}
	t.keys = [3]string{set, keys.Sub(set, "wake"), keys.Sub(set, "limit")}
	t.obtainKeys = t.keys[:3]
	t.mainKeys = t.keys[:1]
	t.wakeKeys = t.keys[:2]
	return t
}

// semPermitsReply starts the error reply of sem_acquire.lua when the
// holders use another number of permits.
const semPermitsReply = "ASIDE_SEM_PERMITS"

// wakeTTLms bounds how long an unconsumed wake-up stays in Redis. A lock's
// wake list only holds a wake-up while the lock is free; obtaining the lock
// clears it.
const wakeTTLms = 10000

func ms(d time.Duration) int64 { return lease.Ms(d) }

// try runs the obtain script once. ok reports success; fence is the new
// fence (0 for semaphores); left is how long the current holder's lease
// (the earliest one, for semaphores) still runs when !ok.
func (c *Client) try(ctx context.Context, t *target, token string, ttl time.Duration) (fence int64, left time.Duration, ok bool, err error) {
	c.stats.attempts.Add(1)
	var n int64
	if t.sem {
		n, err = script.SemAcquire.Run(ctx, c.rdb, t.obtainKeys, token, ms(ttl), t.permits).Int64()
	} else {
		var cmd *redis.Cmd
		var werr error
		if c.durable != nil {
			cmd, werr = script.LockObtain.RunWait(ctx, c.durable, c.replicas, c.waitFor, t.obtainKeys, token, ms(ttl), c.fenceTTLms)
		} else {
			cmd = script.LockObtain.Run(ctx, c.rdb, t.obtainKeys, token, ms(ttl), c.fenceTTLms)
		}
		n, err = cmd.Int64()
		if err == nil && n > 0 && werr != nil {
			// Held on the master only: a failover could hand it to a
			// second holder. Give it back; the caller's retry decides.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opTimeout)
			_, _ = c.release(rctx, t, token)
			cancel()
			return 0, 0, false, fmt.Errorf("lock: obtain %q: %w", t.name, werr)
		}
	}
	if err != nil {
		if t.sem && redis.HasErrorPrefix(err, semPermitsReply) {
			held := strings.TrimSpace(strings.TrimPrefix(err.Error(), semPermitsReply))
			err = fmt.Errorf("%w: %q has %d here, %s in Redis", ErrPermits, t.name, t.permits, held)
		}
		return 0, 0, false, err
	}
	if n > 0 {
		if t.sem {
			n = 0
		}
		return n, 0, true, nil
	}
	return 0, time.Duration(-1-n) * time.Millisecond, false, nil
}

// refresh extends the token's lease; held is false when it is gone.
func (c *Client) refresh(ctx context.Context, t *target, token string, ttl time.Duration) (held bool, err error) {
	s := script.LeaseRenew
	if t.sem {
		s = script.SemRefresh
	}
	n, err := s.Run(ctx, c.rdb, t.mainKeys, token, ms(ttl)).Int64()
	return n == 1, err
}

// release ends the token's lease and wakes one waiter; held is false when
// the token no longer held it.
func (c *Client) release(ctx context.Context, t *target, token string) (held bool, err error) {
	var n int64
	if t.sem {
		n, err = script.SemRelease.Run(ctx, c.rdb, t.wakeKeys, token, t.permits, wakeTTLms).Int64()
	} else {
		n, err = script.LockRelease.Run(ctx, c.rdb, t.wakeKeys, token, wakeTTLms).Int64()
	}
	return n == 1, err
}

// pttl returns the lease left; held is false when the token is gone.
func (c *Client) pttl(ctx context.Context, t *target, token string) (left time.Duration, held bool, err error) {
	s := script.LeasePTTL
	if t.sem {
		s = script.SemPTTL
	}
	n, err := s.Run(ctx, c.rdb, t.mainKeys, token).Int64()
	if err != nil || n == -3 {
		return 0, false, err
	}
	if n < 0 { // no expiry: cannot happen with this package's scripts
		n = 0
	}
	return time.Duration(n) * time.Millisecond, true, nil
}

// passOn leaves a wake-up in Redis for other waiters if the lock (or a
// permit) is free.
func (c *Client) passOn(ctx context.Context, t *target) error {
	var err error
	if t.sem {
		err = script.SemPassOn.Run(ctx, c.rdb, t.wakeKeys, t.permits, wakeTTLms).Err()
	} else {
		err = script.LeasePassOn.Run(ctx, c.rdb, t.wakeKeys, "1", wakeTTLms).Err()
	}
	return err
}
