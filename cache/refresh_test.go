package cache

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
)

// putEntry writes an entry for u under key with the given soft expiry, as
// a past fill would have.
func putEntry(t *testing.T, c *Cache[user], key string, u user, soft time.Time) {
	t.Helper()
	b, err := encodeEntry(c.codec, envelope{softMs: soft.UnixMilli()}, u)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.rdb.Set(context.Background(), c.Key(key), b, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestCache_Get_StaleWhileRevalidate: past the soft TTL, 2 processes × 32
// callers get the stale value at once, and the fleet refreshes it once.
func TestCache_Get_StaleWhileRevalidate(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		prefix := redistest.Prefix(t)
		var calls atomic.Int64
		loader := LoaderFunc[user](func(ctx context.Context, key string) (user, error) {
			calls.Add(1)
			time.Sleep(50 * time.Millisecond)
			return user{ID: key, Name: "v2"}, nil
		})
		opt := &Options[user]{Prefix: prefix, Loader: loader, SoftTTL: time.Minute}
		a := newTestCache(t, tp.Client(t), opt)
		b := newTestCache(t, tp.Client(t), opt)
		putEntry(t, a, "k", user{ID: "k", Name: "v1"}, time.Now().Add(-time.Second))

		var wg sync.WaitGroup
		var stale atomic.Int64
		for _, c := range []*Cache[user]{a, b} {
			for range 32 {
				wg.Go(func() {
					u, err := c.Get(context.Background(), "k")
					switch {
					case err != nil:
						t.Errorf("Get: %v", err)
					case u.Name == "v1":
						stale.Add(1)
					case u.Name != "v2":
						t.Errorf("Get = %+v", u)
					}
				})
			}
		}
		wg.Wait()
		_ = a.Close() // waits for background refreshes
		_ = b.Close()
		if n := calls.Load(); n != 1 {
			t.Errorf("refresh loads = %d, want exactly 1 in the fleet", n)
		}
		if stale.Load() == 0 {
			t.Errorf("no caller got the stale value")
		}
		served := a.Stats().StaleServed + b.Stats().StaleServed
		if served != stale.Load() {
			t.Errorf("StaleServed = %d, callers with v1 = %d", served, stale.Load())
		}
		c := newTestCache(t, tp.Client(t), opt)
		if u, err := c.Get(context.Background(), "k"); err != nil || u.Name != "v2" {
			t.Errorf("Get after refresh = %+v, %v; want v2", u, err)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("loads after refresh = %d, want 1", n)
		}
	})
}

// TestCache_Get_RefreshAhead: a fresh value close to its soft expiry is
// served and refreshed early.
func TestCache_Get_RefreshAhead(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		l := newCountingLoader(0, "k")
		c := newTestCache(t, tp.Client(t), &Options[user]{Loader: l, SoftTTL: time.Minute, RefreshAhead: 30 * time.Second})
		putEntry(t, c, "k", user{ID: "k", Name: "old"}, time.Now().Add(10*time.Second))
		u, err := c.Get(context.Background(), "k")
		if err != nil || u.Name != "old" {
			t.Fatalf("Get = %+v, %v; want the fresh old value", u, err)
		}
		_ = c.Close()
		if n := l.calls.Load(); n != 1 {
			t.Errorf("loader calls = %d, want 1 early refresh", n)
		}
		if st := c.Stats(); st.Refreshes != 1 || st.StaleServed != 0 {
			t.Errorf("stats = %+v, want 1 refresh, 0 stale", st)
		}
		raw, _ := c.rdb.Get(context.Background(), c.Key("k")).Result()
		if e, v, err := decodeEntry(c.codec, raw); err != nil || v.Name != "name-k" || e.softMs < time.Now().Add(50*time.Second).UnixMilli() {
			t.Errorf("entry after refresh = %+v %+v %v", e, v, err)
		}
	})
}
