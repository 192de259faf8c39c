package cache

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/redistest"
)

// TestCache_Delete_DuringLoad: a load that read the source before a Delete
// finishes after it. With VersionedFills its fill is refused; without, the
// stale value lands (the weaker mode the consistency package measures).
// Either way this process's next Get starts a new load.
func TestCache_Delete_DuringLoad(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		for _, versioned := range []bool{true, false} {
			t.Run(fmt.Sprintf("versioned=%v", versioned), func(t *testing.T) {
				ctx := context.Background()
				rdb := tp.Client(t)
				var version atomic.Int64 // the "database" row version
				var calls atomic.Int64
				reading := make(chan struct{}, 1)
				release := make(chan struct{})
				c := newTestCache(t, rdb, &Options[user]{VersionedFills: versioned,
					Loader: LoaderFunc[user](func(ctx context.Context, key string) (user, error) {
						v := version.Load() // read the row
						if calls.Add(1) == 1 {
							reading <- struct{}{}
							<-release // a writer updates the row and deletes meanwhile
						}
						return user{ID: key, Name: fmt.Sprint("v", v)}, nil
					})})
				first := make(chan user, 1)
				go func() { u, _ := c.Get(ctx, "k"); first <- u }()
				<-reading
				version.Store(1)
				if err := c.Delete(ctx, "k"); err != nil {
					t.Fatal(err)
				}
				// Read-your-writes: the writer's next Get does not join the old load.
				u, err := c.Get(ctx, "k")
				if err != nil || u.Name != "v1" {
					t.Errorf("Get after Delete = %+v, %v; want v1 from a new load", u, err)
				}
				close(release)
				if u := <-first; u.Name != "v0" {
					t.Errorf("first caller got %+v, want v0 (read before the write)", u)
				}
				_ = c.Close() // wait for the old load's fill
				raw, err := rdb.Get(ctx, c.Key("k")).Result()
				if err != nil {
					t.Fatalf("GET: %v", err)
				}
				_, got, err := decodeEntry(c.codec, raw)
				if err != nil {
					t.Fatal(err)
				}
				want := "v1"
				if !versioned {
					want = "v0" // the stale fill landed after the delete
				}
				if got.Name != want {
					t.Errorf("Redis holds %s, want %s", got.Name, want)
				}
				if versioned {
					m, err := rdb.Get(ctx, c.Key("k")+":ver").Result()
					if err != nil || m == "" {
						t.Errorf("version marker = %q, %v; want it set", m, err)
					}
					ttl, _ := rdb.PTTL(ctx, c.Key("k")+":ver").Result()
					if ttl <= c.opt.LoadTimeout {
						t.Errorf("marker TTL %v does not outlive a load (%v)", ttl, c.opt.LoadTimeout)
					}
				} else if err := rdb.Get(ctx, c.Key("k")+":ver").Err(); !errors.Is(err, redis.Nil) {
					t.Errorf("unversioned cache wrote a marker: %v", err)
				}
			})
		}
	})
}

// TestCache_Set_VersionedBeatsInFlightFill: a Set during a load wins over
// the load's older fill.
func TestCache_Set_VersionedBeatsInFlightFill(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := context.Background()
		reading := make(chan struct{})
		release := make(chan struct{})
		c := newTestCache(t, tp.Client(t), &Options[user]{VersionedFills: true,
			Loader: LoaderFunc[user](func(ctx context.Context, key string) (user, error) {
				close(reading)
				<-release
				return user{ID: key, Name: "old"}, nil
			})})
		done := make(chan struct{})
		go func() { _, _ = c.Get(ctx, "k"); close(done) }()
		<-reading
		if err := c.Set(ctx, "k", user{ID: "k", Name: "new"}); err != nil {
			t.Fatal(err)
		}
		close(release)
		<-done
		other := newTestCache(t, tp.Client(t), &Options[user]{Prefix: c.Prefix()})
		if u, err := other.Get(ctx, "k"); err != nil && !errors.Is(err, ErrNoLoader) || u.Name != "new" {
			t.Errorf("Get = %+v, %v; want new", u, err)
		}
	})
}

func TestCache_VersionedFills_ReportsOption(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // New does no I/O
	defer rdb.Close()
	for _, on := range []bool{false, true} {
		c, err := New[string](rdb, &Options[string]{Prefix: "p", VersionedFills: on})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.VersionedFills(); got != on {
			t.Errorf("VersionedFills() = %v with Options.VersionedFills = %v", got, on)
		}
		c.Close()
	}
}
