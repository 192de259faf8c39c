package cache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/lease"
	"github.com/aside-go/aside/internal/script"
	"github.com/aside-go/aside/internal/validate"
)

// Entry is what Redis holds for one key of a cache, read without loading
// it ([Inspect], [Cache.Peek]).
//
// Key, RedisKey, Lease and Marker are filled in whether or not a value is
// stored: a held lease over an absent value is a load in flight. The other
// fields describe the stored value and are zero when Exists is false.
//
// When Corrupt is set, a Get would treat the entry as a miss, reload the
// key and overwrite it. Exists and TTL are filled in and Payload holds the
// raw stored bytes, header included (nil if the key is not a Redis
// string). The envelope fields (Negative, CodecID, SoftExpiry, Version)
// are zero when the header cannot be read; when only the codec failed to
// decode the payload ([Cache.Peek]), they keep the header's values.
type Entry struct {
	Key        string        // the cache key as the user gave it
	RedisKey   string        // the Redis key holding it
	Exists     bool          // false: nothing stored (the other fields are zero)
	Negative   bool          // a cached "not found"
	CodecID    byte          // the codec that wrote it (1 JSON, 2 bytes, 3 string, 4 binary, 128-255 user codecs)
	Payload    []byte        // the codec's bytes (nil for a negative entry); the raw stored bytes when Corrupt is set
	SoftExpiry time.Time     // logical expiry (SoftTTL); zero if none
	Version    uint64        // versioned-fill marker the value was loaded under; 0 if none
	TTL        time.Duration // time left before Redis drops it; -1 if it has no expiry
	Corrupt    string        // why the stored bytes cannot be read as an entry; "" if they can
	Lease      LeaseInfo     // the cross-process load lease of this key
	Marker     string        // the current versioned-fill marker of the key ("" if none)
}

// LeaseInfo describes a load lease: while it is held, one process loads
// the key and the others wait for its fill. The zero LeaseInfo is a lease
// nobody holds.
type LeaseInfo struct {
	Held  bool          // a process holds the lease
	Token string        // the holder's random token ("" when not held)
	TTL   time.Duration // lease left (0 when not held); -1 if it has no expiry
}

// Inspect reads what Redis holds for key in the cache with this prefix
// ("" means the default, "aside:cache"), without loading it and without
// changing anything: the value with its envelope decoded, its TTL, the
// key's load lease and its versioned-fill marker. All of them share one
// hash slot and are read by one script, so Inspect costs one round trip
// and sees one consistent moment, on a single server and on a Cluster.
//
// Bytes that are not an entry (not a Redis string, a bad header) are
// reported in [Entry.Corrupt], not as an error; the error is for Redis
// failures and for a prefix that contains '{', '}' or '|' (wrapping
// [ErrInvalidOptions]). Inspect does not decode the payload, since it does
// not know the value type: [Cache.Peek] does. It is safe for concurrent
// use.
func Inspect(ctx context.Context, rdb redis.UniversalClient, prefix, key string) (Entry, error) {
	prefix, err := inspectArgs(rdb, prefix)
	if err != nil {
		return Entry{Key: key}, err
	}
	e, _, err := inspect(ctx, rdb, prefix, key)
	return e, err
}

// Peek is [Inspect] for this cache, with the value decoded by its codec
// when the entry is a value written by that codec (ok reports that). It
// reads Redis only: it never calls the loader, never changes Redis, never
// touches the L1 tier and does not count in [Cache.Stats]. The round trip
// is bounded by [Options.OpTimeout].
//
// ok is false for an absent key, a negative entry, corrupt bytes, and a
// value written by another codec (e.CodecID says which; a Get would treat
// it as corrupt and reload it). When this cache's codec fails to decode
// the payload, ok is false and e.Corrupt says why, as for any corrupt
// entry. err is a Redis error only. It is safe for concurrent use.
func (c *Cache[V]) Peek(ctx context.Context, key string) (v V, ok bool, e Entry, err error) {
	octx, cancel := c.opCtx(ctx)
	defer cancel()
	e, raw, err := inspect(octx, c.rdb, c.opt.Prefix, key)
	if err != nil || !e.Exists || e.Negative || e.Corrupt != "" || e.CodecID != c.codec.ID() {
		return v, false, e, err
	}
	_, v, derr := decodeEntry(c.codec, raw)
	if derr != nil {
		var zero V
		e.Corrupt = corruptReason(derr)
		e.Payload = []byte(raw)
		return zero, false, e, nil
	}
	return v, true, e, nil
}

// inspectArgs checks Inspect's client and prefix and returns the prefix
// to use.
func inspectArgs(rdb redis.UniversalClient, prefix string) (string, error) {
	if validate.Nil(rdb) {
		return "", fmt.Errorf("%w: nil client", ErrInvalidOptions)
	}
	if prefix == "" {
		return defaultPrefix, nil
	}
	if keys.CheckPrefix(prefix) != nil {
		return "", fmt.Errorf("%w: prefix %q contains '{', '}' or '|'", ErrInvalidOptions, prefix)
	}
	return prefix, nil
}

