package lock_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/lock"
)

// checkLeft fails t unless lo < d <= hi.
func checkLeft(t *testing.T, what string, d, lo, hi time.Duration) {
	t.Helper()
	if d <= lo || d > hi {
		t.Errorf("%s = %v, want in (%v, %v]", what, d, lo, hi)
	}
}

// Inspect sees a held lock (from another process too) with its token,
// lease and fence, and a free one with the fence of its last holder.
func TestClient_Inspect(t *testing.T) {
	t.Parallel()
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		cs := clients(t, tp, 2)
		owner, other := cs[0], cs[1]

		got, err := other.Inspect(ctx, "job")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(lock.Info{Key: "job"}, got); diff != "" {
			t.Errorf("never obtained (-want +got):\n%s", diff)
		}

		const ttl = 10 * time.Second
		l, err := owner.Obtain(ctx, "job", ttl)
		if err != nil {
			t.Fatal(err)
		}
		got, err = other.Inspect(ctx, "job")
		if err != nil {
			t.Fatal(err)
		}
		checkLeft(t, "TTL", got.TTL, ttl-5*time.Second, ttl)
		want := lock.Info{Key: "job", Held: true, Token: l.Token(), TTL: got.TTL, Fence: l.Fence()}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("held (-want +got):\n%s", diff)
		}

		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		got, err = other.Inspect(ctx, "job")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(lock.Info{Key: "job", Fence: l.Fence()}, got); diff != "" {
			t.Errorf("released (-want +got):\n%s", diff)
		}

		// The next holder's fence is the counter's next value.
		l2, err := other.TryObtain(ctx, "job", ttl)
		if err != nil {
			t.Fatal(err)
		}
		defer l2.Release(ctx)
		got, err = owner.Inspect(ctx, "job")
		if err != nil || got.Token != l2.Token() || got.Fence != l2.Fence() || got.Fence <= l.Fence() {
			t.Errorf("second holder: %+v, %v; want token %s, fence %d (> %d)", got, err, l2.Token(), l2.Fence(), l.Fence())
		}
	})
}

// InspectSemaphore lists the live holders soonest-expiring first with
// the recorded permits, skips ended leases without removing them, and
// takes no permit.
func TestClient_InspectSemaphore(t *testing.T) {
	t.Parallel()
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		prefix := redistest.Prefix(t)
		cs := []*lock.Client{newClient(t, tp.Client(t), prefix), newClient(t, tp.Client(t), prefix)}
		got, err := cs[1].InspectSemaphore(ctx, "pool")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(lock.SemaphoreInfo{Name: "pool"}, got); diff != "" {
			t.Errorf("never acquired (-want +got):\n%s", diff)
		}

		sem, err := cs[0].NewSemaphore("pool", 3)
		if err != nil {
			t.Fatal(err)
		}
		long, err := sem.TryAcquire(ctx, 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer long.Release(ctx)
		short, err := sem.TryAcquire(ctx, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer short.Release(ctx)
		got, err = cs[1].InspectSemaphore(ctx, "pool")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Holders) != 2 {
			t.Fatalf("holders = %+v, want 2", got.Holders)
		}
		checkLeft(t, "short TTL", got.Holders[0].TTL, 5*time.Second, 10*time.Second)
		checkLeft(t, "long TTL", got.Holders[1].TTL, 15*time.Second, 20*time.Second)
		want := lock.SemaphoreInfo{Name: "pool", Permits: 3, Holders: []lock.HolderInfo{
			{Token: short.Token(), TTL: got.Holders[0].TTL},
			{Token: long.Token(), TTL: got.Holders[1].TTL},
		}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("2 of 3 held (-want +got):\n%s", diff)
		}
		if n, err := sem.Held(ctx); err != nil || n != 2 {
			t.Errorf("Held after InspectSemaphore = %d, %v; want 2 (no permit taken)", n, err)
		}

		// A lease that ended is left out, and left in Redis.
		brief, err := sem.TryAcquire(ctx, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
		got, err = cs[1].InspectSemaphore(ctx, "pool")
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range got.Holders {
			if h.Token == brief.Token() {
				t.Errorf("ended lease listed: %+v", got.Holders)
			}
		}
		if len(got.Holders) != 2 {
			t.Errorf("holders after a lease ended = %+v, want the 2 live ones", got.Holders)
		}
		rdb := tp.Client(t)
		key := "{" + prefix + "|pool}:sem"
		if n, err := rdb.ZCard(ctx, key).Result(); err != nil || n != 3 {
			t.Errorf("ZCARD %s = %d, %v; want 3 (InspectSemaphore removes nothing)", key, n, err)
		}
	})
}
