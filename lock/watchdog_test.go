package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/lock"
)

// The watchdog keeps a lock across five times its TTL of work.
func TestLock_Watchdog_KeepsLockAcrossWork(t *testing.T) {
	t.Parallel()
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		cs := clients(t, tp, 2)
		// Renewal every 667 ms leaves ~1.3 s for a renewal to get through:
		// on a loaded 2-core machine running the race detector, the whole
		// test process was seen stalling for several hundred ms, and a
		// stalled holder rightly loses its lock.
		const ttl = 2 * time.Second
		l, err := cs[0].Obtain(ctx, "long", ttl, lock.WithWatchdog(true))
		if err != nil {
			t.Fatal(err)
		}
		work := time.NewTimer(5 * ttl)
		defer work.Stop()
		tick := time.NewTicker(ttl / 2) // another instance tries meanwhile
		defer tick.Stop()
	loop:
		for {
			select {
			case <-l.Context().Done():
				t.Fatalf("lock lost during work: %v", context.Cause(l.Context()))
			case <-tick.C:
				if other, err := cs[1].TryObtain(ctx, "long", ttl); !errors.Is(err, lock.ErrNotObtained) {
					if other != nil {
						other.Release(ctx)
					}
					t.Fatalf("another client's TryObtain during work: %v, want ErrNotObtained (holder's context: %v)", err, context.Cause(l.Context()))
				}
			case <-work.C:
				break loop
			}
		}
		if left, err := l.TTL(ctx); err != nil || left <= 0 {
			t.Fatalf("TTL after 5x TTL of work = %v, %v; want > 0", left, err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatalf("Release: %v", err)
		}
	})
}

// Deleting the key makes the watchdog's next renewal find the token gone
// and cancel the lock's context: detected by a renewal (cause ErrGone), so
// within one renewal interval, not by the lease running out.
func TestLock_Watchdog_KeyDeletedCancelsContext(t *testing.T) {
	t.Parallel()
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		rdb := tp.Client(t)
		prefix := redistest.Prefix(t)
		c := newClient(t, rdb, prefix)
		const ttl = 3 * time.Second // renewal every second
		l, err := c.Obtain(ctx, "k", ttl, lock.WithWatchdog(true))
		if err != nil {
			t.Fatal(err)
		}
		if err := rdb.Del(ctx, keys.Base(prefix, "k")).Err(); err != nil {
			t.Fatal(err)
		}
		waitDone(t, l.Context(), ttl, "after DEL")
		if cause := context.Cause(l.Context()); !errors.Is(cause, lock.ErrGone) {
			t.Fatalf("cause = %v, want ErrGone (found by a renewal)", cause)
		}
		if err := l.Release(ctx); !errors.Is(err, lock.ErrLost) {
			t.Fatalf("Release: %v, want ErrLost", err)
		}
	})
}

// Redis restarts without persistence and forgets the lock: the next
// renewal (after go-redis reconnects) finds the token gone.
func TestLock_Watchdog_RedisRestartCancelsContext(t *testing.T) {
	t.Parallel()
	s := redistest.StartServer(t, redistest.Config{})
	c := newClient(t, s.Client(t), redistest.Prefix(t))
	ctx := t.Context()
	const ttl = 3 * time.Second
	l, err := c.Obtain(ctx, "k", ttl, lock.WithWatchdog(true))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, l.Context(), ttl, "after restart")
	if cause := context.Cause(l.Context()); !errors.Is(cause, lock.ErrGone) {
		t.Fatalf("cause = %v, want ErrGone (found by a renewal)", cause)
	}
	if err := l.Release(ctx); !errors.Is(err, lock.ErrLost) {
		t.Fatalf("Release: %v, want ErrLost", err)
	}
}

// The holder stalls (its Redis commands hang, as in a long GC pause or a
// network partition) past its TTL. Its lock context is canceled when the
// lease can no longer be confirmed; another client obtains the lock and
// writes; when the stale holder wakes, its fenced write is rejected and
// its Release reports the loss.
func TestLock_Stall_StaleHolderFenced(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		watchdog bool // the holder renews (and stalls), or never renews
	}{
		{name: "paused holder", watchdog: true},
		{name: "holder stops renewing", watchdog: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
				ctx := t.Context()
				prefix := redistest.Prefix(t)
				holderRDB := tp.Client(t)
				stall := &pauser{}
				holderRDB.AddHook(stall)
				holder := newClient(t, holderRDB, prefix)
				other := newClient(t, tp.Client(t), prefix)
				resource := "{" + prefix + "}:account"

				const ttl = 400 * time.Millisecond
				stale, err := holder.Obtain(ctx, "account", ttl, lock.WithWatchdog(tt.watchdog))
				if err != nil {
					t.Fatal(err)
				}
				if err := holder.SetFenced(ctx, resource, "written by the first holder", stale.Fence()); err != nil {
					t.Fatalf("first holder's write: %v", err)
				}
				stall.pause()
				waitDone(t, stale.Context(), 10*time.Second, "stalled holder")
				if cause := context.Cause(stale.Context()); !errors.Is(cause, lock.ErrLost) {
					t.Fatalf("stale holder's context cause = %v, want ErrLost", cause)
				}

				fresh, err := other.Obtain(ctx, "account", 10*time.Second)
				if err != nil {
					t.Fatalf("second client Obtain: %v", err)
				}
				if fresh.Fence() <= stale.Fence() {
					t.Fatalf("new fence %d, want > stale %d", fresh.Fence(), stale.Fence())
				}
				if err := other.SetFenced(ctx, resource, "written by the new holder", fresh.Fence()); err != nil {
					t.Fatalf("new holder's write: %v", err)
				}

				stall.resume()
				if err := holder.SetFenced(ctx, resource, "stale write", stale.Fence()); !errors.Is(err, lock.ErrStaleFence) {
					t.Fatalf("stale holder's write: %v, want ErrStaleFence", err)
				}
				if v, f, err := other.GetFenced(ctx, resource); err != nil || v != "written by the new holder" || f != fresh.Fence() {
					t.Fatalf("resource = %q fence %d, %v; want the new holder's write", v, f, err)
				}
				if err := stale.Release(ctx); !errors.Is(err, lock.ErrLost) {
					t.Fatalf("stale holder's Release: %v, want ErrLost", err)
				}
				if _, err := fresh.TTL(ctx); err != nil {
					t.Fatalf("the stale Release touched the new holder's lock: %v", err)
				}
				if err := fresh.Release(ctx); err != nil {
					t.Fatalf("new holder's Release: %v", err)
				}
			})
		})
	}
}
