package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/lock"
)

// A client closing while its watcher is blocked on the wake list must not
// swallow the wake-up of a release: Redis hands the wake-up to the
// closing client's blocked BLPOP (blocked longest), and it has to reach
// the other client's waiter. The holder's lease (20 s) is far longer than
// the waiter's patience (10 s): a lost wake-up makes it give up.
func TestClient_Close_WhileWatchingPassesWakeUpOn(t *testing.T) {
	t.Parallel()
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		cs := clients(t, tp, 3)
		h, a, b := cs[0], cs[1], cs[2]
		held, err := h.Obtain(ctx, "k", 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		// A waits briefly and gives up; its watcher stays blocked (up to
		// about a second) on the wake list.
		actx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		if _, err := a.Obtain(actx, "k", time.Second); !errors.Is(err, lock.ErrNotObtained) {
			t.Fatalf("A: %v, want ErrNotObtained", err)
		}
		cancel()
		got := make(chan error, 1)
		go func() {
			bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			l, err := b.Obtain(bctx, "k", time.Second)
			if err == nil {
				err = l.Release(ctx)
			}
			got <- err
		}()
		for b.Waiting() == 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // B's watcher blocks after A's
		closed := make(chan struct{})
		go func() { a.Close(); close(closed) }()
		time.Sleep(20 * time.Millisecond) // A is closing, its watcher still blocked
		if err := held.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-got; err != nil {
			t.Fatalf("B after the release: %v, want the lock (the wake-up was swallowed by A's Close)", err)
		}
		<-closed
	})
}

// Lock.Context made for the first time after the lease ended is canceled
// at once, and its deadline is the lease's end.
func TestLock_Context_AfterLeaseEndedIsCanceled(t *testing.T) {
	t.Parallel()
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		c := clients(t, tp, 1)[0]
		l, err := c.TryObtain(t.Context(), "k", 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		ctx := l.Context()
		if ctx.Err() == nil {
			t.Fatal("Context() made after the lease ended: Err() = nil, want canceled")
		}
		if cause := context.Cause(ctx); !errors.Is(cause, lock.ErrLost) {
			t.Fatalf("cause = %v, want ErrLost", cause)
		}
	})
}

func TestLock_Context_DeadlineFollowsRenewals(t *testing.T) {
	t.Parallel()
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		c := clients(t, tp, 1)[0]
		before := time.Now()
		l, err := c.TryObtain(ctx, "k", 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(ctx)
		dl, ok := l.Context().Deadline()
		if !ok || dl.Before(before.Add(9*time.Second)) || dl.After(before.Add(10*time.Second)) {
			t.Fatalf("Deadline() = %v, %v; want about 10 s after obtaining (%v)", dl, ok, before)
		}
		if err := l.Refresh(ctx, time.Minute); err != nil {
			t.Fatal(err)
		}
		if dl2, _ := l.Context().Deadline(); !dl2.After(dl.Add(40 * time.Second)) {
			t.Fatalf("Deadline() after Refresh(1m) = %v, want about a minute from now", dl2)
		}
		// A derived context inherits the lease's end.
		child, cancel := context.WithTimeout(l.Context(), time.Hour)
		defer cancel()
		if cdl, _ := child.Deadline(); cdl.After(time.Now().Add(2 * time.Minute)) {
			t.Fatalf("child deadline %v, want the lease's end", cdl)
		}
	})
}

// Redis not answering is told apart from a lock held by someone else:
// ErrUnavailable, not ErrNotObtained, within about OpTimeout even when
// the caller would wait longer.
func TestClient_Obtain_RedisDownIsUnavailable(t *testing.T) {
	t.Parallel()
	s := redistest.StartServer(t, redistest.Config{})
	c, err := lock.New(s.Client(t), &lock.Options{Prefix: redistest.Prefix(t), OpTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s.Kill()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err = c.Obtain(ctx, "k", time.Second)
	if !errors.Is(err, lock.ErrUnavailable) || errors.Is(err, lock.ErrNotObtained) {
		t.Fatalf("Obtain with Redis down: %v, want ErrUnavailable", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Obtain waited for the caller's whole minute instead of giving up")
	}
	if _, err := c.TryObtain(ctx, "k", time.Second); !errors.Is(err, lock.ErrUnavailable) {
		t.Fatalf("TryObtain with Redis down: %v, want ErrUnavailable", err)
	}
}
