package consistency

import "sync/atomic"

// Stats are a Keeper's counters since [New].
type Stats struct {
	// Writes counts [Keeper.Write] calls whose database change succeeded.
	Writes int64
	// Invalidated counts keys deleted through the cache, after writes and
	// by the schedule runner.
	Invalidated int64
	// Retries counts retried Redis operations (delete, publish, schedule).
	Retries int64
	// Pending counts writes that returned [ErrPending].
	Pending int64
	// Scheduled counts second deletes this instance scheduled.
	Scheduled int64
	// Executed counts scheduled second deletes this instance ran (whoever
	// scheduled them).
	Executed int64
	// Recovered counts intents this instance ran: writes whose own
	// invalidation did not finish (their writer died, or Redis failed).
	Recovered int64
	// Received counts L1 invalidations received from other instances.
	Received int64
	// Flushes counts L1 flushes after a gap in the invalidation messages.
	Flushes int64
	// Errors counts background errors (also given to Options.OnError).
	Errors int64
}

type counters struct {
	writes, invalidated, retries, pending, scheduled, executed,
	recovered, received, flushes, errors atomic.Int64
}

// Stats returns a snapshot of the Keeper's counters. It is safe for
// concurrent use.
func (k *Keeper) Stats() Stats {
	c := &k.c
	return Stats{
		Writes:      c.writes.Load(),
		Invalidated: c.invalidated.Load(),
		Retries:     c.retries.Load(),
		Pending:     c.pending.Load(),
		Scheduled:   c.scheduled.Load(),
		Executed:    c.executed.Load(),
		Recovered:   c.recovered.Load(),
		Received:    c.received.Load(),
		Flushes:     c.flushes.Load(),
		Errors:      c.errors.Load(),
	}
}
