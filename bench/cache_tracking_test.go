package bench

// The tracked L1 (cache.LocalOptions.Tracking): how long after a write by
// another client the entry leaves L1 (the invalidation window), beside the
// window of aside's pub/sub invalidation (consistency.Keeper broadcasting
// to another instance's L1); and a tracked-L1 hit beside rueidis'
// client-side cache hit (DoCache, as its README shows).

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/aside-go/aside/cache"
	"github.com/aside-go/aside/consistency"
)

func trackedStringCache(b *testing.B, pfx string, tracked bool) *cache.Cache[string] {
	b.Helper()
	val := strings.Repeat("t", 100)
	c, err := cache.New(client(b), &cache.Options[string]{Prefix: pfx,
		Local:  &cache.LocalOptions{TTL: time.Minute, Tracking: tracked},
		Loader: cache.LoaderFunc[string](func(context.Context, string) (string, error) { return val, nil })})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// intoL1 reads key until a read is an L1 hit.
func intoL1(b *testing.B, c *cache.Cache[string], key string) {
	for i := 0; ; i++ {
		before := c.Stats().LocalHits
		if _, err := c.Get(context.Background(), key); err != nil {
			b.Fatal(err)
		}
		if c.Stats().LocalHits > before {
			return
		}
		if i > 1000 {
			b.Fatal("never an L1 hit")
		}
		time.Sleep(time.Millisecond)
	}
}

// waitFor spins until cond holds (at most 5 s) and returns how long it took.
func waitFor(b *testing.B, t0 time.Time, cond func() bool) time.Duration {
	for !cond() {
		if time.Since(t0) > 5*time.Second {
			b.Fatal("no invalidation within 5 s")
		}
		runtime.Gosched()
	}
	return time.Since(t0)
}

func BenchmarkCacheL1Window_Tracked(b *testing.B) {
	pfx := prefix(b)
	a := trackedStringCache(b, pfx, true)
	writer, err := cache.New(client(b), &cache.Options[string]{Prefix: pfx})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = writer.Close() })
	// Up: a probe write comes back as an invalidation.
	for a.Stats().TrackingInvalidations == 0 {
		_ = writer.Set(context.Background(), "probe", "x")
		time.Sleep(20 * time.Millisecond)
	}
	measureWindow(b, a, func() int64 { return a.Stats().TrackingInvalidations },
		func(key string) error { return writer.Set(context.Background(), key, "new") })
}

func BenchmarkCacheL1Window_PubSub(b *testing.B) {
	pfx := prefix(b)
	a := trackedStringCache(b, pfx, false)
	other := trackedStringCache(b, pfx, false)
	ka, err := consistency.New(client(b), a, &consistency.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ka.Close() })
	kb, err := consistency.New(client(b), other, &consistency.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = kb.Close() })
	measureWindow(b, a, func() int64 { return ka.Stats().Received },
		func(key string) error { return kb.Invalidate(context.Background(), key) })
}

// measureWindow puts a key into a's L1, invalidates it, and times until
// seen (a counter of a's side) moves; b.N times over 50 keys. It reports
// the window's p50 and p99.
func measureWindow(b *testing.B, a *cache.Cache[string], seen func() int64, invalidate func(key string) error) {
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		key := "k" + strconv.Itoa(i%50)
		intoL1(b, a, key)
		n := seen()
		b.StartTimer()
		t0 := time.Now()
		if err := invalidate(key); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, waitFor(b, t0, func() bool { return seen() > n }))
	}
	b.StopTimer()
	b.ReportMetric(durMs(durPercentile(lat, 50)), "window-p50-ms")
	b.ReportMetric(durMs(durPercentile(lat, 99)), "window-p99-ms")
}

func BenchmarkCacheTrackedL1Hit_Aside(b *testing.B) {
	a := trackedStringCache(b, prefix(b), true)
	intoL1(b, a, "k")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if v, err := a.Get(context.Background(), "k"); err != nil || len(v) != 100 {
			b.Fatal(err)
		}
	}
}

func BenchmarkCacheTrackedL1Hit_RueidisCSC(b *testing.B) {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{client(b).Options().Addr}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	ctx := context.Background()
	key := prefix(b) + ":k"
	if err := c.Do(ctx, c.B().Set().Key(key).Value(strings.Repeat("t", 100)).Build()).Error(); err != nil {
		b.Fatal(err)
	}
	get := func() {
		v, err := c.DoCache(ctx, c.B().Get().Key(key).Cache(), time.Minute).ToString()
		if err != nil || len(v) != 100 {
			b.Fatal(err)
		}
	}
	get()
	get()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		get()
	}
}

// go-redis' own client-side cache (v9.22+, experimental): RESP3, DB 0, a
// plain GET served from its local cache on a hit (checked with its
// CSCStats), invalidated by the server's tracking messages.
func BenchmarkCacheTrackedL1Hit_GoRedisCSC(b *testing.B) {
	c := redis.NewClient(&redis.Options{
		Addr:                  client(b).Options().Addr,
		Protocol:              3,
		ClientSideCacheConfig: &redis.ClientSideCacheConfig{MaxEntries: 10000},
	})
	b.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	key := prefix(b) + ":k"
	if err := c.Set(ctx, key, strings.Repeat("t", 100), 0).Err(); err != nil {
		b.Fatal(err)
	}
	get := func() {
		v, err := c.Get(ctx, key).Result()
		if err != nil || len(v) != 100 {
			b.Fatal(err)
		}
	}
	get()
	get()
	before := c.CSCStats().Hits
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		get()
	}
	b.StopTimer()
	if hits := c.CSCStats().Hits - before; hits < uint64(b.N) {
		b.Fatalf("%d cache hits in %d reads: not served from go-redis' cache", hits, b.N)
	}
}
