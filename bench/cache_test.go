package bench

// Cache benchmarks: aside's cache against go-redis/cache, go-zero's
// core/stores/cache, jetcache-go and rockscache, with plain go-redis GET
// (and GET + decode) as the floor. See README.md for the numbers.
//
//	BenchmarkCacheHit_<Lib>       Redis hit of a ~1 KiB struct through the
//	                              library's cache-aside call (loader given,
//	                              never called), 1000 warm keys, round robin.
//	BenchmarkCacheL1Hit_<Lib>     the same call answered by the library's
//	                              in-process tier (no Redis command).
//	BenchmarkCacheStampede_<Lib>  cache_stampede_test.go.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/cache"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/dtm-labs/rockscache"
	gocache "github.com/go-redis/cache/v9"
	jetcache "github.com/mgtv-tech/jetcache-go"
	jetlocal "github.com/mgtv-tech/jetcache-go/local"
	jetremote "github.com/mgtv-tech/jetcache-go/remote"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/zeromicro/go-zero/core/logx"
	zstat "github.com/zeromicro/go-zero/core/stat"
	zcache "github.com/zeromicro/go-zero/core/stores/cache"
	zredis "github.com/zeromicro/go-zero/core/stores/redis"
	"github.com/zeromicro/go-zero/core/syncx"
)

const (
	// cacheKeyCount is how many warm keys every hit benchmark cycles over.
	cacheKeyCount = 1000
	// cacheTTL is the TTL every library writes with.
	cacheTTL = time.Hour
)

// cacheVal is the value every cache benchmark stores: a typical row, about
// 1 KiB when encoded as JSON (checked by TestCacheValSize). Each library
// encodes it its own way (JSON, msgpack+s2, ...).
type cacheVal struct {
	ID      int64    `json:"id" msgpack:"id"`
	Name    string   `json:"name" msgpack:"name"`
	Email   string   `json:"email" msgpack:"email"`
	Tags    []string `json:"tags" msgpack:"tags"`
	Score   float64  `json:"score" msgpack:"score"`
	Active  bool     `json:"active" msgpack:"active"`
	Created int64    `json:"created" msgpack:"created"`
	Bio     string   `json:"bio" msgpack:"bio"`
}

// cacheValue is the one value stored under every key. Its Bio is
// pseudo-random text so compressing codecs (s2 in go-redis/cache and
// jetcache-go) get no unfair advantage from a run of one byte.
var cacheValue = func() cacheVal {
	r := rand.New(rand.NewPCG(1, 2))
	const alpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._"
	bio := make([]byte, 860)
	for i := range bio {
		bio[i] = alpha[r.IntN(len(alpha))]
	}
	return cacheVal{
		ID: 123456, Name: "Ada Lovelace", Email: "ada@example.com",
		Tags:  []string{"admin", "beta", "eu-west", "vip"},
		Score: 97.5, Active: true, Created: 1764000000, Bio: string(bio),
	}
}()

// cacheValueJSON is cacheValue as JSON, the bytes the floors read.
var cacheValueJSON = func() []byte {
	b, err := json.Marshal(cacheValue)
	if err != nil {
		panic(err)
	}
	return b
}()

// cacheValueMsgpack is cacheValue as plain msgpack (no compression).
var cacheValueMsgpack = func() []byte {
	b, err := msgpack.Marshal(cacheValue)
	if err != nil {
		panic(err)
	}
	return b
}()

// TestCacheValSize keeps the benchmark value honest: ~1 KiB encoded.
func TestCacheValSize(t *testing.T) {
	if n := len(cacheValueJSON); n < 1000 || n > 1100 {
		t.Errorf("JSON value is %d bytes, want ~1 KiB", n)
	}
	if n := len(cacheValueMsgpack); n < 900 || n > 1100 {
		t.Errorf("msgpack value is %d bytes, want ~1 KiB", n)
	}
}

// cacheKeyNames returns the cacheKeyCount keys of one benchmark.
func cacheKeyNames(pfx string) []string {
	ks := make([]string, cacheKeyCount)
	for i := range ks {
		ks[i] = fmt.Sprintf("%s:k%d", pfx, i)
	}
	return ks
}

// cacheCheck fails b unless v is cacheValue (cheap fields only: the loop
// must not measure the check).
func cacheCheck(b *testing.B, v cacheVal, err error) {
	if err != nil {
		b.Fatal(err)
	}
	if v.ID != cacheValue.ID || len(v.Bio) != len(cacheValue.Bio) {
		b.Fatalf("got value %d/%d bytes, want %d/%d", v.ID, len(v.Bio), cacheValue.ID, len(cacheValue.Bio))
	}
}

