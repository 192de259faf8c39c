package lock

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// releaseTimeout bounds the release that Do runs after fn, which runs
// even when Do's ctx has ended.
const releaseTimeout = 5 * time.Second

// Do obtains the lock named key for ttl (waiting for it, or not with
// [NoWait]), runs fn while a watchdog renews the lease (unless
// [WithWatchdog](false)), and releases the lock, also when fn panics.
//
// fn's context is canceled when ctx ends or the lock is lost; fn should
// stop then. Do returns:
//   - nil when fn returned nil and the lock was held throughout;
//   - an error matching [ErrNotObtained] when the lock was not obtained
//     (joined with ctx.Err() if ctx ended first); fn did not run;
//   - an error matching [ErrLost] when the lock was lost while fn ran
//     (joined with fn's error, if any);
//   - an error matching [ErrFailed] and wrapping fn's error when fn
//     failed while the lock was held;
//   - otherwise a Redis error from obtaining or releasing the lock.
func (c *Client) Do(ctx context.Context, key string, ttl time.Duration, fn func(ctx context.Context) error, opts ...Option) error {
	if fn == nil {
		return fmt.Errorf("lock: Do %q: nil fn", key)
	}
	o := applyOptions(true, opts)
	l, err := c.obtain(ctx, c.lockTarget(key), ttl, !o.noWait, o)
	if err != nil {
		return err
	}
	return l.run(ctx, fn)
}

// run runs fn under l and releases l.
func (l *Lock) run(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	fctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(l.Context(), func() { cancel(context.Cause(l.Context())) })
	defer func() {
		stop()
		cancel(nil)
		l.mu.Lock()
		lostErr := l.lostErr
		l.mu.Unlock()
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		relErr := l.Release(rctx)
		rcancel()
		switch {
		case lostErr != nil || errors.Is(relErr, ErrLost):
			err = errors.Join(relErrOr(lostErr, relErr), err)
		case err != nil:
			err = fmt.Errorf("%w: %w", ErrFailed, err)
		case relErr != nil:
			err = relErr
		}
	}()
	return fn(fctx)
}

func relErrOr(lostErr, relErr error) error {
	if lostErr != nil {
		return lostErr
	}
	return relErr
}
