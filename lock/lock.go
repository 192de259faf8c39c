package lock

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Lock is a held lease: on a lock (from [Client.Obtain], [Client.TryObtain]
// or [Client.Do]) or on a semaphore permit (from [Semaphore.Acquire]). Its
// methods are safe for concurrent use. A Lock is only ever made by this
// package; there is no useful zero value.
type Lock struct {
	c     *Client
	t     *target
	token string
	fence int64

	wdCancel context.CancelFunc // stops the watchdog; nil without one
	wdDone   chan struct{}      // closed when the watchdog has returned

	mu sync.Mutex // guards the fields below
	// The lock's context is made on the first call of Context, with the
	// expiry timer that cancels it; until then parent (the obtaining
	// call's context, for its values) is kept instead.
	parent     context.Context
	ctx        context.Context
	cancel     context.CancelCauseFunc
	expiry     *time.Timer // fires at validUntil; see onExpiry
	ttl        time.Duration
	validUntil time.Time // the lease surely runs at least until then (our clock)
	state      leaseState
	lostErr    error // why, when state is lost
	relDone    bool  // Release has run its script
	relErr     error // and returned this
}

type leaseState int

const (
	held leaseState = iota
	lost
	released
)

// margin is how much earlier than Redis the holder counts its lease as
// ended: 1% for clock rate drift plus 1ms for Redis' millisecond expiry.
func margin(ttl time.Duration) time.Duration { return ttl/100 + time.Millisecond }

func (c *Client) newLock(ctx context.Context, t *target, token string, fence int64, ttl time.Duration, sent time.Time, watchdog bool) *Lock {
	l := &Lock{c: c, t: t, token: token, fence: fence, ttl: ttl, parent: ctx}
	// The lease began no earlier than the request was sent.
	l.validUntil = sent.Add(ttl - margin(ttl))
	if watchdog {
		wctx, cancel := context.WithCancel(context.Background())
		l.wdCancel = cancel
		l.wdDone = make(chan struct{})
		go l.watchdog(wctx)
	}
	return l
}

// Key returns the name the lock (or semaphore) was obtained under.
func (l *Lock) Key() string { return l.t.name }

// Token returns the random token that identifies this holder in Redis.
func (l *Lock) Token() string { return l.token }

// Fence returns the fencing token of this hold: a number strictly larger
// than that of every earlier holder of the same lock. Pass it with every
// write done under the lock and let the resource reject writes older than
// the newest it has seen (see [Client.SetFenced] and the package
// documentation for SQL). It is 0 for semaphore permits.
func (l *Lock) Fence() int64 { return l.fence }

// Context returns a context that is canceled as soon as the lock is lost,
// cannot be confirmed before its lease would end, or is released. Its
// [context.Cause] is then an error matching [ErrLost], or [ErrNotHeld]
// after Release. Its Deadline is the end of the lease as the holder counts
// it (a little before Redis does), moved forward by every renewal, so a
// database driver given a context derived from it cuts a write at the
// lease's end by itself. It carries the values of the context given to
// Obtain but not its cancellation. Run the work protected by the lock
// under it, so that work stops instead of running unprotected.
//
// The context is made on the first call; if the lease has already ended
// by then, it is returned canceled. Every call returns the same context.
func (l *Lock) Context() context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx == nil {
		ctx, cancel := context.WithCancelCause(context.WithoutCancel(l.parent))
		l.ctx, l.cancel = &leaseContext{Context: ctx, l: l}, cancel
		l.parent = nil
		if l.state == held && !time.Now().Before(l.validUntil) {
			l.loseLocked(errUnconfirmed)
		}
		switch l.state {
		case lost:
			l.cancel(l.lostErr)
		case released:
			l.cancel(ErrNotHeld)
		default:
			l.expiry = time.AfterFunc(time.Until(l.validUntil), l.onExpiry)
		}
	}
	return l.ctx
}

// leaseContext is a Lock's context: its deadline is the lease's end.
type leaseContext struct {
	context.Context
	l *Lock
}

func (c *leaseContext) Deadline() (time.Time, bool) {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	return c.l.validUntil, true
}

