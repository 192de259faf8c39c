package lock_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/lock"
)

func TestClient_NewSemaphore_Validation(t *testing.T) {
	t.Parallel()
	c, err := lock.New(nopRedis{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, n := range []int{0, -1} {
		if _, err := c.NewSemaphore("s", n); err == nil {
			t.Errorf("NewSemaphore(%d permits): nil error", n)
		}
	}
}

// Four clients x 10 goroutines take 3 permits 5 times each: never more
// than 3 holders at once (witness inside), and every acquisition happens.
func TestSemaphore_Acquire_NeverMoreThanPermits(t *testing.T) {
	t.Parallel()
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		cs := clients(t, tp, 4)
		const permits, goroutines, rounds = 3, 10, 5
		var (
			inside, maxIn, done atomic.Int64
			wg                  sync.WaitGroup
		)
		for i := range len(cs) * goroutines {
			sem, err := cs[i%len(cs)].NewSemaphore("pool", permits)
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				for range rounds {
					p, err := sem.Acquire(ctx, 10*time.Second)
					if err != nil {
						t.Errorf("Acquire: %v", err)
						return
					}
					n := inside.Add(1)
					for m := maxIn.Load(); n > m && !maxIn.CompareAndSwap(m, n); m = maxIn.Load() {
					}
					time.Sleep(100 * time.Microsecond)
					inside.Add(-1)
					done.Add(1)
					if err := p.Release(ctx); err != nil {
						t.Errorf("Release: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		if got, want := done.Load(), int64(len(cs)*goroutines*rounds); got != want {
			t.Errorf("%d acquisitions, want %d", got, want)
		}
		if got := maxIn.Load(); got > permits || got < 1 {
			t.Errorf("at most %d holders at once, want 1..%d", got, permits)
		}
		var fallbacks int64
		for _, c := range cs {
			fallbacks += c.Stats().Fallbacks
		}
		if fallbacks != 0 {
			t.Errorf("%d fallback retries, want 0 (waiters woken by releases)", fallbacks)
		}
	})
}

// A holder that dies (never releases, never renews) gives its permit back
// when its lease ends; a waiter then gets it.
func TestSemaphore_Acquire_DeadHolderPermitFreedAfterLease(t *testing.T) {
	t.Parallel()
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		cs := clients(t, tp, 2)
		dead, err := cs[0].NewSemaphore("workers", 2)
		if err != nil {
			t.Fatal(err)
		}
		live, err := cs[1].NewSemaphore("workers", 2)
		if err != nil {
			t.Fatal(err)
		}
		const lease = 300 * time.Millisecond
		for range 2 { // the "dead" process takes both permits and is never heard of again
			if _, err := dead.TryAcquire(ctx, lease); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := live.Held(ctx); err != nil || n != 2 {
			t.Fatalf("Held = %d, %v; want 2", n, err)
		}
		if _, err := live.TryAcquire(ctx, time.Minute); !errors.Is(err, lock.ErrNotObtained) {
			t.Fatalf("TryAcquire with all permits held: %v, want ErrNotObtained", err)
		}
		p, err := live.Acquire(ctx, time.Minute)
		if err != nil {
			t.Fatalf("Acquire after the dead holder's lease: %v", err)
		}
		// The second dead lease ends a moment later: its permit comes back too.
		q, err := live.Acquire(ctx, time.Minute)
		if err != nil {
			t.Fatalf("second Acquire after the dead holder's leases: %v", err)
		}
		if n, err := live.Held(ctx); err != nil || n != 2 {
			t.Fatalf("Held = %d, %v; want 2 (dead leases replaced by live ones)", n, err)
		}
		if _, err := live.TryAcquire(ctx, time.Minute); !errors.Is(err, lock.ErrNotObtained) {
			t.Fatalf("third TryAcquire: %v, want ErrNotObtained", err)
		}
		for _, l := range []*lock.Lock{p, q} {
			if err := l.Release(ctx); err != nil {
				t.Fatalf("Release: %v", err)
			}
		}
		if n, _ := live.Held(ctx); n != 0 {
			t.Fatalf("Held after release = %d, want 0", n)
		}
	})
}

// A permit's lease is its own: refreshed by its token, lost when deleted
// by expiry, reported by Release.
func TestSemaphore_Permit_RefreshAndLoss(t *testing.T) {
	t.Parallel()
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		c := clients(t, tp, 1)[0]
		sem, err := c.NewSemaphore("s", 1)
		if err != nil {
			t.Fatal(err)
		}
		const lease = 1500 * time.Millisecond // slack for a loaded machine, as in the watchdog test
		p, err := sem.TryAcquire(ctx, lease, lock.WithWatchdog(true))
		if err != nil {
			t.Fatal(err)
		}
		if p.Fence() != 0 {
			t.Errorf("permit fence = %d, want 0", p.Fence())
		}
		time.Sleep(3 * lease) // work for three leases: only renewals keep the permit
		if left, err := p.TTL(ctx); err != nil || left <= 0 {
			t.Fatalf("permit TTL after 3 leases with watchdog = %v, %v", left, err)
		}
		if err := p.Release(ctx); err != nil {
			t.Fatalf("Release: %v", err)
		}
		q, err := sem.TryAcquire(ctx, 100*time.Millisecond)
		if err != nil {
			t.Fatalf("TryAcquire after release: %v", err)
		}
		waitDone(t, q.Context(), 10*time.Second, "permit lease without renewal")
		if err := q.Refresh(ctx, 0); !errors.Is(err, lock.ErrLost) {
			t.Fatalf("Refresh of an expired permit: %v, want ErrLost", err)
		}
		if err := q.Release(ctx); !errors.Is(err, lock.ErrLost) {
			t.Fatalf("Release of an expired permit: %v, want ErrLost", err)
		}
	})
}
