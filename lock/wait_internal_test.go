package lock

import (
	"context"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/redistest"
)

// A waiter that leaves (its ctx ended) after a wake-up reached it, without
// using it, must not strand the others: the wake-up goes to the next
// waiter of its process, or back to Redis when there is none and the lock
// is free.
func TestClient_leave_PassesUnusedWakeUpOn(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		rdb := tp.Client(t)
		c, err := New(rdb, &Options{Prefix: redistest.Prefix(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.maxBlocking = 0 // no watcher: this test plays its part
		tg := c.lockTarget("k")

		// Two local waiters: the first leaves with a wake-up pending.
		w1, w2 := c.join(tg), c.join(tg)
		w1.ch <- struct{}{}
		c.leave(tg, w1, false)
		select {
		case <-w2.ch:
		default:
			t.Fatal("the next local waiter did not get the unused wake-up")
		}

		// The last local waiter leaves with a wake-up while the lock is
		// free: it goes back to Redis for other processes.
		w2.ch <- struct{}{}
		c.leave(tg, w2, false)
		c.wg.Wait() // the hand-back runs in the background
		if n, err := rdb.LLen(ctx, tg.wake()).Result(); err != nil || n != 1 {
			t.Fatalf("wake list length = %d, %v; want 1", n, err)
		}

		// While the lock is held, an unused wake-up is dropped: the
		// holder's release will leave a new one.
		if _, _, ok, err := c.try(ctx, tg, "holder", 10*time.Second); !ok || err != nil {
			t.Fatalf("obtain: %v, %v", ok, err)
		}
		if n, _ := rdb.LLen(ctx, tg.wake()).Result(); n != 0 {
			t.Fatalf("wake list length after obtain = %d, want 0 (stale wake-ups cleared)", n)
		}
		w3 := c.join(tg)
		w3.ch <- struct{}{}
		c.leave(tg, w3, false)
		c.wg.Wait()
		if n, _ := rdb.LLen(ctx, tg.wake()).Result(); n != 0 {
			t.Fatalf("wake list length = %d, want 0 while held", n)
		}
		if ok, err := c.release(context.Background(), tg, "holder"); !ok || err != nil {
			t.Fatalf("release: %v, %v", ok, err)
		}
		if n, _ := rdb.LLen(ctx, tg.wake()).Result(); n != 1 {
			t.Fatalf("wake list length after release = %d, want 1", n)
		}
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
	if st.main() != "{p:job}:sem" || st.wake() != "{p:job}:sem:wake" || keys.Slot(st.wake()) != keys.Slot(tg.main()) {
		t.Fatalf("semaphore keys = %q", st.keys)
	}
}