// errCacheLoaderCalled is what a hit benchmark's loader returns: it must
// never run, every key is warm.
var errCacheLoaderCalled = errors.New("bench: loader called on a warm key")

// failLoad is the loader of hit benchmarks.
func failLoad(context.Context) (cacheVal, error) { return cacheVal{}, errCacheLoaderCalled }

// hitLib is one library set up for a hit benchmark: its keys hold
// cacheValue (written through the library, before any timer), get is its
// cache-aside call, loads counts its loader calls (must stay 0), cmds (if
// not nil) counts the Redis commands of its client.
type hitLib struct {
	name  string
	keys  []string
	loads *atomic.Int64
	cmds  *redistest.Commands
	get   func(ctx context.Context, key string) (cacheVal, error)
}

// warm answers every key twice through get (fills L1 tiers; admission
// policies such as TinyLFU see a repeat), then zeroes the load counter.
func (l hitLib) warm(b *testing.B) {
	ctx := context.Background()
	for range 2 {
		for _, k := range l.keys {
			v, err := l.get(ctx, k)
			cacheCheck(b, v, err)
		}
	}
	l.loads.Store(0)
}

// runCacheHit warms l, then times l.get round robin over its keys and
// reports allocs; for an L1 benchmark (cmds set) it reports redis/op, the
// Redis commands per read (0 proves the tier answered).
func runCacheHit(b *testing.B, l hitLib) {
	b.Helper()
	l.warm(b)
	ctx := context.Background()
	var c0 int64
	if l.cmds != nil {
		c0 = l.cmds.Load()
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		v, err := l.get(ctx, l.keys[i%len(l.keys)])
		cacheCheck(b, v, err)
		i++
	}
	b.StopTimer()
	if n := l.loads.Load(); n != 0 {
		b.Fatalf("loader ran %d times on warm keys", n)
	}
	if l.cmds != nil {
		b.ReportMetric(float64(l.cmds.Load()-c0)/float64(b.N), "redis/op")
	}
}

// hitClient returns a fresh client; for an L1 benchmark (counted) it has
// a redistest.Commands hook, Redis-tier benchmarks get a client without hooks,
// like the floors.
func hitClient(b *testing.B, counted bool) (*redis.Client, *redistest.Commands) {
	rdb := client(b)
	if !counted {
		return rdb, nil
	}
	cc := &redistest.Commands{}
	rdb.AddHook(cc)
	return rdb, cc
}

// ---------------------------------------------------------------- floors

// BenchmarkCacheHit_GET is plain GET of the JSON-encoded value (no
// decode) over the same 1000 keys: the raw Redis floor of this group.
func BenchmarkCacheHit_GET(b *testing.B) {
	l := cacheSetupFloor(b, "GET", cacheValueJSON, nil)
	runCacheHit(b, l)
}

// BenchmarkCacheHit_GETDecodeJSON is GET + encoding/json decode into
// cacheVal: the "plain GET + decode" floor of the 10% goal for
// a JSON codec.
func BenchmarkCacheHit_GETDecodeJSON(b *testing.B) {
	runCacheHit(b, cacheSetupFloor(b, "GETDecodeJSON", cacheValueJSON, json.Unmarshal))
}

// BenchmarkCacheHit_GETDecodeMsgpack is GET + msgpack decode: the floor
// for a binary codec.
func BenchmarkCacheHit_GETDecodeMsgpack(b *testing.B) {
	runCacheHit(b, cacheSetupFloor(b, "GETDecodeMsgpack", cacheValueMsgpack, msgpack.Unmarshal))
}

// cacheSetupFloor stores enc under 1000 keys with plain SET; get is GET (+
// unmarshal into a cacheVal; nil unmarshal: no decode, the value is
// only length-checked).
func cacheSetupFloor(b *testing.B, name string, enc []byte, unmarshal func([]byte, any) error) hitLib {
	rdb := client(b)
	ctx := context.Background()
	keys := cacheKeyNames(prefix(b) + ":" + name)
	for _, k := range keys {
		if err := rdb.Set(ctx, k, enc, cacheTTL).Err(); err != nil {
			b.Fatal(err)
		}
	}
	return hitLib{name: name, keys: keys, loads: new(atomic.Int64),
		get: func(ctx context.Context, key string) (cacheVal, error) {
			raw, err := rdb.Get(ctx, key).Bytes()
			if err != nil {
				return cacheVal{}, err
			}
			if unmarshal == nil {
				if len(raw) != len(enc) {
					return cacheVal{}, fmt.Errorf("GET: %d bytes, want %d", len(raw), len(enc))
				}
				return cacheValue, nil
			}
			var v cacheVal
			err = unmarshal(raw, &v)
			return v, err
		}}
}

