package middleware

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aside-go/aside/internal/validate"
	"github.com/aside-go/aside/lock"
)

// LockOptions configure [Lock].
type LockOptions struct {
	// Key returns the lock name for a request, for example
	// "order:"+r.PathValue("id"); ok false runs the handler without a lock.
	// Required.
	Key func(r *http.Request) (name string, ok bool)

	// TTL is the lease of the lock, renewed every TTL/3 while the handler
	// runs, so a crashed process frees it after at most TTL. If zero, 30
	// seconds.
	TTL time.Duration

	// Wait is how long a request waits for the lock held by another
	// request (woken by its release, not polling). If zero, until the
	// request's context ends; if negative, not at all.
	Wait time.Duration

	// Busy answers a request that did not get the lock. If nil, 409 Conflict
	// with Retry-After: 1 and application/problem+json.
	Busy http.Handler

	// ProblemType is the "type" member of the problem details in the
	// default replies. If empty, "about:blank".
	ProblemType string
}

// Lock is a middleware that runs a handler while holding the distributed
// lock named by [LockOptions.Key], obtained from a [lock.Client] (which it
// does not close). The handler's request context is canceled if the lock
// is lost while it runs (its lease could not be renewed), so work under it
// stops instead of running unprotected. Without the lock the request gets
// LockOptions.Busy (409 by default), or 503 if Redis failed. It is safe
// for concurrent use; make one with [NewLock].
type Lock struct {
	locker *lock.Client
	opt    LockOptions
	busy   http.Handler
}

// NewLock returns a Lock middleware over locker. A nil opt is an error:
// Key is required.
func NewLock(locker *lock.Client, opt *LockOptions) (*Lock, error) {
	if validate.Nil(locker) || opt == nil || opt.Key == nil {
		return nil, fmt.Errorf("%w: NewLock needs a lock.Client and LockOptions.Key", ErrInvalidOptions)
	}
	o := *opt
	if o.TTL < 0 {
		return nil, fmt.Errorf("%w: TTL %v is negative", ErrInvalidOptions, o.TTL)
	}
	if o.TTL == 0 {
		o.TTL = 30 * time.Second
	}
	if o.ProblemType == "" {
		o.ProblemType = "about:blank"
	}
	busy := o.Busy
	if busy == nil {
		busy = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "1")
			writeProblem(w, o.ProblemType, http.StatusConflict, "Resource is busy",
				"Another request is working on this resource; retry later.")
		})
	}
	return &Lock{locker: locker, opt: o, busy: busy}, nil
}

// Handler returns next guarded by the lock.
func (m *Lock) Handler(next http.Handler) http.Handler {
	locker, opt, busy := m.locker, m.opt, m.busy
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := opt.Key(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		var cancel context.CancelFunc = func() {}
		obtain := locker.Obtain
		switch {
		case opt.Wait < 0:
			obtain = locker.TryObtain
		case opt.Wait > 0:
			ctx, cancel = context.WithTimeout(ctx, opt.Wait)
		}
		l, err := obtain(ctx, name, opt.TTL, lock.WithWatchdog(true))
		waitErr := ctx.Err()
		cancel()
		switch {
		case err == nil:
		case r.Context().Err() != nil:
			return // the client is gone
		case errors.Is(err, lock.ErrNotObtained) && (waitErr == nil || errors.Is(waitErr, context.DeadlineExceeded)):
			busy.ServeHTTP(w, r)
			return
		default:
			w.Header().Set("Retry-After", "1")
			writeProblem(w, opt.ProblemType, http.StatusServiceUnavailable, "Lock unavailable",
				"The request was not run because its lock could not be obtained; retry it.")
			return
		}
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
			_ = l.Release(rctx)
			cancel()
		}()
		hctx, hcancel := context.WithCancelCause(r.Context())
		defer hcancel(nil)
		stop := context.AfterFunc(l.Context(), func() { hcancel(context.Cause(l.Context())) })
		defer stop()
		next.ServeHTTP(w, r.WithContext(hctx))
	})
}
