package lock

import (
	"context"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/lease"
	"github.com/aside-go/aside/internal/redistest"
)

// A waiter that leaves (its ctx ended) after a wake-up reached it, without
// using it, must not strand the others: the wake-up goes back to Redis
// when the lock is free, and is dropped while it is held (the holder's
// release leaves a new one).
func TestClient_leave_PassesUnusedWakeUpOn(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		rdb := tp.Client(t)
		c, err := New(rdb, &Options{Prefix: redistest.Prefix(t), MaxBlocking: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		tg := c.lockTarget("k")

		woken := func(w *lease.Waiter) {
			t.Helper()
			if err := rdb.RPush(ctx, tg.wake(), "1").Err(); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); len(w.Woken()) == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the watcher did not hand the wake-up to the waiter")
				}
			}
		}
		wakeLen := func(want int64) {
			t.Helper()
			var n int64
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				if n, err = rdb.LLen(ctx, tg.wake()).Result(); err == nil && n == want {
					return
				}
			}
			t.Fatalf("wake list length = %d, %v; want %d", n, err, want)
		}

		// The only waiter leaves with a wake-up while the lock is free:
		// it goes back to Redis for other processes.
		w := c.join(tg)
		woken(w)
		c.leave(tg, w, false)
		wakeLen(1)
		if err := rdb.Del(ctx, tg.wake()).Err(); err != nil {
			t.Fatal(err)
		}

		// While the lock is held, an unused wake-up is dropped.
		if _, _, ok, err := c.try(ctx, tg, "holder", 10*time.Second); !ok || err != nil {
			t.Fatalf("obtain: %v, %v", ok, err)
		}
		w = c.join(tg)
		woken(w)
		c.leave(tg, w, false)
		time.Sleep(50 * time.Millisecond)
		wakeLen(0)
		if ok, err := c.release(context.Background(), tg, "holder"); !ok || err != nil {
			t.Fatalf("release: %v, %v", ok, err)
		}
		wakeLen(1)
	})
}

func TestClient_lockTarget_Keys(t *testing.T) {
	c := &Client{prefix: "p"}
	tg := c.lockTarget("job")
	want := [3]string{keys.Base("p", "job"), keys.Sub(keys.Base("p", "job"), "wake"), keys.Sub(keys.Base("p", "job"), "fence")}
	if tg.keys != want {
		t.Fatalf("keys = %q, want %q", tg.keys, want)
	}
	for _, k := range tg.keys {
		if keys.Slot(k) != keys.Slot(tg.main()) {
			t.Fatalf("%q not in the slot of %q", k, tg.main())
		}
	}
	st := c.semTarget("job", 2)
	if st.main() != "{p|job}:sem" || st.wake() != "{p|job}:sem:wake" || keys.Slot(st.wake()) != keys.Slot(tg.main()) {
		t.Fatalf("semaphore keys = %q", st.keys)
	}
}
