// Package cache implements cache-aside over Redis that survives the three
// classic failures of a read-through cache: penetration (lookups of keys
// that do not exist), breakdown (a hot key expiring under load) and
// avalanche (many keys expiring together).
//
// A [Cache] wraps a user's shared [github.com/redis/go-redis/v9.UniversalClient]
// and a [Loader] that reads the source of truth. [Cache.Get] returns the
// cached value or loads it, stores it and returns it:
//
//   - Penetration: a loader that returns [ErrNotFound] is cached as a
//     negative entry with its own short TTL, written so that it never
//     overwrites a real value; an optional bloom filter guard (in-process or
//     shared in Redis) answers "not found" for keys outside the filter
//     without touching Redis or the loader.
//   - Breakdown: concurrent Gets of one key in one process share one Redis
//     read and, on a miss, one load (singleflight); across processes a lease in Redis lets exactly one
//     process load while the others block on a wake list until the value
//     lands, and take over if the holder dies. Past a soft TTL a stale value
//     is served while exactly one caller refreshes it in the background.
//   - Avalanche: every TTL written (values, negative entries, the L1 tier)
//     gets random jitter.
//
// Values are stored in a small binary envelope (see [Codec]) that carries
// the soft expiry, a negative flag and the codec id; bytes that do not
// decode are treated as a miss, reloaded and overwritten, and counted.
//
// When Redis fails, [FailOpen] (the default) serves from the loader with a
// bound on concurrent loads, [FailClosed] returns [ErrUnavailable].
//
// An optional in-process L1 tier ([LocalOptions]) sits in front of Redis.
// Counters are available from [Cache.Stats] and as OpenTelemetry metrics.
//
// Every Redis key of one user key shares the hash tag "{prefix|key}", so the
// package works the same on one server and on a Redis Cluster. [Inspect],
// [InspectBloom] and [Cache.Peek] read what Redis holds without loading or
// changing anything, for operators' tools.
package cache