// TTL returns how long the lease still runs according to Redis. It returns
// an error matching [ErrLost] if Redis no longer holds this token, and
// [ErrNotHeld] after Release.
func (l *Lock) TTL(ctx context.Context) (time.Duration, error) {
	if err := l.usable(); err != nil {
		return 0, err
	}
	left, ok, err := l.c.pttl(ctx, l.t, l.token)
	if err != nil {
		return 0, fmt.Errorf("lock: ttl %q: %w", l.t.name, err)
	}
	if !ok {
		l.lose(errGone)
		return 0, errGone
	}
	return left, nil
}

// Refresh extends the lease to ttl from now (the lock's current TTL if ttl
// is zero); the new TTL is also what the watchdog renews with from then
// on. It returns an error matching [ErrLost] if the lock was lost (Refresh
// cannot win it back), and [ErrNotHeld] after Release.
func (l *Lock) Refresh(ctx context.Context, ttl time.Duration) error {
	l.mu.Lock()
	if ttl == 0 {
		ttl = l.ttl
	}
	l.mu.Unlock()
	if err := checkTTL(ttl); err != nil {
		return err
	}
	if err := l.usable(); err != nil {
		return err
	}
	sent := time.Now()
	ok, err := l.c.refresh(ctx, l.t, l.token, ttl)
	if err != nil {
		return fmt.Errorf("lock: refresh %q: %w", l.t.name, err)
	}
	if !ok {
		l.lose(errGone)
		return errGone
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state != held {
		return l.stateErrLocked()
	}
	l.ttl = ttl
	l.extendLocked(sent, ttl)
	return nil
}

// Release ends the hold: it stops the watchdog, cancels [Lock.Context] and
// deletes the lock in Redis if this token still holds it, waking one
// waiter. It returns nil if the lock was still held, and an error matching
// [ErrLost] if it had been lost before: the token was no longer in Redis
// (the lease ended or the key was deleted, so someone else may have held
// it meanwhile), or [Lock.Context] or the watchdog had already declared
// it lost. Calling it again
// returns the first result without touching Redis. If Redis cannot be
// reached, it returns that error and the lease ends after its TTL; a
// later Release tries again.
func (l *Lock) Release(ctx context.Context) error {
	l.mu.Lock()
	if l.relDone {
		err := l.relErr
		l.mu.Unlock()
		return err
	}
	lostErr := l.lostErr
	if l.state == held {
		l.state = released
		if l.cancel != nil {
			l.cancel(ErrNotHeld)
		}
	}
	if l.expiry != nil {
		l.expiry.Stop()
	}
	l.mu.Unlock()
	if l.wdCancel != nil {
		l.wdCancel()
		<-l.wdDone
	}
	ok, err := l.c.release(ctx, l.t, l.token)
	if err != nil {
		return fmt.Errorf("lock: release %q: %w", l.t.name, err)
	}
	switch {
	case lostErr != nil:
		err = lostErr
	case !ok:
		err = errGone
		l.c.stats.lost.Add(1) // lost unnoticed (no watchdog, no expiry yet)
	default:
		l.c.stats.released.Add(1)
	}
	l.mu.Lock()
	l.relDone, l.relErr = true, err
	l.mu.Unlock()
	return err
}

// usable returns nil while the lock is held, else why it is not.
func (l *Lock) usable() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == held {
		return nil
	}
	return l.stateErrLocked()
}

func (l *Lock) stateErrLocked() error {
	if l.state == lost {
		return l.lostErr
	}
	return ErrNotHeld
}

// lose marks the lock lost for cause, unless it already is or was released.
func (l *Lock) lose(cause error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.loseLocked(cause)
}

func (l *Lock) loseLocked(cause error) {
	if l.state != held {
		return
	}
	l.state = lost
	l.lostErr = cause
	l.c.stats.lost.Add(1)
	if l.cancel != nil {
		l.cancel(cause)
	}
	if l.expiry != nil {
		l.expiry.Stop()
	}
	if l.wdCancel != nil {
		l.wdCancel() // the watchdog returns on its own; Release waits for it
	}
}

// extendLocked records a renewal of ttl sent at sent.
func (l *Lock) extendLocked(sent time.Time, ttl time.Duration) {
	l.validUntil = sent.Add(ttl - margin(ttl))
	if l.expiry != nil {
		l.expiry.Reset(time.Until(l.validUntil))
	}
}

// onExpiry runs when the lease may have ended without a confirmed renewal.
func (l *Lock) onExpiry() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state != held {
		return
	}
	if d := time.Until(l.validUntil); d > 0 { // renewed while the timer fired
		l.expiry.Reset(d)
		return
	}
	l.loseLocked(errUnconfirmed)
}
