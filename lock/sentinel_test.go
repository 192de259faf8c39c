package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/lock"
)

// Through a Sentinel failover client: obtain, wait, release and fence
// before and after a failover.
func TestClient_Obtain_Sentinel(t *testing.T) {
	t.Parallel()
	st := redistest.StartSentinel(t)
	prefix := redistest.Prefix(t)
	a := newClient(t, st.Client(t), prefix)
	b := newClient(t, st.Client(t), prefix)
	ctx := t.Context()

	handOff := func(t *testing.T) int64 {
		t.Helper()
		l, err := a.Obtain(ctx, "job", 10*time.Second, lock.WithWatchdog(true))
		if err != nil {
			t.Fatalf("Obtain: %v", err)
		}
		got := make(chan *lock.Lock, 1)
		go func() {
			w, err := b.Obtain(ctx, "job", 10*time.Second)
			if err != nil {
				t.Errorf("waiter Obtain: %v", err)
			}
			got <- w
		}()
		waitForWaiters(t, []*lock.Client{b}, 1)
		if err := l.Release(ctx); err != nil {
			t.Fatalf("Release: %v", err)
		}
		w := <-got
		if w == nil {
			t.FailNow()
		}
		if w.Fence() <= l.Fence() {
			t.Fatalf("waiter fence %d, want > %d", w.Fence(), l.Fence())
		}
		if err := w.Release(ctx); err != nil {
			t.Fatalf("waiter Release: %v", err)
		}
		return w.Fence()
	}

	before := handOff(t)
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := st.Failover(fctx); err != nil {
		t.Fatal(err)
	}
	after := handOff(t)
	if after <= before {
		t.Fatalf("fence after failover %d, want > %d (the counter was replicated)", after, before)
	}
	if _, err := a.TryObtain(ctx, "job", time.Second); err != nil && !errors.Is(err, lock.ErrNotObtained) {
		t.Fatalf("TryObtain after failover: %v", err)
	}
}