// ------------------------------------------------------ go-redis/cache v9

// newGoRedisCache builds a go-redis/cache over rdb, with its TinyLFU local
// cache when local is set (size 10000, TTL 1 min, as in its README).
func newGoRedisCache(rdb *redis.Client, local bool) *gocache.Cache {
	opt := &gocache.Options{Redis: rdb}
	if local {
		opt.LocalCache = gocache.NewTinyLFU(10000, time.Minute)
	}
	return gocache.New(opt)
}

// goRedisCacheGet is go-redis/cache's cache-aside call, Once.
func goRedisCacheGet(c *gocache.Cache, loads *atomic.Int64,
	load func(context.Context) (cacheVal, error)) func(context.Context, string) (cacheVal, error) {
	return func(ctx context.Context, key string) (cacheVal, error) {
		var v cacheVal
		err := c.Once(&gocache.Item{
			Ctx: ctx, Key: key, Value: &v, TTL: cacheTTL,
			Do: func(it *gocache.Item) (any, error) {
				loads.Add(1)
				return load(it.Context())
			},
		})
		return v, err
	}
}

func cacheSetupGoRedisCache(b *testing.B, local bool) hitLib {
	rdb, cc := hitClient(b, local)
	c := newGoRedisCache(rdb, local)
	ctx := context.Background()
	keys := cacheKeyNames(prefix(b) + ":gorediscache")
	for _, k := range keys {
		v := cacheValue
		if err := c.Set(&gocache.Item{Ctx: ctx, Key: k, Value: &v, TTL: cacheTTL, SkipLocalCache: true}); err != nil {
			b.Fatal(err)
		}
	}
	loads := new(atomic.Int64)
	return hitLib{name: "GoRedisCache", keys: keys, loads: loads, cmds: cc, get: goRedisCacheGet(c, loads, failLoad)}
}

// BenchmarkCacheHit_GoRedisCache is go-redis/cache Once, Redis tier only
// (msgpack + s2, its default codec).
func BenchmarkCacheHit_GoRedisCache(b *testing.B) { runCacheHit(b, cacheSetupGoRedisCache(b, false)) }

// BenchmarkCacheL1Hit_GoRedisCache is go-redis/cache Once answered by its
// TinyLFU local cache (it still decodes the stored bytes on every hit).
func BenchmarkCacheL1Hit_GoRedisCache(b *testing.B) { runCacheHit(b, cacheSetupGoRedisCache(b, true)) }

// --------------------------------------------- go-zero core/stores/cache

// go-zero's packages start a stats logger from init() that prints JSON
// lines every minute into the benchmark output; silence it (and logx) for
// the whole binary.
func init() {
	logx.Disable()
	zstat.DisableLog()
}

// errGoZeroNotFound is go-zero's "row not found" error (its sqlx.ErrNotFound
// in real services).
var errGoZeroNotFound = errors.New("bench: not found")

// newGoZeroCache builds a go-zero cache node on its own redis node config
// pointed at the benchmark server. go-zero shares one go-redis client per
// address inside the process (its clientManager); each node still has its
// own singleflight barrier, as a separate process would.
func newGoZeroCache(b *testing.B) zcache.Cache {
	addr := client(b).Options().Addr
	rds, err := zredis.NewRedis(zredis.RedisConf{Host: addr, Type: zredis.NodeType, NonBlock: true})
	if err != nil {
		b.Fatal(err)
	}
	return zcache.NewNode(rds, syncx.NewSingleFlight(), zcache.NewStat("bench"), errGoZeroNotFound,
		zcache.WithExpiry(cacheTTL))
}

// goZeroGet is go-zero's cache-aside call, TakeCtx.
func goZeroGet(c zcache.Cache, loads *atomic.Int64,
	load func(context.Context) (cacheVal, error)) func(context.Context, string) (cacheVal, error) {
	return func(ctx context.Context, key string) (cacheVal, error) {
		var v cacheVal
		err := c.TakeCtx(ctx, &v, key, func(val any) error {
			loads.Add(1)
			lv, err := load(ctx)
			if err != nil {
				return err
			}
			*val.(*cacheVal) = lv
			return nil
		})
		return v, err
	}
}

