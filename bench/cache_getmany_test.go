package bench

// GetMany of 100 warm keys against one plain MGET of the same Redis keys
// (the floor: one round trip, no decoding, keys built once), and against
// the same MGET with its keys built per call, with 1 and 16 goroutines.
// aside caches string values with its default codec (passthrough for
// strings); the MGET reads the very same stored bytes.

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/aside-go/aside/cache"
)

const getManyKeys = 100

// getManySetup fills a cache of 100 string values of 100 bytes and returns
// it with the user keys and the Redis keys holding them.
func getManySetup(b *testing.B) (*cache.Cache[string], []string, []string) {
	b.Helper()
	val := strings.Repeat("v", 100)
	c, err := cache.New(client(b), &cache.Options[string]{Prefix: prefix(b),
		Loader: cache.LoaderFunc[string](func(context.Context, string) (string, error) { return val, nil })})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	ks := make([]string, getManyKeys)
	rks := make([]string, getManyKeys)
	for i := range ks {
		ks[i] = "k" + strconv.Itoa(i)
		rks[i] = c.Key(ks[i])
	}
	if _, err := c.GetMany(context.Background(), ks); err != nil {
		b.Fatal(err)
	}
	return c, ks, rks
}

func benchGetManyAside(b *testing.B, parallel bool) {
	c, ks, _ := getManySetup(b)
	check := func(rs []cache.Result[string], err error) {
		if err != nil || len(rs) != getManyKeys || !rs[0].Found || len(rs[getManyKeys-1].Value) != 100 {
			b.Fatalf("GetMany: %v", err)
		}
	}
	b.ReportAllocs()
	if !parallel {
		for b.Loop() {
			check(c.GetMany(context.Background(), ks))
		}
		return
	}
	b.SetParallelism(8) // 16 goroutines on 2 CPUs
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			check(c.GetMany(context.Background(), ks))
		}
	})
}

func benchGetManyMGET(b *testing.B, parallel bool) {
	_, _, rks := getManySetup(b)
	rdb := client(b)
	check := func(vals []any, err error) {
		if err != nil || len(vals) != getManyKeys {
			b.Fatalf("MGET: %v", err)
		}
		for _, v := range vals {
			if _, ok := v.(string); !ok {
				b.Fatal("MGET: a miss")
			}
		}
	}
	b.ReportAllocs()
	if !parallel {
		for b.Loop() {
			check(rdb.MGet(context.Background(), rks...).Result())
		}
		return
	}
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			check(rdb.MGet(context.Background(), rks...).Result())
		}
	})
}

// benchGetManyMGETKeys is the MGET a hand-written cache-aside sends: it
// builds its Redis keys ("{prefix|k}", as aside stores them) per call, by
// string concatenation, where benchGetManyMGET is handed them ready-made.
func benchGetManyMGETKeys(b *testing.B, parallel bool) {
	c, ks, _ := getManySetup(b)
	rdb := client(b)
	pfx := c.Prefix()
	mget := func() {
		rks := make([]string, len(ks))
		for i, k := range ks {
			rks[i] = "{" + pfx + "|" + k + "}"
		}
		vals, err := rdb.MGet(context.Background(), rks...).Result()
		if err != nil || len(vals) != getManyKeys {
			b.Fatalf("MGET: %v", err)
		}
		for _, v := range vals {
			if _, ok := v.(string); !ok {
				b.Fatal("MGET: a miss")
			}
		}
	}
	b.ReportAllocs()
	if !parallel {
		for b.Loop() {
			mget()
		}
		return
	}
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mget()
		}
	})
}

func BenchmarkCacheGetMany_Aside(b *testing.B)              { benchGetManyAside(b, false) }
func BenchmarkCacheGetMany_MGET(b *testing.B)               { benchGetManyMGET(b, false) }
func BenchmarkCacheGetMany_MGETKeys(b *testing.B)           { benchGetManyMGETKeys(b, false) }
func BenchmarkCacheGetManyParallel16_Aside(b *testing.B)    { benchGetManyAside(b, true) }
func BenchmarkCacheGetManyParallel16_MGET(b *testing.B)     { benchGetManyMGET(b, true) }
func BenchmarkCacheGetManyParallel16_MGETKeys(b *testing.B) { benchGetManyMGETKeys(b, true) }

// Get of one warm string value (1 KiB) with the default codec against a
// plain GET of the same Redis key.
func getStringSetup(b *testing.B) (*cache.Cache[string], string) {
	b.Helper()
	val := strings.Repeat("s", 1024)
	c, err := cache.New(client(b), &cache.Options[string]{Prefix: prefix(b),
		Loader: cache.LoaderFunc[string](func(context.Context, string) (string, error) { return val, nil })})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	if _, err := c.Get(context.Background(), "k"); err != nil {
		b.Fatal(err)
	}
	return c, c.Key("k")
}

func BenchmarkCacheGetString_Aside(b *testing.B) {
	c, _ := getStringSetup(b)
	b.ReportAllocs()
	for b.Loop() {
		if v, err := c.Get(context.Background(), "k"); err != nil || len(v) != 1024 {
			b.Fatalf("Get: %d bytes, %v", len(v), err)
		}
	}
}

func BenchmarkCacheGetString_GET(b *testing.B) {
	_, rk := getStringSetup(b)
	rdb := client(b)
	b.ReportAllocs()
	for b.Loop() {
		if v, err := rdb.Get(context.Background(), rk).Result(); err != nil || len(v) != 1024+20 {
			b.Fatalf("GET: %d bytes, %v", len(v), err)
		}
	}
}
