package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/redistest"
)

// doc is the 1 KiB value of the hit benchmarks.
type doc struct {
	ID   string `json:"id"`
	Body string `json:"body"`
}

var doc1K = doc{ID: "42", Body: strings.Repeat("a", 1000)}

func benchClient(b *testing.B) *redis.Client {
	s := redistest.StartServer(b, redistest.Config{})
	rdb := s.NewClient()
	b.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// BenchmarkFloor_GETDecode is plain GET + json.Unmarshal of the same
// value: the floor the cache's Redis hit is measured against.
func BenchmarkFloor_GETDecode(b *testing.B) {
	rdb := benchClient(b)
	ctx := context.Background()
	key := keys.Base(redistest.Prefix(b), "k")
	raw, _ := json.Marshal(doc1K)
	if err := rdb.Set(ctx, key, raw, 0).Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := rdb.Get(ctx, key).Bytes()
		if err != nil {
			b.Fatal(err)
		}
		var d doc
		if err := json.Unmarshal(s, &d); err != nil || d.ID != "42" {
			b.Fatal(err)
		}
	}
}

// BenchmarkCache_GetRedisHit is Get of a 1 KiB JSON value found in Redis
// (no L1).
func BenchmarkCache_GetRedisHit(b *testing.B) {
	rdb := benchClient(b)
	ctx := context.Background()
	c := newTestCache(b, rdb, &Options[doc]{})
	if err := c.Set(ctx, "k", doc1K); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		d, err := c.Get(ctx, "k")
		if err != nil || d.ID != "42" {
			b.Fatal(err)
		}
	}
}

// BenchmarkFloor_GETBytes is plain GET of 1 KiB as []byte.
func BenchmarkFloor_GETBytes(b *testing.B) {
	rdb := benchClient(b)
	ctx := context.Background()
	key := keys.Base(redistest.Prefix(b), "k")
	if err := rdb.Set(ctx, key, strings.Repeat("a", 1024), 0).Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if s, err := rdb.Get(ctx, key).Bytes(); err != nil || len(s) != 1024 {
			b.Fatal(err)
		}
	}
}

// BenchmarkCache_GetRedisHitBytes is Get of 1 KiB with the Bytes codec.
func BenchmarkCache_GetRedisHitBytes(b *testing.B) {
	rdb := benchClient(b)
	ctx := context.Background()
	c := newTestCache(b, rdb, &Options[[]byte]{Codec: Bytes()})
	if err := c.Set(ctx, "k", []byte(strings.Repeat("a", 1024))); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if v, err := c.Get(ctx, "k"); err != nil || len(v) != 1024 {
			b.Fatal(err)
		}
	}
}

// BenchmarkCache_GetLocalHit is Get answered by the L1 tier.
func BenchmarkCache_GetLocalHit(b *testing.B) {
	rdb := benchClient(b)
	ctx := context.Background()
	c := newTestCache(b, rdb, &Options[doc]{Local: &LocalOptions{}})
	if err := c.Set(ctx, "k", doc1K); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if d, err := c.Get(ctx, "k"); err != nil || d.ID != "42" {
			b.Fatal(err)
		}
	}
}

// BenchmarkCache_GetLocalHitParallel is L1 hits from all CPUs.
func BenchmarkCache_GetLocalHitParallel(b *testing.B) {
	rdb := benchClient(b)
	ctx := context.Background()
	c := newTestCache(b, rdb, &Options[doc]{Local: &LocalOptions{}})
	for i := range 64 {
		if err := c.Set(ctx, fmt.Sprint(i), doc1K); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := c.Get(ctx, fmt.Sprint(i&63)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkCache_GetMany16 is GetMany of 16 keys, all Redis hits.
func BenchmarkCache_GetMany16(b *testing.B) {
	rdb := benchClient(b)
	ctx := context.Background()
	c := newTestCache(b, rdb, &Options[doc]{})
	ks := make([]string, 16)
	for i := range ks {
		ks[i] = fmt.Sprint("k", i)
		if err := c.Set(ctx, ks[i], doc1K); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		rs, err := c.GetMany(ctx, ks)
		if err != nil || !rs[15].Found {
			b.Fatal(err)
		}
	}
}

// BenchmarkCache_GetRedisHitVsFloor alternates a plain GET + json.Unmarshal
// and the cache's Redis hit of the same 1 KiB value, op by op, so load on
// a shared machine hits both alike; it reports each side's mean and their
// ratio (cache/floor).
func BenchmarkCache_GetRedisHitVsFloor(b *testing.B) {
	rdb := benchClient(b)
	ctx := context.Background()
	c := newTestCache(b, rdb, &Options[doc]{})
	if err := c.Set(ctx, "k", doc1K); err != nil {
		b.Fatal(err)
	}
	key := keys.Base(redistest.Prefix(b), "plain")
	raw, _ := json.Marshal(doc1K)
	if err := rdb.Set(ctx, key, raw, 0).Err(); err != nil {
		b.Fatal(err)
	}
	var floor, cached time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		s, err := rdb.Get(ctx, key).Bytes()
		if err != nil {
			b.Fatal(err)
		}
		var d doc
		if err := json.Unmarshal(s, &d); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if d, err = c.Get(ctx, "k"); err != nil || d.ID != "42" {
			b.Fatal(err)
		}
		floor += t1.Sub(t0)
		cached += time.Since(t1)
		n++
	}
	b.ReportMetric(float64(floor.Nanoseconds())/float64(n), "floor-ns/op")
	b.ReportMetric(float64(cached.Nanoseconds())/float64(n), "cache-ns/op")
	b.ReportMetric(float64(cached)/float64(floor), "cache/floor")
}
