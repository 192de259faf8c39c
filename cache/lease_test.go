package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
)

// TestCache_Get_StampedeLoadsOnceAcrossProcesses: 4 caches, each with its
// own client (4 "processes"), 64 callers each, one cold key and a 50 ms
// loader: the loader runs exactly once and all 256 callers get the value.
func TestCache_Get_StampedeLoadsOnceAcrossProcesses(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		prefix := redistest.Prefix(t)
		l := newCountingLoader(50*time.Millisecond, "hot")
		caches := make([]*Cache[user], 4)
		for i := range caches {
			// A generous OpTimeout: 256 goroutines dialing under -race on a
			// busy machine can exceed 500 ms, and a timed-out round trip
			// rightly fails open (loads without Redis), which is not what
			// this test is about.
			caches[i] = newTestCache(t, tp.Client(t), &Options[user]{Prefix: prefix, Loader: l, OpTimeout: 10 * time.Second})
		}
		var wg sync.WaitGroup
		var ok atomic.Int64
		start := make(chan struct{})
		for _, c := range caches {
			for range 64 {
				wg.Go(func() {
					<-start
					u, err := c.Get(context.Background(), "hot")
					if err != nil || u.ID != "hot" {
						t.Errorf("Get = %+v, %v", u, err)
						return
					}
					ok.Add(1)
				})
			}
		}
		close(start)
		wg.Wait()
		if n := l.calls.Load(); n != 1 {
			t.Errorf("loader calls = %d, want exactly 1 for the whole fleet", n)
			for i, c := range caches {
				t.Logf("process %d: %+v", i, c.Stats())
			}
		}
		if n := ok.Load(); n != 256 {
			t.Errorf("callers with the value = %d, want 256", n)
		}
	})
}

// TestCache_Get_LeaseHolderDiesWaitersTakeOver: the process holding the
// lease loses its Redis client mid-load; the other processes still get a
// value, loaded by one of them once the lease expires.
func TestCache_Get_LeaseHolderDiesWaitersTakeOver(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		prefix := redistest.Prefix(t)
		const leaseTTL = 400 * time.Millisecond
		holding := make(chan struct{})
		release := make(chan struct{})
		var calls atomic.Int64
		loader := LoaderFunc[user](func(ctx context.Context, key string) (user, error) {
			if calls.Add(1) == 1 {
				close(holding)
				<-release
			}
			return user{ID: key}, nil
		})
		opt := &Options[user]{Prefix: prefix, Loader: loader, LeaseTTL: leaseTTL, LoadTimeout: 10 * leaseTTL}
		holderClient := tp.NewClient(t)
		holder := newTestCache(t, holderClient, opt)
		holderErr := make(chan error, 1)
		go func() { _, err := holder.Get(context.Background(), "k"); holderErr <- err }()
		<-holding

		others := []*Cache[user]{newTestCache(t, tp.Client(t), opt), newTestCache(t, tp.Client(t), opt)}
		var wg sync.WaitGroup
		begin := time.Now()
		for _, c := range others {
			for range 8 {
				wg.Go(func() {
					u, err := c.Get(context.Background(), "k")
					if err != nil || u.ID != "k" {
						t.Errorf("waiter Get = %+v, %v", u, err)
					}
				})
			}
		}
		// The holder "dies": its connection to Redis goes away mid-load.
		time.Sleep(leaseTTL / 4) // let the others block on the lease
		_ = holderClient.Close()
		wg.Wait()
		took := time.Since(begin)
		close(release)
		<-holderErr // the dead process's own callers may get anything; they must not hang

		if n := calls.Load(); n != 2 {
			t.Errorf("loader calls = %d, want 2 (the dead holder's and one takeover)", n)
		}
		if took > opt.LoadTimeout {
			t.Errorf("waiters took %v, beyond the load timeout", took)
		}
		var waits int64
		for _, c := range others {
			waits += c.Stats().LeaseWaits
		}
		if waits < 1 {
			t.Errorf("lease waits = %d, want >= 1", waits)
		}
	})
}

// TestCache_Get_LeaseReleasedOnLoaderError: a failed load releases the
// lease at once, so another process loads without waiting for the TTL.
func TestCache_Get_LeaseReleasedOnLoaderError(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		prefix := redistest.Prefix(t)
		boom := errors.New("boom")
		a := newTestCache(t, tp.Client(t), &Options[user]{Prefix: prefix, LeaseTTL: time.Hour,
			Loader: LoaderFunc[user](func(context.Context, string) (user, error) { return user{}, boom })})
		b := newTestCache(t, tp.Client(t), &Options[user]{Prefix: prefix, LeaseTTL: time.Hour, LoadTimeout: 5 * time.Second,
			Loader: newCountingLoader(0, "k")})
		if _, err := a.Get(context.Background(), "k"); !errors.Is(err, boom) {
			t.Fatalf("a.Get err = %v, want boom", err)
		}
		if u, err := b.Get(context.Background(), "k"); err != nil || u.ID != "k" {
			t.Errorf("b.Get = %+v, %v; want the value (lease released)", u, err)
		}
		if n := b.Stats().LeaseWaits; n != 0 {
			t.Errorf("b lease waits = %d, want 0", n)
		}
	})
}
