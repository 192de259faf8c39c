package bench

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	gocache "github.com/go-redis/cache/v9"
	jetcache "github.com/mgtv-tech/jetcache-go"

	"github.com/aside-go/aside/cache"
	"github.com/aside-go/aside/consistency"
	"github.com/dtm-labs/rockscache"
)

// raceLib is one library's cache-aside read (with a per-call loader) and
// its write path (database change, then the library's invalidation).
type raceLib struct {
	get   func(ctx context.Context, key string, load func(context.Context) (int64, error)) (int64, error)
	write func(ctx context.Context, key string, change func()) error
}

// raceSettle is how long the check waits before looking for a stale entry
// left: background repairs (rockscache's weak mode) have finished by then.
const raceSettle = 300 * time.Millisecond

// runRace replays the stale-set race of consistency/README.md once per
// iteration, on a fresh key: a reader misses and its loader reads version 1,
// the writer stores version 2 and invalidates, then the reader's loader
// returns version 1 and the library fills it. It reports the fraction of
// iterations where a read right after the race returned 1 (stale-read/op)
// and where a read raceSettle later still did (stale-left/op: the value
// would stay until its TTL).
//
//	cd bench && go test -run '^$' -bench ConsistencyRace -benchtime 20x
func runRace(b *testing.B, l raceLib) {
	ctx := context.Background()
	pfx := prefix(b)
	var staleRead, staleLeft int
	for i := range b.N {
		key := pfx + ":race:" + strconv.Itoa(i)
		var db atomic.Int64
		db.Store(1)
		read, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			_, err := l.get(ctx, key, func(context.Context) (int64, error) {
				v := db.Load()
				close(read)
				<-release
				return v, nil
			})
			done <- err
		}()
		<-read
		if err := l.write(ctx, key, func() { db.Store(2) }); err != nil {
			b.Fatal(err)
		}
		close(release)
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		fresh := func(context.Context) (int64, error) { return db.Load(), nil }
		v, err := l.get(ctx, key, fresh)
		if err != nil {
			b.Fatal(err)
		}
		if v != 2 {
			staleRead++
		}
		time.Sleep(raceSettle)
		if v, err = l.get(ctx, key, fresh); err != nil {
			b.Fatal(err)
		}
		if v != 2 {
			staleLeft++
		}
	}
	b.ReportMetric(float64(staleRead)/float64(b.N), "stale-read/op")
	b.ReportMetric(float64(staleLeft)/float64(b.N), "stale-left/op")
}

func asideRace(b *testing.B, mode consistency.Mode) raceLib {
	rdb := client(b)
	c, err := cache.New(rdb, &cache.Options[int64]{Prefix: prefix(b), VersionedFills: mode == consistency.Strong,
		OpTimeout: 5 * time.Second}) // no fill dropped by the op timeout on a loaded machine
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	k, err := consistency.New(rdb, c, &consistency.Options{Mode: mode, NoBroadcast: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = k.Close() })
	return raceLib{
		get: func(ctx context.Context, key string, load func(context.Context) (int64, error)) (int64, error) {
			return c.GetWith(ctx, key, cache.LoaderFunc[int64](func(ctx context.Context, _ string) (int64, error) { return load(ctx) }))
		},
		write: func(ctx context.Context, key string, change func()) error {
			return k.Write(ctx, func(context.Context) error { change(); return nil }, key)
		},
	}
}

// BenchmarkConsistencyRace_AsideDeleteAfterWrite is aside's
// consistency.DeleteAfterWrite: the race shows.
func BenchmarkConsistencyRace_AsideDeleteAfterWrite(b *testing.B) {
	runRace(b, asideRace(b, consistency.DeleteAfterWrite))
}

// BenchmarkConsistencyRace_AsideStrong is aside's consistency.Strong on a
// cache with versioned fills: the late fill is refused.
func BenchmarkConsistencyRace_AsideStrong(b *testing.B) {
	runRace(b, asideRace(b, consistency.Strong))
}

// BenchmarkConsistencyRace_GoRedisCache is go-redis/cache: Once, then
// Delete after the change.
func BenchmarkConsistencyRace_GoRedisCache(b *testing.B) {
	c := newGoRedisCache(client(b), false)
	runRace(b, raceLib{
		get: func(ctx context.Context, key string, load func(context.Context) (int64, error)) (int64, error) {
			var v int64
			err := c.Once(&gocache.Item{Ctx: ctx, Key: key, Value: &v, TTL: time.Minute,
				Do: func(it *gocache.Item) (any, error) { return load(it.Context()) }})
			return v, err
		},
		write: func(ctx context.Context, key string, change func()) error { change(); return c.Delete(ctx, key) },
	})
}

// BenchmarkConsistencyRace_GoZero is go-zero's cache: TakeCtx, then DelCtx
// after the change (what its sqlc ExecCtx does).
func BenchmarkConsistencyRace_GoZero(b *testing.B) {
	c := newGoZeroCache(b)
	runRace(b, raceLib{
		get: func(ctx context.Context, key string, load func(context.Context) (int64, error)) (int64, error) {
			var v int64
			err := c.TakeCtx(ctx, &v, key, func(val any) error {
				lv, err := load(ctx)
				*val.(*int64) = lv
				return err
			})
			return v, err
		},
		write: func(ctx context.Context, key string, change func()) error { change(); return c.DelCtx(ctx, key) },
	})
}

// BenchmarkConsistencyRace_Jetcache is jetcache-go: Once, then Delete after
// the change.
func BenchmarkConsistencyRace_Jetcache(b *testing.B) {
	c := newJetcache(client(b), nil)
	b.Cleanup(c.Close)
	runRace(b, raceLib{
		get: func(ctx context.Context, key string, load func(context.Context) (int64, error)) (int64, error) {
			var v int64
			err := c.Once(ctx, key, jetcache.Value(&v), jetcache.TTL(time.Minute),
				jetcache.Do(func(ctx context.Context) (any, error) { return load(ctx) }))
			return v, err
		},
		write: func(ctx context.Context, key string, change func()) error { change(); return c.Delete(ctx, key) },
	})
}

func rockscacheRace(b *testing.B, strong bool) raceLib {
	opt := rockscache.NewDefaultOptions()
	opt.StrongConsistency = strong
	c := rockscache.NewClient(client(b), opt)
	return raceLib{
		get: func(ctx context.Context, key string, load func(context.Context) (int64, error)) (int64, error) {
			s, err := c.Fetch2(ctx, key, time.Minute, func() (string, error) {
				v, err := load(ctx)
				return strconv.FormatInt(v, 10), err
			})
			if err != nil {
				return 0, err
			}
			return strconv.ParseInt(s, 10, 64)
		},
		write: func(ctx context.Context, key string, change func()) error {
			change()
			return c.TagAsDeleted2(ctx, key)
		},
	}
}

// BenchmarkConsistencyRace_Rockscache is rockscache's default (weak) mode:
// Fetch2, then TagAsDeleted2 after the change.
func BenchmarkConsistencyRace_Rockscache(b *testing.B) { runRace(b, rockscacheRace(b, false)) }

// BenchmarkConsistencyRace_RockscacheStrong is rockscache with
// StrongConsistency.
func BenchmarkConsistencyRace_RockscacheStrong(b *testing.B) { runRace(b, rockscacheRace(b, true)) }