func cacheSetupGoZero(b *testing.B) hitLib {
	c := newGoZeroCache(b)
	ctx := context.Background()
	keys := cacheKeyNames(prefix(b) + ":gozero")
	for _, k := range keys {
		if err := c.SetCtx(ctx, k, cacheValue); err != nil {
			b.Fatal(err)
		}
	}
	loads := new(atomic.Int64)
	return hitLib{name: "GoZero", keys: keys, loads: loads, get: goZeroGet(c, loads, failLoad)}
}

// BenchmarkCacheHit_GoZero is go-zero's cache TakeCtx (JSON).
func BenchmarkCacheHit_GoZero(b *testing.B) { runCacheHit(b, cacheSetupGoZero(b)) }

// ------------------------------------------------------------ jetcache-go

// newJetcache builds a jetcache-go cache over rdb with its defaults
// (msgpack + s2), stats logging off; local adds a local tier.
func newJetcache(rdb *redis.Client, local jetlocal.Local) jetcache.Cache {
	opts := []jetcache.Option{
		jetcache.WithName("bench"),
		jetcache.WithRemote(jetremote.NewGoRedisV9Adapter(rdb)),
		jetcache.WithRemoteExpiry(cacheTTL),
		jetcache.WithStatsDisabled(true),
	}
	if local != nil {
		opts = append(opts, jetcache.WithLocal(local))
	}
	return jetcache.New(opts...)
}

// jetcacheGet is jetcache-go's cache-aside call, Once.
func jetcacheGet(c jetcache.Cache, loads *atomic.Int64,
	load func(context.Context) (cacheVal, error)) func(context.Context, string) (cacheVal, error) {
	return func(ctx context.Context, key string) (cacheVal, error) {
		var v cacheVal
		err := c.Once(ctx, key, jetcache.Value(&v), jetcache.TTL(cacheTTL),
			jetcache.Do(func(ctx context.Context) (any, error) {
				loads.Add(1)
				return load(ctx)
			}))
		return v, err
	}
}

func cacheSetupJetcache(b *testing.B, name string, local jetlocal.Local) hitLib {
	rdb, cc := hitClient(b, local != nil)
	c := newJetcache(rdb, local)
	b.Cleanup(c.Close)
	ctx := context.Background()
	keys := cacheKeyNames(prefix(b) + ":" + name)
	for _, k := range keys {
		v := cacheValue
		if err := c.Set(ctx, k, jetcache.Value(&v), jetcache.TTL(cacheTTL), jetcache.SkipLocal(true)); err != nil {
			b.Fatal(err)
		}
	}
	loads := new(atomic.Int64)
	return hitLib{name: name, keys: keys, loads: loads, cmds: cc, get: jetcacheGet(c, loads, failLoad)}
}

// BenchmarkCacheHit_Jetcache is jetcache-go Once, remote (Redis) only.
func BenchmarkCacheHit_Jetcache(b *testing.B) { runCacheHit(b, cacheSetupJetcache(b, "Jetcache", nil)) }

// BenchmarkCacheL1Hit_JetcacheFreeCache is jetcache-go Once answered by
// its FreeCache local tier (the one its README configures; 16 MB here).
func BenchmarkCacheL1Hit_JetcacheFreeCache(b *testing.B) {
	runCacheHit(b, cacheSetupJetcache(b, "JetcacheFreeCache",
		jetlocal.NewFreeCache(16*jetlocal.MB, time.Minute, prefix(b))))
}

// BenchmarkCacheL1Hit_JetcacheTinyLFU is jetcache-go Once answered by its
// ristretto (TinyLFU) local tier. Its size is ristretto's MaxCost, which
// also counts ristretto's per-item overhead: 10000 kept only ~15% of the
// 1000 keys, so it gets 1<<20.
func BenchmarkCacheL1Hit_JetcacheTinyLFU(b *testing.B) {
	runCacheHit(b, cacheSetupJetcache(b, "JetcacheTinyLFU", jetlocal.NewTinyLFU(1<<20, time.Minute)))
}

// ------------------------------------------------------------- rockscache

// newRockscache builds a rockscache client over rdb with its defaults
// (LockSleep 100 ms, LockExpire 3 s, weak consistency).
func newRockscache(rdb *redis.Client) *rockscache.Client {
	return rockscache.NewClient(rdb, rockscache.NewDefaultOptions())
}

