package lock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aside-go/aside/internal/backoff"
	"github.com/aside-go/aside/internal/lease"
	"github.com/redis/go-redis/v9"
)

// Obtain obtains the lock named key for ttl, waiting while another holder
// has it, until it is released or its lease ends or ctx ends. Waiters are
// woken by the holder's release, not by polling (see the package
// documentation). If ctx ends first, Obtain returns [ErrNotObtained]
// joined with ctx.Err(). A Redis error is retried with backoff; once Redis
// has given no answer for [Options.OpTimeout], Obtain returns
// [ErrUnavailable] (also when ctx ends while Redis fails). An error reply
// such as WRONGTYPE is returned at once.
//
// The lease is not renewed unless [WithWatchdog](true) is given; either
// way, [Lock.Context] is canceled when the lease ends or is lost. Locks
// are not reentrant: a holder that obtains its own lock again waits for
// itself until its lease ends.
func (c *Client) Obtain(ctx context.Context, key string, ttl time.Duration, opts ...Option) (*Lock, error) {
	return c.obtain(ctx, c.lockTarget(key), ttl, true, applyOptions(false, opts))
}

// TryObtain makes one attempt to obtain the lock named key for ttl and
// returns [ErrNotObtained] at once if it is held by someone else.
func (c *Client) TryObtain(ctx context.Context, key string, ttl time.Duration, opts ...Option) (*Lock, error) {
	return c.obtain(ctx, c.lockTarget(key), ttl, false, applyOptions(false, opts))
}

func (c *Client) obtain(ctx context.Context, t *target, ttl time.Duration, wait bool, o callOptions) (_ *Lock, err error) {
	if err := checkTTL(ttl); err != nil {
		return nil, err
	}
	// One token for every attempt: the obtain script treats a token that
	// already holds the lock as obtained, so a retried call is safe.
	token := lease.Token()
	var (
		w         *lease.Waiter
		obtained  bool
		timer     *time.Timer
		lastErr   error
		backoff   backoff.Backoff
		polls     int       // attempts while no watcher could be started
		failing   time.Time // when Redis began to give no answer
		failures  int       // unanswered attempts since then
		uncertain bool      // the last attempt failed without an answer
	)
	defer func() {
		if errors.Is(err, ErrNotObtained) {
			c.stats.notObtained.Add(1)
		}
		if !obtained && uncertain {
			// The last attempt may have taken the lock although its reply
			// was lost: that hold must not linger until its TTL.
			c.abandon(t, token)
		}
		if w != nil {
			c.leave(t, w, obtained)
		}
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return nil, c.gaveUp(lastErr, err)
		}
		sent := time.Now()
		actx, cancel := context.WithTimeout(ctx, c.opTimeout)
		fence, left, ok, err := c.try(actx, t, token, ttl)
		cancel()
		if ok {
			obtained = true
			c.stats.obtained.Add(1)
			return c.newLock(ctx, t, token, fence, ttl, sent, o.watchdog), nil
		}
		uncertain = err != nil && !permanent(err)
		var delay time.Duration
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, errors.Join(ErrNotObtained, ctx.Err())
		case err != nil && permanent(err):
			return nil, fmt.Errorf("lock: obtain %q: %w", t.name, err)
		case err != nil:
			if failing.IsZero() {
				failing = sent
			}
			failures++
			// Two unanswered attempts at least: one slow reply on a busy
			// client is not an outage.
			if !wait || failures >= 2 && time.Since(failing) >= c.opTimeout {
				return nil, fmt.Errorf("%w: obtain %q: %w", ErrUnavailable, t.name, err)
			}
			lastErr = err
			delay = backoff.Next()
		case !wait:
			return nil, ErrNotObtained
		default:
			lastErr = nil
			failing, failures = time.Time{}, 0
			backoff.Reset()
			delay = fallbackDelay(left)
		}
		polled := false
		if w == nil {
			w = c.join(t)
		}
		if err == nil && !c.hub.Watched(w) {
			delay = pollDelay(polls, left)
			polls++
			polled = true
		}
		if timer == nil {
			timer = time.NewTimer(delay)
		} else {
			timer.Reset(delay)
		}
		select {
		case <-ctx.Done():
			return nil, c.gaveUp(lastErr, ctx.Err())
		case <-w.Woken():
			c.stats.woken.Add(1)
		case <-timer.C:
			switch {
			case polled:
				c.stats.polls.Add(1)
			case lastErr == nil:
				c.stats.fallbacks.Add(1)
			}
		}
	}
}

// gaveUp is the error of an obtaining call whose ctx ended: ErrNotObtained,
// or ErrUnavailable when the last attempt got no answer from Redis.
func (c *Client) gaveUp(lastErr, ctxErr error) error {
	if lastErr != nil {
		return errors.Join(ErrUnavailable, lastErr, ctxErr)
	}
	return errors.Join(ErrNotObtained, ctxErr)
}

// abandon deletes, in the background, a hold that an unanswered attempt
// may have taken with token.
func (c *Client) abandon(t *target, token string) {
	c.background(func(ctx context.Context) { _, _ = c.release(ctx, t, token) })
}

// permanent reports whether err is an error reply that retrying cannot
// cure (a wrong key type, a bad script), as opposed to a network error or
// a transient reply such as LOADING, READONLY or TRYAGAIN.
func permanent(err error) bool {
	if errors.Is(err, ErrPermits) {
		return true
	}
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	return strings.HasPrefix(msg, "ERR ") || strings.HasPrefix(msg, "WRONGTYPE") || strings.HasPrefix(msg, "NOPERM")
}
