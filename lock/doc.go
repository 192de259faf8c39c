// Package lock implements a distributed lock and a counting semaphore on
// Redis for code where only one instance of a service (or N of them) may
// do a thing at a time, and it stays safe when a holder stalls.
//
// # The failure it is built for
//
// A lock taken with SET NX and an expiry is lost when its holder stalls
// (a GC pause, a slow disk, a network partition) past the expiry: another
// instance takes the lock and both write. This package makes that failure
// visible and harmless:
//
//   - every hold carries a fencing token ([Lock.Fence]), a number larger
//     than that of every earlier holder of the same lock, drawn in the
//     same Lua script that takes the lock. The protected resource keeps
//     the newest fence it has seen and rejects writes carrying an older
//     one, so a stale holder's late write is refused ([Client.SetFenced]
//     for Redis-stored resources; the SQL version is below);
//   - [Lock.Context] is canceled as soon as the lock is lost, or cannot be
//     confirmed before its lease would end (measured from when the obtain
//     or renewal was sent, minus 1% for clock drift), so work done under
//     it stops instead of running unprotected;
//   - an optional watchdog ([WithWatchdog], on by default in [Client.Do])
//     renews the lease every TTL/3 while the lock is held;
//   - [Lock.Release] deletes only this holder's token (compare-and-delete)
//     and reports [ErrLost] when the lock had been lost meanwhile.
//
// # Fencing in SQL
//
// Store the fence next to the row and make the update conditional:
//
//	UPDATE accounts SET balance = $1, fence = $2
//	 WHERE id = $3 AND fence <= $2
//
// Zero rows affected means a newer holder has written: abort. Use
// "fence < $2" instead if each hold may write only once. New rows start
// with fence 0 (fences are at least 1).
//
// # Waiting without polling
//
// [Client.Obtain] waits while the lock is held. A release leaves one
// wake-up in a Redis list ("{prefix|name}:wake"); each [Client] runs one
// goroutine per key that its callers wait on, blocked in BLPOP on that
// list, and hands each wake-up to its longest-waiting caller. Waiters of
// one process are served first come, first served; across processes,
// Redis gives the wake-up to the connection blocked longest. The lock is
// not strictly fair: a caller arriving just after a release may take it
// before the woken waiter (the woken one then waits for the next
// release). A waiter that leaves with a wake-up it did not use passes it
// on, so no waiter is stranded. Waiters also retry when the holder's
// lease would end (every failed attempt learns how long it has left),
// which covers a holder that crashed without releasing and any lost
// wake-up; that is the only retry, not a polling loop.
//
// Each blocked BLPOP holds one connection of the Redis client's pool
// while it waits (at most one second at a time), one per key being waited
// on per Client, shared by all its callers waiting on that key. Size the
// pool for them on top of the normal load; [Options.MaxBlocking] caps
// them, and waiters beyond the cap retry with a jittered backoff instead.
//
// # Metrics
//
// [Client.Stats] counts obtains, losses and how waiters were woken; the
// same counts are OpenTelemetry counters (aside.lock.*, see
// [Options.MeterProvider]). Retries with reason "fallback" are waiters
// that no release woke: a crashed holder, or a missed wake-up.
//
// # Keys and topologies
//
// The lock "name" uses "{prefix|name}" (the holder's token, with the lease
// as its expiry), "{prefix|name}:fence" (the fence counter, kept for
// [Options.FenceTTL] after the last obtain) and "{prefix|name}:wake"; a semaphore uses "{prefix|name}:sem"
// and "{prefix|name}:sem:wake". Keys of one lock share a hash tag, so
// every script runs on one node of a Cluster; standalone, Sentinel and
// Cluster clients all work. [Client.Inspect] and [Client.InspectSemaphore]
// read them without taking anything, for operators' tools.
//
// A lock in one Redis (with its replicas) is as safe as that Redis'
// writes: a failover that loses the last writes (replication is
// asynchronous) can lose a hold or a fence increment, and a restart
// without persistence forgets both. Fencing keeps such a loss from
// corrupting data only if fences keep growing: a fence counter that is
// missing starts again from the server clock in microseconds, above every
// fence handed out before, as long as the server's clock does not go back;
// a counter lost in a failover to a replica that lagged can still repeat
// the last few fences, so run Redis with AOF persistence (and, where it
// matters, WAIT for replicas) if fences protect data.
package lock
