package consistency

import (
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/aside-go/aside/internal/otelx"
)

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

// registerMetrics exports the counters as OpenTelemetry observable
// counters (aside.consistency.*), read at collection time.
func registerMetrics(mp metric.MeterProvider, prefix string, c *counters) (metric.Registration, error) {
	m := otelx.Meter(mp, "github.com/aside-go/aside/consistency")
	list := []otelx.Counter{
		{Name: "aside.consistency.writes", Desc: "Keeper.Write calls whose database change succeeded.", V: &c.writes},
		{Name: "aside.consistency.invalidated", Desc: "Keys deleted through the cache.", V: &c.invalidated},
		{Name: "aside.consistency.retries", Desc: "Retried Redis operations.", V: &c.retries},
		{Name: "aside.consistency.pending", Desc: "Writes that returned ErrPending.", V: &c.pending},
		{Name: "aside.consistency.scheduled", Desc: "Second deletes scheduled.", V: &c.scheduled},
		{Name: "aside.consistency.executed", Desc: "Scheduled second deletes run.", V: &c.executed},
		{Name: "aside.consistency.recovered", Desc: "Intents of unfinished writes run.", V: &c.recovered},
		{Name: "aside.consistency.received", Desc: "L1 invalidations received from other instances.", V: &c.received},
		{Name: "aside.consistency.flushes", Desc: "L1 flushes after a gap in the invalidation messages.", V: &c.flushes},
		{Name: "aside.consistency.errors", Desc: "Background errors.", V: &c.errors},
	}
	return otelx.ObserveCounters(m, attribute.String("aside.consistency.prefix", prefix), list)
}
