package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/lock"
)

func init() {
	register(scenario{order: 20, name: "lock", title: "a distributed lock whose stalled holder cannot do harm (fencing tokens)", run: demoLock})
}

func demoLock(ctx context.Context, env *demoEnv) error {
	prefix := env.prefix + ":lock"
	// Two lock clients stand for two instances of a service.
	a, err := lock.New(env.rdb, &lock.Options{Prefix: prefix})
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := lock.New(env.rdb, &lock.Options{Prefix: prefix})
	if err != nil {
		return err
	}
	defer b.Close()
	const name, lease = "invoice-run", 300 * time.Millisecond
	resource := "{" + env.prefix + "}:invoice-total"

	la, err := a.TryObtain(ctx, name, lease)
	if err != nil {
		return fmt.Errorf("instance A obtain: %w", err)
	}
	env.say("Instance A holds the lock %q for %v, fencing token %d.", name, lease, la.Fence())
	if err := a.SetFenced(ctx, resource, "draft by A", la.Fence()); err != nil {
		return err
	}
	if _, err := b.TryObtain(ctx, name, lease); !errors.Is(err, lock.ErrNotObtained) {
		return fmt.Errorf("instance B got a held lock: %v", err)
	}
	env.say("Instance B tries too: not obtained, so B waits (it is woken when the lock frees, no polling).")

	type result struct {
		l   *lock.Lock
		err error
	}
	bGot := make(chan result, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		l, err := b.Obtain(wctx, name, 10*time.Second)
		if err == nil {
			err = b.SetFenced(ctx, resource, "total by B", l.Fence())
		}
		bGot <- result{l, err}
	}()

	// A stalls (think of a long GC pause) and does not renew its lease.
	start := time.Now()
	<-la.Context().Done()
	env.say("A stalls past its lease. After %v A's lock context is canceled (%v): work under it must stop.",
		time.Since(start).Round(time.Millisecond), context.Cause(la.Context()))
	if env.embedded {
		// miniredis only expires keys when told to: stand in for the lease
		// running out in Redis.
		env.say("(Embedded Redis does not expire keys by itself; the demo deletes A's key to stand for the expiry.)")
		if err := env.rdb.Del(ctx, keys.Base(prefix, name)).Err(); err != nil {
			return err
		}
	}
	rb := <-bGot
	if rb.err != nil {
		return fmt.Errorf("instance B: %w", rb.err)
	}
	env.say("B obtains the expired lock with fencing token %d and writes the invoice total.", rb.l.Fence())

	// A wakes up, unaware, and writes its stale result.
	err = a.SetFenced(ctx, resource, "stale total by A", la.Fence())
	if !errors.Is(err, lock.ErrStaleFence) {
		return fmt.Errorf("stale write by A was not rejected: %v", err)
	}
	env.say("A wakes up and writes with token %d: rejected (%v), since token %d has written.", la.Fence(), err, rb.l.Fence())
	env.say("Without the fencing token, A's late write would have overwritten B's: two holders, one lost update.")
	if err := la.Release(ctx); !errors.Is(err, lock.ErrLost) {
		return fmt.Errorf("release by A did not report the loss: %v", err)
	}
	env.say("A's Release reports the loss (%v) and leaves B's lock alone.", lock.ErrLost)
	v, f, err := b.GetFenced(ctx, resource)
	if err != nil {
		return err
	}
	env.say("Stored: %q with token %d.", v, f)

	// Hand-off: A waits, B releases, A is woken by the release.
	aGot := make(chan error, 1)
	var released time.Time
	go func() {
		l, err := a.Obtain(ctx, name, lease)
		if err == nil {
			env.say("A waited and was woken %v after B's release; it holds token %d.",
				time.Since(released).Round(10*time.Microsecond), l.Fence())
			err = l.Release(ctx)
		}
		aGot <- err
	}()
	time.Sleep(50 * time.Millisecond) // let A start waiting (demo pacing only)
	released = time.Now()
	if err := rb.l.Release(ctx); err != nil {
		return err
	}
	return <-aGot
}
