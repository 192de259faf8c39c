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
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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
// (8 per CPU on 2 CPUs) when parallel. The Get benchmarks use it too.
func runGetMany(b *testing.B, parallel bool, call func() error) {
	b.ReportAllocs()
	if !parallel {
		for b.Loop() {
			if err := call(); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.SetParallelism(8) // 16 goroutines on 2 CPUs
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := call(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// getManyAside returns one GetMany of the 100 keys under pfx.
func getManyAside(b *testing.B, pfx string) func() error {
	c, ks, _ := getManySetup(b, pfx)
	return func() error {
		rs, err := c.GetMany(context.Background(), ks)
		if err != nil || len(rs) != getManyKeys || !rs[0].Found || len(rs[getManyKeys-1].Value) != 100 {
			return fmt.Errorf("GetMany: %d results, %v", len(rs), err)
		}
		return nil
	}
}

// getManyMGET returns one plain MGET of the same entries. With buildKeys
// it is the MGET a hand-written cache-aside sends: it builds its Redis
// keys ("{prefix|k}", as aside stores them) per call by string
// concatenation; without, it is handed them ready-made.
func getManyMGET(b *testing.B, pfx string, buildKeys bool) func() error {
	_, ks, ready := getManySetup(b, pfx)
	rdb := client(b)
	return func() error {
		rks := ready
		if buildKeys {
			rks = make([]string, len(ks))
			for i, k := range ks {
				rks[i] = "{" + pfx + "|" + k + "}"
			}
		}
		vals, err := rdb.MGet(context.Background(), rks...).Result()
		if err != nil || len(vals) != getManyKeys {
			return fmt.Errorf("MGET: %d values, %v", len(vals), err)
		}
		for _, v := range vals {
			if _, ok := v.(string); !ok {
				return errors.New("MGET: a miss")
			}
		}
		return nil
	}
}

func benchGetManyAside(b *testing.B, pfx string, parallel bool) {
	runGetMany(b, parallel, getManyAside(b, pfx))
}

func benchGetManyMGET(b *testing.B, pfx string, parallel, buildKeys bool) {
	runGetMany(b, parallel, getManyMGET(b, pfx, buildKeys))
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

// BenchmarkCacheGetManyInterleaved_All and BenchmarkCacheGetManyInterleaved16_All
// run the GetMany readers above in turns, in blocks of calls (on one
// goroutine, or on 16), in a rotating order, so a burst of load on the
// machine hits all of them alike and each block of aside has an MGET
// block beside it. They report each reader's median time per call over
// the blocks (<name>-us) and the median of the per-round ratios
// (aside/mget, aside/mgetkeys; the 16-goroutine one also with a 48-byte
// prefix, aside/mget-long). ns/op is one round.
func BenchmarkCacheGetManyInterleaved_All(b *testing.B) { runGetManyInterleaved(b, 1, 20) }

func BenchmarkCacheGetManyInterleaved16_All(b *testing.B) { runGetManyInterleaved(b, 16, 50) }

func runGetManyInterleaved(b *testing.B, goroutines, calls int) {
	type reader struct {
		name string
		call func() error
	}
	readers := []reader{
		{"Aside", getManyAside(b, shortPrefix)},
		{"MGET", getManyMGET(b, shortPrefix, false)},
		{"MGETKeys", getManyMGET(b, shortPrefix, true)},
	}
	ratios := [][3]string{{"aside/mget", "Aside", "MGET"}, {"aside/mgetkeys", "Aside", "MGETKeys"}}
	if goroutines > 1 {
		readers = append(readers,
			reader{"AsideLong", getManyAside(b, longPrefix)},
			reader{"MGETLong", getManyMGET(b, longPrefix, false)})
		ratios = append(ratios, [3]string{"aside/mget-long", "AsideLong", "MGETLong"})
	}
	per := map[string][]float64{} // µs per call, one per block
	block := func(r reader) {
		var wg sync.WaitGroup
		t0 := time.Now()
		for range goroutines {
			wg.Go(func() {
				for range calls {
					if err := r.call(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		per[r.name] = append(per[r.name], float64(time.Since(t0).Microseconds())/float64(goroutines*calls))
	}
	round := 0
	for b.Loop() {
		for j := range readers {
			block(readers[(round+j)%len(readers)])
		}
		round++
	}
	b.StopTimer()
	med := func(xs []float64) float64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[len(s)/2]
	}
	for _, r := range readers {
		b.ReportMetric(med(per[r.name]), r.name+"-us")
	}
	for _, q := range ratios {
		rs := make([]float64, round)
		for i := range rs {
			rs[i] = per[q[1]][i] / per[q[2]][i]
		}
		b.ReportMetric(med(rs), q[0])
	}
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

// getStringReaders returns the two reads of that value: aside's Get and
// the plain GET.
func getStringReaders(b *testing.B) (aside, get func() error) {
	c, rk := getStringSetup(b)
	rdb := client(b)
	ctx := context.Background()
	aside = func() error {
		if v, err := c.Get(ctx, "k"); err != nil || len(v) != 1024 {
			return fmt.Errorf("Get: %d bytes, %v", len(v), err)
		}
		return nil
	}
	get = func() error {
		if v, err := rdb.Get(ctx, rk).Result(); err != nil || len(v) != 1024+20 {
			return fmt.Errorf("GET: %d bytes, %v", len(v), err)
		}
		return nil
	}
	return aside, get
}

func BenchmarkCacheGetString_Aside(b *testing.B) {
	aside, _ := getStringReaders(b)
	runGetMany(b, false, aside)
}

func BenchmarkCacheGetString_GET(b *testing.B) {
	_, get := getStringReaders(b)
	runGetMany(b, false, get)
}

// BenchmarkCacheGetStringInterleaved_All alternates the two reads above op
// by op (aside first on even rounds, GET first on odd ones) and reports
// each one's median read time (<name>-us, from time.Now around each read,
// the same clock overhead for both) and their ratio (aside/get). ns/op is
// one round.
func BenchmarkCacheGetStringInterleaved_All(b *testing.B) {
	aside, get := getStringReaders(b)
	reads := []func() error{aside, get}
	times := make([][]time.Duration, len(reads))
	round := 0
	for b.Loop() {
		for j := range reads {
			n := (round + j) % len(reads)
			t0 := time.Now()
			if err := reads[n](); err != nil {
				b.Fatal(err)
			}
			times[n] = append(times[n], time.Since(t0))
		}
		round++
	}
	b.StopTimer()
	asideMed, getMed := durPercentile(times[0], 50), durPercentile(times[1], 50)
	b.ReportMetric(float64(asideMed)/1e3, "Aside-us")
	b.ReportMetric(float64(getMed)/1e3, "GET-us")
	b.ReportMetric(float64(asideMed)/float64(getMed), "aside/get")
}