// rockscacheGet is rockscache's cache-aside call, Fetch2. rockscache
// stores strings; the value is JSON-encoded by the caller, as its README
// does.
func rockscacheGet(c *rockscache.Client, loads *atomic.Int64,
	load func(context.Context) (cacheVal, error)) func(context.Context, string) (cacheVal, error) {
	return func(ctx context.Context, key string) (cacheVal, error) {
		s, err := c.Fetch2(ctx, key, cacheTTL, func() (string, error) {
			loads.Add(1)
			v, err := load(ctx)
			if err != nil {
				return "", err
			}
			enc, err := json.Marshal(v)
			return string(enc), err
		})
		if err != nil {
			return cacheVal{}, err
		}
		var v cacheVal
		err = json.Unmarshal([]byte(s), &v)
		return v, err
	}
}

func cacheSetupRockscache(b *testing.B) hitLib {
	c := newRockscache(client(b))
	ctx := context.Background()
	keys := cacheKeyNames(prefix(b) + ":rockscache")
	loads := new(atomic.Int64)
	fill := rockscacheGet(c, loads, func(context.Context) (cacheVal, error) { return cacheValue, nil })
	for _, k := range keys { // rockscache has no plain Set of a fresh value: fill through Fetch2
		v, err := fill(ctx, k)
		cacheCheck(b, v, err)
	}
	return hitLib{name: "Rockscache", keys: keys, loads: loads, get: rockscacheGet(c, loads, failLoad)}
}

// BenchmarkCacheHit_Rockscache is rockscache Fetch2 (one Lua script per
// read: HGET value + lock fields) + JSON decode.
func BenchmarkCacheHit_Rockscache(b *testing.B) { runCacheHit(b, cacheSetupRockscache(b)) }

// ------------------------------------------------------------ interleaved

// BenchmarkCacheHitInterleaved_All runs the Redis-hit reads of every
// library and floor in ONE loop: each iteration does one read of each, in
// an order rotated every iteration, and times each read. On a shared
// machine a load burst then hits all of them alike, so the ratios are
// steadier than those of separate benchmarks run seconds apart. It
// reports each one's median read time (<name>-us, from time.Now around
// each read: ~0.3 µs of clock overhead on this VM, the same for all) and
// the ratios of the goals (aside/<floor>). ns/op is one round.
func BenchmarkCacheHitInterleaved_All(b *testing.B) {
	libs := []hitLib{
		cacheSetupFloor(b, "GET", cacheValueJSON, nil),
		cacheSetupFloor(b, "GETDecodeJSON", cacheValueJSON, json.Unmarshal),
		cacheSetupFloor(b, "GETDecodeMsgpack", cacheValueMsgpack, msgpack.Unmarshal),
		cacheSetupFloorBinary(b),
		cacheSetupAside(b, "Aside", false, nil, sameVal, sameVal),
		cacheSetupAside(b, "AsideMsgpack", false, cache.Codec[cacheVal](msgpackCodec{}), sameVal, sameVal),
		cacheSetupAside(b, "AsideBinary", false, cache.Binary[cacheValBin](), toBin, fromBin),
		cacheSetupGoRedisCache(b, false),
		cacheSetupGoZero(b),
		cacheSetupJetcache(b, "Jetcache", nil),
		cacheSetupRockscache(b),
	}
	for _, l := range libs {
		l.warm(b)
	}
	ctx := context.Background()
	times := make([][]time.Duration, len(libs))
	b.ResetTimer()
	i := 0
	for b.Loop() {
		k := i % cacheKeyCount
		for j := range libs {
			n := (i + j) % len(libs)
			l := libs[n]
			t0 := time.Now()
			v, err := l.get(ctx, l.keys[k])
			times[n] = append(times[n], time.Since(t0))
			cacheCheck(b, v, err)
		}
		i++
	}
	b.StopTimer()
	med := map[string]float64{}
	for n, l := range libs {
		if got := l.loads.Load(); got != 0 {
			b.Fatalf("%s: loader ran %d times on warm keys", l.name, got)
		}
		med[l.name] = float64(durPercentile(times[n], 50)) / 1e3
		b.ReportMetric(med[l.name], l.name+"-us")
	}
	b.ReportMetric(med["Aside"]/med["GETDecodeJSON"], "aside/getjson")
	b.ReportMetric(med["AsideMsgpack"]/med["GETDecodeMsgpack"], "asidemsgpack/getmsgpack")
	b.ReportMetric(med["AsideBinary"]/med["GETDecodeBinary"], "asidebinary/getbinary")
}

