// Package pgcdc keeps caches right by following PostgreSQL's own change
// log: a [Follower] reads logical replication (the pgoutput plugin) from a
// named slot and publication, turns every committed change into cache keys
// through a [Mapper] of yours, and invalidates them through an
// [Invalidator], typically a consistency.Keeper in Strong mode over a cache
// with versioned fills, so that a fill that read the old row before the
// change cannot store it afterwards.
//
// Every write is seen, whoever made it: other services, migrations, manual
// SQL, code that never calls Keeper.Write. Progress is durable: the slot's
// confirmed position moves past a transaction only after its invalidations
// were applied, so a follower killed at any point, or Redis down for a
// while, loses none (they are applied at least once; invalidations are
// idempotent).
//
// One follower is active per slot across a fleet: PostgreSQL lets one
// connection at a time stream from a slot, so the others wait and retry,
// and one of them takes over when the active one dies.
//
// Only importers of this package pay for pgx and pglogrepl: it is a module
// of its own. The PostgreSQL side sits behind [Source], so another
// database's log (a MySQL binlog) can be added the same way.
package pgcdc
