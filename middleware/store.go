package middleware

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
	"unsafe"

	"github.com/aside-go/aside/internal/keys"
	leases "github.com/aside-go/aside/internal/lease"
	"github.com/aside-go/aside/internal/script"
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
//	{prefix:u:H}:lease:ID  string, token of the instance filling variant ID (a lease of
//	                         internal/lease)
//	{prefix:u:H}:done:ID   its wake list, holding the outcome when that fill ends ("s"
//	                         stored, "n" not): waiters rotate it with BLMOVE (wake-all),
//	                         so one message wakes every instance, none polls
//	{prefix:u:H}:bg:ID     string, lease of the instance revalidating in the background
//	{prefix:t:TAG}         set of the hash keys tagged TAG
//
// Every key of one URL shares the hash tag {prefix:u:H}, so each script runs
// on one Cluster slot. Tag sets live in their own slots and are touched one
// command at a time.

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
	n, err := script.MiddlewareStore.Run(ctx, s.rdb, []string{base}, gen, e.vary, "v:"+variantID(e.varyVals), e.encode(), ms).Int()
	if err != nil || n == 0 {
		return false, err
	}
	if len(tags) > 0 {
		calls := make([]script.Call, len(tags))
		for i, t := range tags {
			calls[i] = script.Call{Script: script.MiddlewareTag, Keys: []string{s.tagKey(t)}, Args: []any{base, ms}}
		}
		for _, cmd := range script.RunAll(ctx, s.rdb, calls) {
			if err == nil {
				err = cmd.Err()
			}
		}
	}
	return true, err
}

// purge deletes every variant stored under each base.
func (s *store) purge(ctx context.Context, bases ...string) error {
	calls := make([]script.Call, len(bases))
	for i, b := range bases {
		calls[i] = script.Call{Script: script.MiddlewarePurge, Keys: []string{b}, Args: []any{purgeMarkerTTL.Milliseconds()}}
	}
	for _, cmd := range script.RunAll(ctx, s.rdb, calls) {
		if err := cmd.Err(); err != nil {
			return err
		}
	}
	return nil
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
	l := &lease{token: leases.Token()}
	l.key, l.done = s.leaseKeys(base, vid)
	n, err := script.LeaseTake.Run(ctx, s.rdb, []string{l.key, l.done}, l.token, leases.Ms(ttl)).Int64()
	if err != nil {
		return nil, 0, err
	}
	if n > 0 {
		return l, 0, nil
	}
	return nil, max(time.Duration(-1-n)*time.Millisecond, time.Millisecond), nil
}

// release ends the fill and wakes the waiters with the outcome.
func (s *store) release(ctx context.Context, l *lease, stored bool, ttl time.Duration) error {
	out := "n"
	if stored {
		out = "s"
	}
	return script.LeaseRelease.Run(ctx, s.rdb, []string{l.key, l.done}, l.token, out, leases.Ms(ttl)).Err()
}

// waitStep bounds one blocking wait, so a waiter notices its request's
// end (go-redis does not interrupt a blocking command).
const waitStep = 250 * time.Millisecond

// wait blocks until the filler of the variant ends (the wake-all list of
// its lease, no polling) or wait runs out. It reports whether the filler
// stored the response; heard is false when nothing was heard.
func (s *store) wait(ctx context.Context, base, vid string, wait time.Duration) (stored, heard bool, err error) {
	_, done := s.leaseKeys(base, vid)
	until := time.Now().Add(wait)
	for {
		left := time.Until(until)
		if left <= 0 {
			return false, false, nil
		}
		msg, ok, err := leases.WaitAll(ctx, s.rdb, done, min(left, waitStep))
		if err != nil || ok {
			return msg == "s", ok, err
		}
	}
}

// tryLock takes the background-refresh lease of a variant.
func (s *store) tryLock(ctx context.Context, key string, ttl time.Duration) (string, bool, error) {
	tok := leases.Token()
	n, err := script.LeaseTry.Run(ctx, s.rdb, []string{key}, tok, leases.Ms(ttl)).Int64()
	return tok, n > 0, err
}

func (s *store) unlock(ctx context.Context, key, tok string) error {
	return script.LeaseRelease.Run(ctx, s.rdb, []string{key}, tok, "", 0).Err()
}
