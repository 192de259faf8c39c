package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
)

// lookupAll runs Get for every key of ks with 8 workers and fails the test
// on any answer other than ErrNotFound.
func lookupAll(t *testing.T, c *Cache[user], ks []string) {
	t.Helper()
	var wg sync.WaitGroup
	work := make(chan string)
	for range 8 {
		wg.Go(func() {
			for k := range work {
				if _, err := c.Get(context.Background(), k); !errors.Is(err, ErrNotFound) {
					t.Errorf("Get(%q) err = %v, want ErrNotFound", k, err)
				}
			}
		})
	}
	for _, k := range ks {
		work <- k
	}
	close(work)
	wg.Wait()
}

// TestCache_Get_PenetrationNegativeCaching: 10,000 lookups of 1,000 absent
// keys load each key at most once.
func TestCache_Get_PenetrationNegativeCaching(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		l := newCountingLoader(0)
		c := newTestCache(t, tp.Client(t), &Options[user]{Loader: l})
		ks := make([]string, 10000)
		for i := range ks {
			ks[i] = fmt.Sprintf("absent-%d", i%1000)
		}
		lookupAll(t, c, ks)
		if m := l.maxPerKey(); m != 1 {
			t.Errorf("most loads of one absent key = %d, want 1", m)
		}
		if n := l.calls.Load(); n != 1000 {
			t.Errorf("loader calls = %d, want 1000 (one per distinct key)", n)
		}
		if st := c.Stats(); st.NegativeHits != 9000 {
			t.Errorf("NegativeHits = %d, want 9000", st.NegativeHits)
		}
	})
}

// TestCache_Get_NegativeNeverOverwritesValue: a load that finds nothing
// while a Set writes the key must not replace the Set's value.
func TestCache_Get_NegativeNeverOverwritesValue(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := context.Background()
		loading := make(chan struct{})
		release := make(chan struct{})
		c := newTestCache(t, tp.Client(t), &Options[user]{Local: &LocalOptions{},
			Loader: LoaderFunc[user](func(context.Context, string) (user, error) {
				close(loading)
				<-release
				return user{}, ErrNotFound
			})})
		done := make(chan error, 1)
		go func() { _, err := c.Get(ctx, "k"); done <- err }()
		<-loading
		want := user{ID: "k", Name: "written meanwhile"}
		if err := c.Set(ctx, "k", want); err != nil {
			t.Fatal(err)
		}
		close(release)
		if err := <-done; !errors.Is(err, ErrNotFound) {
			t.Errorf("loading caller err = %v, want ErrNotFound", err)
		}
		c.FlushLocal()
		if got, err := c.Get(ctx, "k"); err != nil || got != want {
			t.Errorf("Get after the negative fill = %+v, %v; want %+v", got, err, want)
		}
	})
}

// TestCache_Get_NegativeTTLDisabled: with NegativeTTL < 0 nothing is
// cached for a missing key.
func TestCache_Get_NegativeTTLDisabled(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		l := newCountingLoader(0)
		c := newTestCache(t, tp.Client(t), &Options[user]{Loader: l, NegativeTTL: -1})
		for range 3 {
			if _, err := c.Get(context.Background(), "k"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v", err)
			}
		}
		if n := l.calls.Load(); n != 3 {
			t.Errorf("loader calls = %d, want 3", n)
		}
		if n, _ := tp.Client(t).Exists(context.Background(), c.Key("k")).Result(); n != 0 {
			t.Errorf("a negative entry was written")
		}
	})
}

func TestCache_Get_NegativeEntryTTLIsShort(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		c := newTestCache(t, tp.Client(t), &Options[user]{Loader: newCountingLoader(0), NegativeTTL: 30 * time.Second})
		_, _ = c.Get(context.Background(), "k")
		ttl, err := tp.Client(t).PTTL(context.Background(), c.Key("k")).Result()
		if err != nil || ttl <= 26*time.Second || ttl > 30*time.Second {
			t.Errorf("negative entry PTTL = %v, %v; want in (27s, 30s] (jitter 0.1)", ttl, err)
		}
	})
}
