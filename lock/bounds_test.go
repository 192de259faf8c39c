package lock_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/lock"
	"github.com/redis/go-redis/v9"
)

// Lock names built from request input leave no key without a TTL: the
// fence counters expire FenceTTL after the last obtain.
func TestClient_Obtain_NoKeyLeftWithoutTTL(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		rdb := tp.Client(t)
		prefix := redistest.Prefix(t)
		c := newClient(t, rdb, prefix)
		for i := range 50 {
			l, err := c.TryObtain(ctx, fmt.Sprintf("order:%d", i), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 50 {
			k := fmt.Sprintf("{%s|order:%d}:fence", prefix, i)
			ttl, err := rdb.PTTL(ctx, k).Result()
			if err != nil || ttl <= 0 || ttl > 7*24*time.Hour {
				t.Fatalf("%s: PTTL %v, %v; want a TTL of at most 7 days", k, ttl, err)
			}
		}
	})
}

// A fence counter that expired or was lost starts again above every fence
// it handed out, so a resource that saw an old fence still accepts the
// new holders.
func TestClient_Obtain_FenceGrowsAcrossLostCounter(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		rdb := tp.Client(t)
		prefix := redistest.Prefix(t)
		c := newClient(t, rdb, prefix)
		fence := "{" + prefix + "|k}:fence"
		if err := rdb.Set(ctx, fence, "41", 0).Err(); err != nil { // a counter of an older version
			t.Fatal(err)
		}
		take := func() int64 {
			t.Helper()
			l, err := c.TryObtain(ctx, "k", time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release(ctx)
			return l.Fence()
		}
		if f := take(); f != 42 {
			t.Fatalf("fence after an existing counter of 41 = %d, want 42", f)
		}
		if err := c.SetFenced(ctx, "{"+prefix+"}:res", "old", 42); err != nil {
			t.Fatal(err)
		}
		if err := rdb.Del(ctx, fence).Err(); err != nil { // expired, or lost in a restart
			t.Fatal(err)
		}
		f := take()
		if f <= 42 {
			t.Fatalf("fence after the counter was lost = %d, want above 42", f)
		}
		if err := c.SetFenced(ctx, "{"+prefix+"}:res", "new", f); err != nil {
			t.Fatalf("a write with the new holder's fence was refused: %v", err)
		}
		if g := take(); g != f+1 {
			t.Fatalf("next fence = %d, want %d", g, f+1)
		}
	})
}

func TestClient_Obtain_RejectsAbsurdTTL(t *testing.T) {
	c := newClient(t, redistest.Standalone.Client(t), redistest.Prefix(t))
	for _, ttl := range []time.Duration{0, time.Microsecond, 48 * time.Hour} {
		if _, err := c.TryObtain(context.Background(), "k", ttl); err == nil || errors.Is(err, lock.ErrNotObtained) {
			t.Errorf("TryObtain with ttl %v: %v, want an error about the ttl", ttl, err)
		}
	}
	if _, err := lock.New(redistest.Standalone.Client(t), &lock.Options{FenceTTL: time.Second}); err == nil {
		t.Error("FenceTTL 1s accepted")
	}
}

// Handles that disagree about a semaphore's permits cannot each admit
// their own number: while it has holders, the number they used is kept
// with it and other numbers are refused with ErrPermits.
func TestSemaphore_Acquire_PermitsMismatchRefused(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		c := clients(t, tp, 1)[0]
		five, err := c.NewSemaphore("pool", 5)
		if err != nil {
			t.Fatal(err)
		}
		fifty, err := c.NewSemaphore("pool", 50)
		if err != nil {
			t.Fatal(err)
		}
		var held []*lock.Lock
		for range 5 {
			p, err := five.TryAcquire(ctx, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, p)
		}
		if _, err := fifty.TryAcquire(ctx, time.Minute); !errors.Is(err, lock.ErrPermits) {
			t.Fatalf("50-permit handle while 5-permit holders hold: %v, want ErrPermits", err)
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, err := fifty.Acquire(wctx, time.Minute); !errors.Is(err, lock.ErrPermits) {
			t.Fatalf("Acquire: %v, want ErrPermits at once", err)
		}
		if n, err := five.Held(ctx); err != nil || n != 5 {
			t.Fatalf("Held = %d, %v; want 5", n, err)
		}
		for _, p := range held {
			if err := p.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
		// No holders left: the semaphore may be used with another number.
		p, err := fifty.TryAcquire(ctx, time.Minute)
		if err != nil {
			t.Fatalf("50-permit handle with no holders left: %v", err)
		}
		p.Release(ctx)
	})
}

func TestClient_Do_NilFn(t *testing.T) {
	c := newClient(t, redistest.Standalone.Client(t), redistest.Prefix(t))
	if err := c.Do(t.Context(), "k", time.Second, nil); err == nil {
		t.Fatal("Do with a nil fn: nil error, want one (not a panic)")
	}
	var typed *redis.Client
	if _, err := lock.New(typed, nil); !errors.Is(err, lock.ErrInvalidOptions) {
		t.Fatalf("New with a typed-nil client: %v, want ErrInvalidOptions", err)
	}
}
