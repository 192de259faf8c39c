package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/script"
)

// BloomOptions configures the bloom filter guard: keys not in the filter
// are answered [ErrNotFound] without asking the loader and without writing
// a negative entry. In-process, the filter is asked before Redis, so a
// rejected key costs no Redis call at all. Shared, the filter is asked only
// after a Redis miss (so a hit stays one GET): a rejected key costs the
// GET and one filter round trip. Until the first [Cache.RebuildBloom] the
// guard lets every key through, so a cache never rejects keys from an
// empty filter.
type BloomOptions struct {
	// Expected is the number of keys the filter is sized for. Required.
	Expected uint
	// FalsePositive is the target false-positive rate at Expected keys.
	// If zero, 0.01.
	FalsePositive float64
	// Shared keeps the filter in Redis (one string of bits under
	// "{prefix|}:bloom", tested and set by Lua in one round trip each, and
	// its size and hash count in the hash "{prefix|}:bloom:params", read by
	// [InspectBloom]), so every process sees one filter and Set in any
	// process updates it. If false, each process keeps its own filter in
	// memory: zero Redis calls for a rejected key, but another process's
	// Set is not seen until the next rebuild (a key Set elsewhere reads as
	// not found here until then).
	Shared bool
	// Source lists every key that exists, for [Cache.RebuildBloom]: it
	// calls add once per key. If nil, RebuildBloom returns an error.
	Source func(ctx context.Context, add func(key string)) error
}

// ErrNoBloom is returned by [Cache.RebuildBloom] when the cache has no
// bloom guard or no key source.
var ErrNoBloom = errors.New("cache: no bloom filter source")

// lockedFilter is a bloom filter with the lock it needs: bloom.BloomFilter
// is not safe for concurrent use.
type lockedFilter struct {
	mu sync.RWMutex // guards f
	f  *bloom.BloomFilter
}

func (l *lockedFilter) add(key string) {
	l.mu.Lock()
	l.f.AddString(key)
	l.mu.Unlock()
}

type bloomGuard struct {
	rdb  redis.UniversalClient
	opt  BloomOptions
	m, k uint

	cur atomic.Pointer[lockedFilter] // in-process filter in use; nil until built

	mu       sync.Mutex    // guards building
	building *lockedFilter // filter under construction, also fed by Set

	// shared mode Redis keys, one hash tag: the filter, the one being
	// built, the upload and the filter's parameters (m and k, for
	// InspectBloom)
	bits, next, tmp, params string
}

func newBloomGuard(rdb redis.UniversalClient, prefix string, opt BloomOptions) *bloomGuard {
	m, k := bloom.EstimateParameters(opt.Expected, opt.FalsePositive)
	g := &bloomGuard{rdb: rdb, opt: opt, m: m, k: k}
	g.bits, g.params = bloomKeys(prefix)
	base := keys.Base(prefix, "")
	g.next, g.tmp = keys.Sub(base, "bloom:new"), keys.Sub(base, "bloom:tmp")
	return g
}

// bloomKeys returns the Redis keys of a shared bloom filter and of its
// parameters: "{prefix|}:bloom" and "{prefix|}:bloom:params".
func bloomKeys(prefix string) (bits, params string) {
	base := keys.Base(prefix, "")
	return keys.Sub(base, "bloom"), keys.Sub(base, "bloom:params")
}

// positions returns key's bit positions as script arguments.
func (g *bloomGuard) positions(key string) []any {
	locs := bloom.Locations([]byte(key), g.k)
	out := make([]any, len(locs))
	for i, l := range locs {
		out[i] = l % uint64(g.m)
	}
	return out
}

// test reports whether key may exist. Errors let the key through.
func (g *bloomGuard) test(ctx context.Context, key string, ctr *counters) bool {
	if !g.opt.Shared {
		f := g.cur.Load()
		if f == nil {
			return true
		}
		f.mu.RLock()
		ok := f.f.TestString(key)
		f.mu.RUnlock()
		return ok
	}
	n, err := script.CacheBloomTest.Run(ctx, g.rdb, []string{g.bits}, g.positions(key)...).Int64()
	if err != nil {
		ctr.redisErrors.Add(1)
		return true
	}
	return n == 1
}

// add puts key into the live filter and the one being built.
func (g *bloomGuard) add(ctx context.Context, key string) error {
	if !g.opt.Shared {
		if f := g.cur.Load(); f != nil {
			f.add(key)
		}
		g.mu.Lock()
		if g.building != nil {
			g.building.add(key)
		}
		g.mu.Unlock()
		return nil
	}
	if err := script.CacheBloomAdd.Run(ctx, g.rdb, []string{g.bits, g.next}, g.positions(key)...).Err(); err != nil {
		return fmt.Errorf("cache: bloom add: %w", err)
	}
	return nil
}

// RebuildBloom builds a new bloom filter from [BloomOptions.Source] and
// swaps it in without downtime: the old filter answers until the swap, and
// keys Set during the build go into both. In shared mode the new filter is
// built under "{prefix|}:bloom:new" and renamed over the live one in one
// script, which also records the filter's size and hash count beside it in
// "{prefix|}:bloom:params" for [InspectBloom]. Run one rebuild at a time
// per filter.
func (c *Cache[V]) RebuildBloom(ctx context.Context) error {
	g := c.bloom
	if g == nil || g.opt.Source == nil {
		return ErrNoBloom
	}
	return g.rebuild(ctx)
}

func (g *bloomGuard) rebuild(ctx context.Context) error {
	lf := &lockedFilter{f: bloom.New(g.m, g.k)}
	if g.opt.Shared {
		// Create the new filter first so concurrent Sets land in it too.
		pipe := g.rdb.TxPipeline()
		pipe.SetBit(ctx, g.next, int64(g.m-1), 0)
		pipe.PExpire(ctx, g.next, 10*time.Minute)
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("cache: bloom rebuild: %w", err)
		}
	} else {
		g.mu.Lock()
		g.building = lf
		g.mu.Unlock()
		defer func() {
			g.mu.Lock()
			g.building = nil
			g.mu.Unlock()
		}()
	}
	if err := g.opt.Source(ctx, lf.add); err != nil {
		return fmt.Errorf("cache: bloom source: %w", err)
	}
	if !g.opt.Shared {
		g.cur.Store(lf)
		return nil
	}
	// Upload the bits in Redis's order (bit 0 is the high bit of byte 0).
	buf := make([]byte, (g.m+7)/8)
	bs := lf.f.BitSet()
	for i, ok := bs.NextSet(0); ok; i, ok = bs.NextSet(i + 1) {
		buf[i/8] |= 0x80 >> (i % 8)
	}
	const chunk = 1 << 20
	for off := 0; off < len(buf); off += chunk {
		end := min(off+chunk, len(buf))
		if err := g.rdb.SetRange(ctx, g.tmp, int64(off), string(buf[off:end])).Err(); err != nil {
			return fmt.Errorf("cache: bloom upload: %w", err)
		}
	}
	if err := script.CacheBloomSwap.Run(ctx, g.rdb, []string{g.next, g.tmp, g.bits, g.params}, g.m, g.k).Err(); err != nil {
		return fmt.Errorf("cache: bloom swap: %w", err)
	}
	return nil
}
