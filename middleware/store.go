package middleware

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
	"unsafe"

	"github.com/aside-go/aside/internal/keys"
	"github.com/redis/go-redis/v9"
)

// Redis layout of the response cache, for a cache key K (normally the URL):
//
//	{prefix:u:H}           hash, H = first 16 bytes of SHA-256(K), hex:
//	                         "vary"  the normalised Vary names of the latest response
//	                         "v:ID"  one stored response (see entry.encode) per variant,
//	                                 ID derived from the request's Vary'd values
//	                         "gen"   bumped by every purge, so a fill that started
//	                                 before a purge cannot store afterwards
//	{prefix:u:H}:lease:ID  string, token of the instance filling variant ID
//	{prefix:u:H}:done:ID   list, pushed when that fill ends ("s" stored, "n" not):
//	                         waiters block on it with BLPOP instead of polling
//	{prefix:u:H}:bg:ID     string, token of the instance revalidating in the background
//	{prefix:t:TAG}         set of the hash keys tagged TAG
//
// Every key of one URL shares the hash tag {prefix:u:H}, so each script runs
// on one Cluster slot. Tag sets live in their own slots and are touched one
// command at a time.

// storeScript stores one variant unless a purge happened since the fill
// began.
//
// KEYS[1]: the URL's hash. ARGV[1]: the "gen" seen when the fill began (""
// for none); ARGV[2]: Vary names; ARGV[3]: variant field; ARGV[4]: the
// encoded response; ARGV[5]: retention in ms.
// Returns 1 when stored, 0 when a purge intervened. A different Vary list
// replaces every stored variant (their IDs mean nothing under the new one).
var storeScript = redis.NewScript(`
local g = redis.call('HGET', KEYS[1], 'gen') or ''
if g ~= ARGV[1] then return 0 end
local cur = redis.call('HGET', KEYS[1], 'vary')
if cur and cur ~= ARGV[2] then
  redis.call('DEL', KEYS[1])
  if g ~= '' then redis.call('HSET', KEYS[1], 'gen', g) end
end
redis.call('HSET', KEYS[1], 'vary', ARGV[2], ARGV[3], ARGV[4])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[5]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return 1`)

// purgeScript deletes every stored variant of one URL and bumps its
// generation.
//
// KEYS[1]: the URL's hash. ARGV[1]: how long the generation marker lives,
// in ms. Returns the new generation.
var purgeScript = redis.NewScript(`
local g = tonumber(redis.call('HGET', KEYS[1], 'gen') or '0') + 1
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'gen', g)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return g`)

// leaseScript tries to become the one filler of a variant.
//
// KEYS[1]: lease; KEYS[2]: done list. ARGV[1]: token; ARGV[2]: TTL in ms.
// Returns 0 when obtained (the done list of an earlier round is cleared),
// else the holder's remaining ms.
var leaseScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('DEL', KEYS[2])
  return 0
end
local t = redis.call('PTTL', KEYS[1])
if t < 1 then t = 1 end
return t`)

// releaseScript ends a fill: deletes the lease if still ours and wakes the
// waiters by pushing the outcome onto the done list.
//
// KEYS[1]: lease; KEYS[2]: done list. ARGV[1]: token; ARGV[2]: "s" when
// the response was stored, "n" when not; ARGV[3]: done list TTL in ms.
// Returns 1 when the lease was still ours.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1`)