// inspect reads key's keys with one script and returns the entry and the
// raw stored string ("" unless a string is stored).
func inspect(ctx context.Context, rdb redis.Scripter, prefix, key string) (Entry, string, error) {
	base := keys.Base(prefix, key)
	e := Entry{Key: key, RedisKey: base}
	res, err := script.CacheInspect.Run(ctx, rdb, []string{base, keys.Sub(base, "lease"), keys.Sub(base, "ver")}).Slice()
	if err != nil {
		return e, "", fmt.Errorf("cache: inspect %q: %w", key, err)
	}
	if len(res) != 6 {
		return e, "", fmt.Errorf("cache: inspect %q: unexpected reply of %d elements", key, len(res))
	}
	if tok, ok := res[3].(string); ok {
		e.Lease = LeaseInfo{Held: true, Token: tok, TTL: lease.Left(res[4])}
	}
	e.Marker, _ = res[5].(string)
	typ, _ := res[0].(string)
	if typ == "none" {
		return e, "", nil
	}
	e.Exists = true
	e.TTL = lease.Left(res[2])
	raw, ok := res[1].(string)
	if !ok {
		e.Corrupt = fmt.Sprintf("a Redis %s, not a string", typ)
		return e, "", nil
	}
	env, payload, perr := parseHeader(raw)
	if perr != nil {
		e.Corrupt = corruptReason(perr)
		e.Payload = []byte(raw)
		return e, raw, nil
	}
	e.Negative = env.neg
	e.CodecID = env.codec
	e.Version = env.version
	if env.softMs > 0 {
		e.SoftExpiry = time.UnixMilli(env.softMs)
	}
	if !env.neg {
		e.Payload = []byte(payload)
	}
	return e, raw, nil
}

// corruptReason is an envelope decode error without its "cache: corrupt
// entry: " lead.
func corruptReason(err error) string {
	s := err.Error()
	if errors.Is(err, errCorrupt) {
		s = strings.TrimPrefix(s, errCorrupt.Error()+": ")
	}
	return s
}

// BloomInfo describes a cache's shared bloom filter in Redis
// ([BloomOptions.Shared]), as [InspectBloom] reads it. The zero BloomInfo
// is a filter that does not exist.
//
// Bits and Hashes are stored beside the filter by [Cache.RebuildBloom]. A
// filter written before they were stored is still read: Exists is true,
// Bits is the size of its string (a multiple of 8, up to 7 bits more than
// the filter uses), Hashes is 0, and FalsePositive and EstimatedItems are
// NaN.
type BloomInfo struct {
	Exists         bool    // the filter is in Redis
	Bits           uint64  // size of the filter in bits
	Hashes         uint    // hash functions
	SetBits        uint64  // bits set (BITCOUNT)
	FalsePositive  float64 // estimated false-positive rate now: (SetBits/Bits)^Hashes
	EstimatedItems float64 // estimated items added: -Bits/Hashes * ln(1 - SetBits/Bits); +Inf when every bit is set
}

// InspectBloom reads the shared bloom filter of the cache with this prefix
// ("" means the default, "aside:cache") without changing it: one script,
// one round trip. A cache whose filter is in-process only
// (Shared false), or whose filter was never built, reads as
// Exists false. A prefix that contains '{', '}' or '|' is an error
// wrapping [ErrInvalidOptions]. It is safe for concurrent use.
func InspectBloom(ctx context.Context, rdb redis.UniversalClient, prefix string) (BloomInfo, error) {
	prefix, err := inspectArgs(rdb, prefix)
	if err != nil {
		return BloomInfo{}, err
	}
	bits, params := bloomKeys(prefix)
	res, err := script.CacheBloomInspect.Run(ctx, rdb, []string{bits, params}).Slice()
	if err != nil {
		return BloomInfo{}, fmt.Errorf("cache: inspect bloom: %w", err)
	}
	if n, _ := res[0].(int64); n == 0 {
		return BloomInfo{}, nil
	}
	if len(res) != 5 {
		return BloomInfo{}, fmt.Errorf("cache: inspect bloom: unexpected reply of %d elements", len(res))
	}
	strlen, _ := res[1].(int64)
	set, _ := res[2].(int64)
	b := BloomInfo{Exists: true, Bits: uint64(strlen) * 8, SetBits: uint64(set)}
	m, merr := parseParam(res[3])
	k, kerr := parseParam(res[4])
	if merr != nil || kerr != nil || m == 0 || k == 0 {
		// Written before the parameters were stored (or they are damaged).
		b.FalsePositive, b.EstimatedItems = math.NaN(), math.NaN()
		return b, nil
	}
	b.Bits, b.Hashes = m, uint(k)
	fill := float64(b.SetBits) / float64(b.Bits)
	b.FalsePositive = math.Pow(fill, float64(b.Hashes))
	b.EstimatedItems = -float64(b.Bits) / float64(b.Hashes) * math.Log1p(-fill)
	return b, nil
}

func parseParam(v any) (uint64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, errors.New("absent")
	}
	return strconv.ParseUint(s, 10, 64)
}
