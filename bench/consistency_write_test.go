package bench

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aside-go/aside/cache"
	"github.com/aside-go/aside/consistency"
)

// runWrite times the invalidation path of one write of one key (the
// database change is a no-op): write(ctx, key) per iteration, keys cycled.
func runWrite(b *testing.B, write func(ctx context.Context, key string) error) {
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if err := write(ctx, "k"+strconv.Itoa(i%1000)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(durMs(durPercentile(lat, 50)), "p50-ms")
	b.ReportMetric(durMs(durPercentile(lat, 99)), "p99-ms")
}

func writeKeeper(b *testing.B, versioned bool, opt *consistency.Options) (*cache.Cache[int64], *consistency.Keeper) {
	rdb := client(b)
	c, err := cache.New(rdb, &cache.Options[int64]{Prefix: prefix(b), VersionedFills: versioned})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	k, err := consistency.New(rdb, c, opt)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = k.Close() })
	return c, k
}

// BenchmarkConsistencyWrite_CacheDelete is the floor: the cache's own
// Delete of the key (one DEL), no intent, no broadcast.
func BenchmarkConsistencyWrite_CacheDelete(b *testing.B) {
	c, _ := writeKeeper(b, false, &consistency.Options{NoBroadcast: true})
	runWrite(b, func(ctx context.Context, key string) error { return c.Delete(ctx, key) })
}

// BenchmarkConsistencyWrite_AsideDeleteAfterWrite is Keeper.Write in the
// default mode: intent, delete, broadcast to the L1s, intent removed.
func BenchmarkConsistencyWrite_AsideDeleteAfterWrite(b *testing.B) {
	_, k := writeKeeper(b, false, nil)
	runWrite(b, func(ctx context.Context, key string) error { return k.Invalidate(ctx, key) })
}

// BenchmarkConsistencyWrite_AsideDoubleDelete adds the scheduling of the
// second delete (in the same script that removes the intent) and runs the
// second deletes in the background (10 ms delay).
func BenchmarkConsistencyWrite_AsideDoubleDelete(b *testing.B) {
	_, k := writeKeeper(b, false, &consistency.Options{Mode: consistency.DoubleDelete, Delay: 10 * time.Millisecond})
	runWrite(b, func(ctx context.Context, key string) error { return k.Invalidate(ctx, key) })
}

// BenchmarkConsistencyWrite_AsideStrong is Keeper.Write on a cache with
// versioned fills (the delete is a script that bumps the version marker).
func BenchmarkConsistencyWrite_AsideStrong(b *testing.B) {
	_, k := writeKeeper(b, true, &consistency.Options{Mode: consistency.Strong})
	runWrite(b, func(ctx context.Context, key string) error { return k.Invalidate(ctx, key) })
}
