// Package staleness measures how stale a cache gets while the database under
// it changes: W writers update rows of a PostgreSQL table (a version column
// incremented by each write), R readers read them through several cache
// instances (each with its own Redis client, as separate processes would),
// and the loader is slowed at random to widen the stale-set race.
//
// A checker records, for each row, when each write (including its
// invalidation) completed and what each read returned. A read is stale if it
// returns a version older than one whose write had completed before the read
// began. After the run, and after the second deletes and L1 entries had time
// to expire, the cache's contents in Redis are compared with the table: every
// row whose cached version is older than the table's is a stale entry left.
//
// It is the measurement behind the table in consistency/README.md, run by
// the consistency tests and by the benchmark in bench/. Nothing in it is
// needed to use the consistency package.
package staleness
