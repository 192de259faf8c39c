package pubsub

import (
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/aside-go/aside/internal/otelx"
)

// Stats are in-process counts of a [Subscription] or of a whole [PubSub].
type Stats struct {
	// Received is the number of messages read from Redis.
	Received int64
	// Handled is the number of messages whose handler returned (with or
	// without an error) or panicked.
	Handled int64
	// Dropped is the number of received messages never handed to the
	// handler: dropped by the [Policy], or still buffered at Close.
	Dropped int64
	// Gaps is the number of gaps reported (see [Gap]).
	Gaps int64
	// HandlerErrors is the number of errors handlers returned.
	HandlerErrors int64
	// Panics is the number of handler panics recovered.
	Panics int64
	// Buffered is the number of messages waiting for a handler now.
	Buffered int64
	// Subscriptions is the number of open subscriptions ([PubSub.Stats]
	// only).
	Subscriptions int
}

// counters are the atomics behind Stats.
type counters struct {
	received, handled, dropped, gaps, errors, panics, buffered atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Received:      c.received.Load(),
		Handled:       c.handled.Load(),
		Dropped:       c.dropped.Load(),
		Gaps:          c.gaps.Load(),
		HandlerErrors: c.errors.Load(),
		Panics:        c.panics.Load(),
		Buffered:      c.buffered.Load(),
	}
}

// meterName is the instrumentation scope of the package's counters.
const meterName = "github.com/aside-go/aside/pubsub"

// metrics holds the PubSub-wide counts, exported as OpenTelemetry
// observable counters through internal/otelx like every package's.
type metrics struct {
	total counters
	// gaps by reason, for the reason attribute
	gapReconnect, gapUnsubscribed, gapOverflow atomic.Int64
	reg                                        metric.Registration
}

func newMetrics(mp metric.MeterProvider, mode string) (*metrics, error) {
	m := &metrics{}
	t := &m.total
	list := []otelx.Counter{
		{Name: "aside.pubsub.received", Desc: "Messages read from Redis by subscriptions.", V: &t.received},
		{Name: "aside.pubsub.handled", Desc: "Messages whose handler returned or panicked.", V: &t.handled},
		{Name: "aside.pubsub.dropped", Desc: "Received messages never handed to a handler (overflow policy or close).", V: &t.dropped},
		{Name: "aside.pubsub.gaps", Desc: "Gaps in delivery. Attribute reason: reconnect, unsubscribed, overflow.", Attr: attribute.String("reason", GapReconnect.String()), V: &m.gapReconnect},
		{Name: "aside.pubsub.gaps", Attr: attribute.String("reason", GapUnsubscribed.String()), V: &m.gapUnsubscribed},
		{Name: "aside.pubsub.gaps", Attr: attribute.String("reason", GapOverflow.String()), V: &m.gapOverflow},
		{Name: "aside.pubsub.handler_errors", Desc: "Handler errors and panics. Attribute kind: error or panic.", Attr: attribute.String("kind", "error"), V: &t.errors},
		{Name: "aside.pubsub.handler_errors", Attr: attribute.String("kind", "panic"), V: &t.panics},
	}
	var err error
	m.reg, err = otelx.ObserveCounters(otelx.Meter(mp, meterName), attribute.String("aside.pubsub.mode", mode), list)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// gapCount is the per-reason counter of a gap.
func (m *metrics) gapCount(r GapReason) *atomic.Int64 {
	switch r {
	case GapUnsubscribed:
		return &m.gapUnsubscribed
	case GapOverflow:
		return &m.gapOverflow
	}
	return &m.gapReconnect
}

// add increments a subscription counter, the PubSub-wide one and, if
// not nil, the per-attribute one in one go.
func (m *metrics) add(sub, total, extra *atomic.Int64, n int64) {
	sub.Add(n)
	total.Add(n)
	if extra != nil {
		extra.Add(n)
	}
}
