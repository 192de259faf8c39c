package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/cache"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
	"golang.org/x/sync/singleflight"
)

// newCacheAside builds an aside cache over rdb with its defaults (JSON codec,
// lease on, 10% jitter, OpTimeout 500 ms) except the given changes.
func newCacheAside[V any](b *testing.B, rdb *redis.Client, pfx string, opt cache.Options[V]) *cache.Cache[V] {
	opt.Prefix = pfx
	opt.TTL = cacheTTL
	c, err := cache.New(rdb, &opt)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// cacheSetupAside stores cacheValue (converted by conv) under every key with
// c.Set; get is c.Get, whose loader fails the benchmark.
func cacheSetupAside[V any](b *testing.B, name string, local bool, codec cache.Codec[V], conv func(cacheVal) V, back func(V) cacheVal) hitLib {
	rdb, cc := hitClient(b, local)
	loads := new(atomic.Int64)
	opt := cache.Options[V]{
		Codec: codec,
		Loader: cache.LoaderFunc[V](func(ctx context.Context, key string) (V, error) {
			loads.Add(1)
			var zero V
			return zero, errCacheLoaderCalled
		}),
	}
	if local {
		opt.Local = &cache.LocalOptions{Size: 10000, TTL: time.Minute}
	}
	c := newCacheAside(b, rdb, prefix(b)+"-"+name, opt)
	ctx := context.Background()
	keys := cacheKeyNames("b")
	for _, k := range keys {
		if err := c.Set(ctx, k, conv(cacheValue)); err != nil {
			b.Fatal(err)
		}
	}
	if local {
		c.FlushLocal() // L1 is filled by the warm-up reads, as in the peers' runs
	}
	return hitLib{name: name, keys: keys, loads: loads, cmds: cc,
		get: func(ctx context.Context, key string) (cacheVal, error) {
			v, err := c.Get(ctx, key)
			return back(v), err
		}}
}

func sameVal(v cacheVal) cacheVal { return v }

// BenchmarkCacheHit_Aside is aside Get, Redis tier, default JSON codec:
// compare with BenchmarkCacheHit_GETDecodeJSON (the 10% goal).
func BenchmarkCacheHit_Aside(b *testing.B) {
	runCacheHit(b, cacheSetupAside(b, "Aside", false, nil, sameVal, sameVal))
}

// BenchmarkCacheHit_AsideMsgpack is aside Get with a user codec doing
// plain msgpack: compare with BenchmarkCacheHit_GETDecodeMsgpack, and with
// go-redis/cache and jetcache-go (msgpack + s2).
func BenchmarkCacheHit_AsideMsgpack(b *testing.B) {
	runCacheHit(b, cacheSetupAside(b, "AsideMsgpack", false, cache.Codec[cacheVal](msgpackCodec{}), sameVal, sameVal))
}

// BenchmarkCacheHit_AsideBinary is aside Get with cache.Binary over a
// hand-written encoder (cacheValBin): compare with
// BenchmarkCacheHit_GETDecodeBinary.
func BenchmarkCacheHit_AsideBinary(b *testing.B) {
	runCacheHit(b, cacheSetupAside(b, "AsideBinary", false, cache.Binary[cacheValBin](), toBin, fromBin))
}

// BenchmarkCacheHit_GETDecodeBinary is GET + cacheValBin.UnmarshalBinary.
func BenchmarkCacheHit_GETDecodeBinary(b *testing.B) { runCacheHit(b, cacheSetupFloorBinary(b)) }

func cacheSetupFloorBinary(b *testing.B) hitLib {
	enc, err := cacheValBin(cacheValue).MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	return cacheSetupFloor(b, "GETDecodeBinary", enc, func(data []byte, v any) error {
		return (*cacheValBin)(v.(*cacheVal)).UnmarshalBinary(data)
	})
}

// BenchmarkCacheL1Hit_Aside is aside Get answered by its L1 tier.
func BenchmarkCacheL1Hit_Aside(b *testing.B) {
	runCacheHit(b, cacheSetupAside(b, "AsideL1", true, nil, sameVal, sameVal))
}

// BenchmarkCacheStampede_Aside: 4 aside caches (one client each, one
// shared prefix), the cross-process lease on (default).
func BenchmarkCacheStampede_Aside(b *testing.B) { benchAsideStampede(b, false) }

// BenchmarkCacheStampede_AsideNoLease: the same with DisableLease, i.e.
// singleflight per process only, like go-redis/cache, go-zero, jetcache.
func BenchmarkCacheStampede_AsideNoLease(b *testing.B) { benchAsideStampede(b, true) }

// BenchmarkCacheStampede_AsideOuterSF is the default aside cache with the
// caller's Get wrapped in one more singleflight per process, so a process
// sends one GET per cold key instead of one per caller: what aside's
// stampede costs once callers join the singleflight before the Redis
// read (see README, "Where aside's time goes").
func BenchmarkCacheStampede_AsideOuterSF(b *testing.B) {
	pfx := prefix(b)
	runStampede(b, func(b *testing.B, rdb *redis.Client, load func(context.Context) (cacheVal, error)) stampedeGetter {
		c := newCacheAside(b, rdb, pfx, cache.Options[cacheVal]{
			Loader: cache.LoaderFunc[cacheVal](func(ctx context.Context, _ string) (cacheVal, error) {
				return load(ctx)
			}),
		})
		var sf singleflight.Group
		return func(ctx context.Context, key string) (cacheVal, error) {
			v, err, _ := sf.Do(key, func() (any, error) { return c.Get(ctx, key) })
			if err != nil {
				return cacheVal{}, err
			}
			return v.(cacheVal), nil
		}
	})
}

func benchAsideStampede(b *testing.B, noLease bool) {
	pfx := prefix(b)
	runStampede(b, func(b *testing.B, rdb *redis.Client, load func(context.Context) (cacheVal, error)) stampedeGetter {
		c := newCacheAside(b, rdb, pfx, cache.Options[cacheVal]{
			DisableLease: noLease,
			Loader: cache.LoaderFunc[cacheVal](func(ctx context.Context, _ string) (cacheVal, error) {
				return load(ctx)
			}),
		})
		return c.Get
	})
}

// ------------------------------------------------------------- codecs

// msgpackCodec is a user codec for aside: plain vmihailenco/msgpack.
type msgpackCodec struct{}

func (msgpackCodec) ID() byte { return 200 }
func (msgpackCodec) Append(dst []byte, v cacheVal) ([]byte, error) {
	b, err := msgpack.Marshal(&v)
	return append(dst, b...), err
}
func (msgpackCodec) Decode(data []byte) (cacheVal, error) {
	var v cacheVal
	err := msgpack.Unmarshal(data, &v)
	return v, err
}

// cacheValBin is cacheVal with a hand-written binary encoding (what
// generated code would do): varints and length-prefixed strings. It is a
// separate type so msgpack (which honours BinaryMarshaler) still encodes
// cacheVal field by field for the peers.
type cacheValBin cacheVal

func toBin(v cacheVal) cacheValBin   { return cacheValBin(v) }
func fromBin(v cacheValBin) cacheVal { return cacheVal(v) }

func (v cacheValBin) MarshalBinary() ([]byte, error) { return v.AppendBinary(nil) }

func (v cacheValBin) AppendBinary(b []byte) ([]byte, error) {
	str := func(b []byte, s string) []byte { return append(binary.AppendUvarint(b, uint64(len(s))), s...) }
	b = binary.AppendVarint(b, v.ID)
	b = str(b, v.Name)
	b = str(b, v.Email)
	b = binary.AppendUvarint(b, uint64(len(v.Tags)))
	for _, t := range v.Tags {
		b = str(b, t)
	}
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Score))
	if v.Active {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendVarint(b, v.Created)
	return str(b, v.Bio), nil
}

var errBinShort = errors.New("bench: short binary value")

func (v *cacheValBin) UnmarshalBinary(data []byte) error {
	bad := false
	varint := func() int64 {
		x, n := binary.Varint(data)
		if n <= 0 {
			bad = true
			return 0
		}
		data = data[n:]
		return x
	}
	uvarint := func() uint64 {
		x, n := binary.Uvarint(data)
		if n <= 0 || x > uint64(len(data)) {
			bad = true
			return 0
		}
		data = data[n:]
		return x
	}
	str := func() string {
		n := uvarint()
		if bad || n > uint64(len(data)) {
			bad = true
			return ""
		}
		s := string(data[:n])
		data = data[n:]
		return s
	}
	v.ID = varint()
	v.Name = str()
	v.Email = str()
	if nt := uvarint(); !bad {
		v.Tags = make([]string, nt)
		for i := range v.Tags {
			v.Tags[i] = str()
		}
	}
	if bad || len(data) < 9 {
		return errBinShort
	}
	v.Score = math.Float64frombits(binary.LittleEndian.Uint64(data))
	v.Active = data[8] == 1
	data = data[9:]
	v.Created = varint()
	v.Bio = str()
	if bad {
		return errBinShort
	}
	return nil
}