// rewakeScript passes a wake-up on to the next waiter: a waiter that popped
// the outcome pushes it back, unless a new fill has begun.
//
// KEYS[1]: lease; KEYS[2]: done list. ARGV[1]: outcome; ARGV[2]: TTL in ms.
var rewakeScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1`)

// unlockScript deletes KEYS[1] if it still holds ARGV[1].
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// tagScript adds ARGV[1] to the tag set KEYS[1] and makes the set live at
// least ARGV[2] ms.
var tagScript = redis.NewScript(`
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1`)

// store talks to Redis for the response cache.
type store struct {
	rdb    redis.UniversalClient
	prefix string
}

// urlKey returns the hash key of cache key k.
func (s *store) urlKey(k string) string {
	h := sha256.Sum256([]byte(k))
	return keys.Base(s.prefix, "u:"+hex.EncodeToString(h[:16]))
}

func (s *store) tagKey(tag string) string { return keys.Base(s.prefix, "t:"+tag) }

// variantID names the variant selected by normalised Vary values.
func variantID(varyVals string) string {
	if varyVals == "" {
		return ""
	}
	h := sha256.Sum256([]byte(varyVals))
	return hex.EncodeToString(h[:12])
}

// lookupResult is one HMGET of a URL's hash.
type lookupResult struct {
	vary    string
	hasVary bool // the URL has (or had) stored responses
	raw     []byte
	gen     string
}

func (s *store) lookup(ctx context.Context, base, vid string) (lookupResult, error) {
	vals, err := s.rdb.HMGet(ctx, base, "vary", "v:"+vid, "gen").Result()
	if err != nil {
		return lookupResult{}, err
	}
	var r lookupResult
	if v, ok := vals[0].(string); ok {
		r.vary, r.hasVary = v, true
	}
	if v, ok := vals[1].(string); ok {
		r.raw = stringBytes(v)
	}
	if v, ok := vals[2].(string); ok {
		r.gen = v
	}
	return r, nil
}

// fetchVariant reads one variant field.
func (s *store) fetchVariant(ctx context.Context, base, vid string) ([]byte, error) {
	v, err := s.rdb.HGet(ctx, base, "v:"+vid).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return stringBytes(v), err
}

// stringBytes returns the bytes of s without copying them: a stored body
// of 100 KiB is then copied once (by go-redis) instead of twice. The
// result is never written to; entries only read their body.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// save stores e under base unless a purge intervened; it returns whether it
// stored.
func (s *store) save(ctx context.Context, base, gen string, e *entry, keep time.Duration, tags []string) (bool, error) {
	ms := max(keep.Milliseconds(), 1)
	n, err := storeScript.Run(ctx, s.rdb, []string{base}, gen, e.vary, "v:"+variantID(e.varyVals), e.encode(), ms).Int()
	if err != nil || n == 0 {
		return false, err
	}
	if len(tags) > 0 {
		_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, t := range tags {
				tagScript.Eval(ctx, p, []string{s.tagKey(t)}, base, ms)
			}
			return nil
		})
	}
	return true, err
}

// purge deletes every variant stored under each base.
func (s *store) purge(ctx context.Context, bases ...string) error {
	if len(bases) == 1 {
		return purgeScript.Run(ctx, s.rdb, bases, purgeMarkerTTL.Milliseconds()).Err()
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, b := range bases {
			purgeScript.Eval(ctx, p, []string{b}, purgeMarkerTTL.Milliseconds())
		}
		return nil
	})
	return err
}

// purgeTag pops the tag's members in batches, purging each batch, until
// the set is empty; a response tagged while this runs is purged too.
func (s *store) purgeTag(ctx context.Context, tag string) (int, error) {
	k := s.tagKey(tag)
	n := 0
	for {
		members, err := s.rdb.SPopN(ctx, k, 256).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return n, err
		}
		if len(members) == 0 {
			return n, nil
		}
		if err := s.purge(ctx, members...); err != nil {
			return n, err
		}
		n += len(members)
	}
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// lease is one fill's hold on a variant across instances.
type lease struct {
	key, done, token string
}

func (s *store) leaseKeys(base, vid string) (string, string) {
	return keys.Sub(base, "lease:"+vid), keys.Sub(base, "done:"+vid)
}

// acquire tries to take the fill lease; when another instance holds it, it
// returns nil and the holder's remaining time.
func (s *store) acquire(ctx context.Context, base, vid string, ttl time.Duration) (*lease, time.Duration, error) {
	l := &lease{token: newToken()}
	l.key, l.done = s.leaseKeys(base, vid)
	ms, err := leaseScript.Run(ctx, s.rdb, []string{l.key, l.done}, l.token, ttl.Milliseconds()).Int64()
	if err != nil {
		return nil, 0, err
	}
	if ms == 0 {
		return l, 0, nil
	}
	return nil, time.Duration(ms) * time.Millisecond, nil
}

// release ends the fill and wakes the waiters with the outcome.
func (s *store) release(ctx context.Context, l *lease, stored bool, ttl time.Duration) error {
	out := "n"
	if stored {
		out = "s"
	}
	return releaseScript.Run(ctx, s.rdb, []string{l.key, l.done}, l.token, out, ttl.Milliseconds()).Err()
}

// wait blocks until the filler of the variant ends (BLPOP on its done
// list, no polling) or wait runs out. It reports whether the filler stored
// the response; ok is false when nothing was heard.
func (s *store) wait(ctx context.Context, base, vid string, wait, ttl time.Duration) (stored, ok bool, err error) {
	key, done := s.leaseKeys(base, vid)
	secs := (wait + time.Second - 1) / time.Second * time.Second
	res, err := s.rdb.BLPop(ctx, secs, done).Result()
	if errors.Is(err, redis.Nil) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	out := res[1]
	_ = rewakeScript.Run(ctx, s.rdb, []string{key, done}, out, ttl.Milliseconds()).Err()
	return out == "s", true, nil
}

// tryLock takes the background-refresh lease of a variant.
func (s *store) tryLock(ctx context.Context, key string, ttl time.Duration) (string, bool, error) {
	tok := newToken()
	ok, err := s.rdb.SetNX(ctx, key, tok, ttl).Result()
	return tok, ok, err
}

func (s *store) unlock(ctx context.Context, key, tok string) error {
	return unlockScript.Run(ctx, s.rdb, []string{key}, tok).Err()
}
