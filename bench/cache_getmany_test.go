package bench

// GetMany of 100 warm keys against one plain MGET of the same Redis keys
// (the floor: one round trip, no decoding, keys built once), and against
// the same MGET with its keys built per call, with 1 and 16 goroutines.
// aside caches string values with its default codec (passthrough for
// strings); the MGET reads the very same stored bytes.
//
// The keys are named as a service names them: prefix "user", keys "k0" to
// "k99" (Redis keys "{user|k0}"...). GetMany builds its Redis keys per
// call, so its cost over the ready-made-keys MGET grows with key length:
// the LongPrefix pair repeats the 16-goroutine run with a 48-byte prefix.

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/aside-go/aside/cache"
)

const getManyKeys = 100

// shortPrefix is a prefix as a service picks one; longPrefix is 48 bytes.
const (
	shortPrefix = "user"
	longPrefix  = "service-name:region-name:tenant:entity:version:2"
)

// getManySetup fills a cache of 100 string values of 100 bytes under pfx
// and returns it with the user keys and the Redis keys holding them. The
// benchmark server is private to bench/, and every benchmark that uses pfx
// stores the same values under it.
func getManySetup(b *testing.B, pfx string) (*cache.Cache[string], []string, []string) {
	b.Helper()
	val := strings.Repeat("v", 100)
	c, err := cache.New(client(b), &cache.Options[string]{Prefix: pfx,
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

// runGetMany runs call once per iteration: on one goroutine, or on 16
// (8 per CPU on 2 CPUs) when parallel.
func runGetMany(b *testing.B, parallel bool, call func()) {
	b.ReportAllocs()
	if !parallel {
		for b.Loop() {
			call()
		}
		return
	}
	b.SetParallelism(8) // 16 goroutines on 2 CPUs
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			call()
		}
	})
}

func benchGetManyAside(b *testing.B, pfx string, parallel bool) {
	c, ks, _ := getManySetup(b, pfx)
	runGetMany(b, parallel, func() {
		rs, err := c.GetMany(context.Background(), ks)
		if err != nil || len(rs) != getManyKeys || !rs[0].Found || len(rs[getManyKeys-1].Value) != 100 {
			b.Fatalf("GetMany: %v", err)
		}
	})
}

// benchGetManyMGET reads the same entries with one plain MGET. With
// buildKeys it is the MGET a hand-written cache-aside sends: it builds its
// Redis keys ("{prefix|k}", as aside stores them) per call by string
// concatenation; without, it is handed them ready-made.
func benchGetManyMGET(b *testing.B, pfx string, parallel, buildKeys bool) {
	_, ks, ready := getManySetup(b, pfx)
	rdb := client(b)
	runGetMany(b, parallel, func() {
		rks := ready
		if buildKeys {
			rks = make([]string, len(ks))
			for i, k := range ks {
				rks[i] = "{" + pfx + "|" + k + "}"
			}
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
	})
}

func BenchmarkCacheGetMany_Aside(b *testing.B)    { benchGetManyAside(b, shortPrefix, false) }
func BenchmarkCacheGetMany_MGET(b *testing.B)     { benchGetManyMGET(b, shortPrefix, false, false) }
func BenchmarkCacheGetMany_MGETKeys(b *testing.B) { benchGetManyMGET(b, shortPrefix, false, true) }
func BenchmarkCacheGetManyParallel16_Aside(b *testing.B) {
	benchGetManyAside(b, shortPrefix, true)
}
func BenchmarkCacheGetManyParallel16_MGET(b *testing.B) {
	benchGetManyMGET(b, shortPrefix, true, false)
}
func BenchmarkCacheGetManyParallel16_MGETKeys(b *testing.B) {
	benchGetManyMGET(b, shortPrefix, true, true)
}
func BenchmarkCacheGetManyParallel16LongPrefix_Aside(b *testing.B) {
	benchGetManyAside(b, longPrefix, true)
}
func BenchmarkCacheGetManyParallel16LongPrefix_MGET(b *testing.B) {
	benchGetManyMGET(b, longPrefix, true, false)
}

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
