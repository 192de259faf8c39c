package lock

import (
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/aside-go/aside/internal/otelx"
)

// Stats are the counts of one [Client] since [New]. The same counts are
// exported as OpenTelemetry counters (see README).
type Stats struct {
	Obtained    int64 // locks and permits obtained
	NotObtained int64 // calls that returned ErrNotObtained (held, or ctx ended while waiting)
	Released    int64 // releases that found the lease still held
	Lost        int64 // leases lost while held (Context canceled with ErrLost)
	Attempts    int64 // obtain/acquire scripts run
	Woken       int64 // attempts made because a release woke the caller
	Fallbacks   int64 // attempts made because the holder's lease should have ended (no wake-up came)
	Backoffs    int64 // attempts by callers without a watcher (MaxBlocking reached)
	PassedOn    int64 // unused wake-ups handed back to Redis for other processes
}

// counters are the live atomics behind Stats.
type counters struct {
	obtained, notObtained, released, lost,
	attempts, woken, fallbacks, polls, passedOn atomic.Int64
}

// Stats returns the counts since [New]. It is safe for concurrent use.
func (c *Client) Stats() Stats {
	k := &c.stats
	return Stats{
		Obtained: k.obtained.Load(), NotObtained: k.notObtained.Load(),
		Released: k.released.Load(), Lost: k.lost.Load(),
		Attempts: k.attempts.Load(), Woken: k.woken.Load(),
		Fallbacks: k.fallbacks.Load(), Backoffs: k.polls.Load(),
		PassedOn: k.passedOn.Load(),
	}
}

// registerMetrics exports the counters as OpenTelemetry observable
// counters, read at collection time (the hot path pays nothing for OTel).
func registerMetrics(mp metric.MeterProvider, prefix string, k *counters) (metric.Registration, error) {
	m := otelx.Meter(mp, "github.com/aside-go/aside/lock")
	list := []otelx.Counter{
		{Name: "aside.lock.obtained", Desc: "Locks and semaphore permits obtained.", V: &k.obtained},
		{Name: "aside.lock.not_obtained", Desc: "Obtain and acquire calls that returned ErrNotObtained.", V: &k.notObtained},
		{Name: "aside.lock.released", Desc: "Releases that found the lease still held.", V: &k.released},
		{Name: "aside.lock.lost", Desc: "Leases lost while held.", V: &k.lost},
		{Name: "aside.lock.attempts", Desc: "Obtain and acquire scripts run.", V: &k.attempts},
		{Name: "aside.lock.retries", Desc: "Attempts by waiting callers. Attribute reason: woken, fallback or backoff.", Attr: attribute.String("reason", "woken"), V: &k.woken},
		{Name: "aside.lock.retries", Attr: attribute.String("reason", "fallback"), V: &k.fallbacks},
		{Name: "aside.lock.retries", Attr: attribute.String("reason", "backoff"), V: &k.polls},
	}
	return otelx.ObserveCounters(m, attribute.String("aside.lock.prefix", prefix), list)
}