// ------------------------------------------------------------- L1 floors

// BenchmarkCacheL1Hit_FloorMap is the floor of the L1 group: a map behind
// a sync.RWMutex holding *cacheVal, read through the same harness
// (closure, value copy, check), no expiry. It shows what an in-process
// hit costs on the machine at hand.
func BenchmarkCacheL1Hit_FloorMap(b *testing.B) { runCacheHit(b, cacheSetupMap(b, false)) }

// BenchmarkCacheL1Hit_FloorMapClock is FloorMap plus one time.Now() per
// read for an expiry check, as every TTL'd local cache does. On this VM
// (kvm-clock) time.Now costs ~0.3 µs, more than the whole 100 ns budget.
func BenchmarkCacheL1Hit_FloorMapClock(b *testing.B) { runCacheHit(b, cacheSetupMap(b, true)) }

func cacheSetupMap(b *testing.B, clock bool) hitLib {
	type entry struct {
		v   cacheVal
		exp int64
	}
	var mu sync.RWMutex
	m := make(map[string]*entry, cacheKeyCount)
	keys := cacheKeyNames("m")
	exp := time.Now().Add(time.Hour).UnixNano()
	for _, k := range keys {
		m[k] = &entry{v: cacheValue, exp: exp}
	}
	return hitLib{name: "FloorMap", keys: keys, loads: new(atomic.Int64),
		get: func(_ context.Context, key string) (cacheVal, error) {
			mu.RLock()
			e := m[key]
			mu.RUnlock()
			if e == nil || (clock && time.Now().UnixNano() >= e.exp) {
				return cacheVal{}, errors.New("bench: map miss")
			}
			return e.v, nil
		}}
}

// BenchmarkCacheL1HitInterleaved_All runs the L1 reads of every library
// with a local tier, and the map floors, in one loop: each iteration
// times a block of 100 reads of each, in rotated order, so load bursts on
// a shared machine hit all alike. It reports each one's median ns per
// read (<name>-ns) and aside's ratios to the floors. ns/op is one round.
func BenchmarkCacheL1HitInterleaved_All(b *testing.B) {
	const block = 100
	named := func(l hitLib, name string) hitLib { l.name = name; return l }
	libs := []hitLib{
		named(cacheSetupMap(b, false), "FloorMap"),
		named(cacheSetupMap(b, true), "FloorMapClock"),
		cacheSetupAside(b, "Aside", true, nil, sameVal, sameVal),
		cacheSetupGoRedisCache(b, true),
		cacheSetupJetcache(b, "JetcacheFreeCache", jetlocal.NewFreeCache(16*jetlocal.MB, time.Minute, prefix(b))),
		cacheSetupJetcache(b, "JetcacheTinyLFU", jetlocal.NewTinyLFU(1<<20, time.Minute)),
	}
	c0 := make([]int64, len(libs))
	for n, l := range libs {
		l.warm(b)
		if l.cmds != nil {
			c0[n] = l.cmds.Load()
		}
	}
	ctx := context.Background()
	times := make([][]time.Duration, len(libs))
	b.ResetTimer()
	i := 0
	for b.Loop() {
		for j := range libs {
			n := (i + j) % len(libs)
			l := libs[n]
			t0 := time.Now()
			for r := range block {
				v, err := l.get(ctx, l.keys[(i*block+r)%len(l.keys)])
				cacheCheck(b, v, err)
			}
			times[n] = append(times[n], time.Since(t0)/block)
		}
		i++
	}
	b.StopTimer()
	med := map[string]float64{}
	for n, l := range libs {
		if got := l.loads.Load(); got != 0 {
			b.Fatalf("%s: loader ran %d times on warm keys", l.name, got)
		}
		if l.cmds != nil && l.cmds.Load() != c0[n] {
			b.Fatalf("%s: %d Redis commands during L1 reads", l.name, l.cmds.Load()-c0[n])
		}
		med[l.name] = float64(durPercentile(times[n], 50))
		b.ReportMetric(med[l.name], l.name+"-ns")
	}
	b.ReportMetric(med["Aside"]/med["FloorMap"], "aside/map")
	b.ReportMetric(med["Aside"]/med["FloorMapClock"], "aside/mapclock")
}
