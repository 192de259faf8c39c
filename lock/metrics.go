package lock

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
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
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter("github.com/aside-go/aside/lock")
	type obs struct {
		name, desc, reason string
		v                  *atomic.Int64
	}
	list := []obs{
		{"aside.lock.obtained", "Locks and semaphore permits obtained.", "", &k.obtained},
		{"aside.lock.not_obtained", "Obtain and acquire calls that returned ErrNotObtained.", "", &k.notObtained},
		{"aside.lock.released", "Releases that found the lease still held.", "", &k.released},
		{"aside.lock.lost", "Leases lost while held.", "", &k.lost},
		{"aside.lock.attempts", "Obtain and acquire scripts run.", "", &k.attempts},
		{"aside.lock.retries", "Attempts by waiting callers. Attribute reason: woken, fallback or backoff.", "woken", &k.woken},
		{"aside.lock.retries", "", "fallback", &k.fallbacks},
		{"aside.lock.retries", "", "backoff", &k.polls},
	}
	insts := map[string]metric.Int64ObservableCounter{}
	var all []metric.Observable
	for _, o := range list {
		if _, ok := insts[o.name]; ok {
			continue
		}
		ctr, err := m.Int64ObservableCounter(o.name, metric.WithDescription(o.desc))
		if err != nil {
			return nil, err
		}
		insts[o.name] = ctr
		all = append(all, ctr)
	}
	base := attribute.String("aside.lock.prefix", prefix)
	opts := make([]metric.ObserveOption, len(list))
	for i, o := range list {
		if o.reason != "" {
			opts[i] = metric.WithAttributeSet(attribute.NewSet(base, attribute.String("reason", o.reason)))
		} else {
			opts[i] = metric.WithAttributeSet(attribute.NewSet(base))
		}
	}
	return m.RegisterCallback(func(_ context.Context, ob metric.Observer) error {
		for i, o := range list {
			ob.ObserveInt64(insts[o.name], o.v.Load(), opts[i])
		}
		return nil
	}, all...)
}
