package lock_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/lock"
)

// One holder and 20 waiters (4 clients x 5 goroutines) hand the lock
// round. The lease is 30 s, far longer than the test, so a waiter that
// was not woken by a release would only retry through its fallback timer:
// the test asserts that no fallback retry fired and every hold was woken.
func TestClient_Obtain_WaitersWokenOnRelease(t *testing.T) {
	t.Parallel()
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		cs := clients(t, tp, 4)
		const ttl = 30 * time.Second
		first, err := cs[0].Obtain(ctx, "round", ttl)
		if err != nil {
			t.Fatal(err)
		}
		const waiters = 20
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex // guards fences
			fences  []int64
			started sync.WaitGroup
		)
		started.Add(waiters)
		for i := range waiters {
			c := cs[i%len(cs)]
			wg.Go(func() {
				started.Done()
				l, err := c.Obtain(ctx, "round", ttl)
				if err != nil {
					t.Errorf("waiter: %v", err)
					return
				}
				mu.Lock()
				fences = append(fences, l.Fence())
				mu.Unlock()
				if err := l.Release(ctx); err != nil {
					t.Errorf("waiter Release: %v", err)
				}
			})
		}
		started.Wait()
		waitForWaiters(t, cs, waiters)
		if err := first.Release(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if len(fences) != waiters {
			t.Fatalf("%d waiters got the lock, want %d", len(fences), waiters)
		}
		for i := 1; i < len(fences); i++ {
			if fences[i] <= fences[i-1] {
				t.Errorf("fences not increasing in hand-off order: %v", fences)
				break
			}
		}
		var woken, fallbacks int64
		for _, c := range cs {
			s := c.Stats()
			woken += s.Woken
			fallbacks += s.Fallbacks
		}
		if fallbacks != 0 {
			t.Errorf("%d fallback retries fired, want 0 (every waiter woken by a release)", fallbacks)
		}
		if woken < waiters {
			t.Errorf("%d wake-ups for %d waiters", woken, waiters)
		}
	})
}

// waitForWaiters waits until n Obtain calls across cs are queued waiting,
// so the test releases with everyone queued.
func waitForWaiters(t *testing.T, cs []*lock.Client, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		waiting := 0
		for _, c := range cs {
			waiting += c.Waiting()
		}
		if waiting >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("only %d callers waiting, want %d", waiting, n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// With MaxBlocking 1, callers waiting on a second key get no watcher and
// retry with backoff; both keys still change hands.
func TestClient_Obtain_MaxBlockingReached(t *testing.T) {
	t.Parallel()
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		prefix := redistest.Prefix(t)
		holder := newClient(t, tp.Client(t), prefix)
		c, err := lock.New(tp.Client(t), &lock.Options{Prefix: prefix, MaxBlocking: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var held []*lock.Lock
		for _, k := range []string{"a", "b"} {
			l, err := holder.TryObtain(ctx, k, 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, l)
		}
		var wg sync.WaitGroup
		for _, k := range []string{"a", "b"} {
			wg.Go(func() {
				l, err := c.Obtain(ctx, k, time.Second)
				if err != nil {
					t.Errorf("Obtain %s: %v", k, err)
					return
				}
				l.Release(ctx)
			})
		}
		waitForWaiters(t, []*lock.Client{c}, 2)
		for _, l := range held {
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()
		s := c.Stats()
		if s.Backoffs == 0 {
			t.Errorf("no backoff retries with MaxBlocking 1 and two keys: %+v", s)
		}
		if s.Fallbacks != 0 {
			t.Errorf("%d lease-end fallbacks, want 0", s.Fallbacks)
		}
	})
}
