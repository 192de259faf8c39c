package pubsub

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
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

// metrics holds the OpenTelemetry counters and the PubSub-wide Stats.
type metrics struct {
	total counters

	received, handled, dropped, gaps, errors metric.Int64Counter
}

func newMetrics(mp metric.MeterProvider) (*metrics, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(meterName)
	m := &metrics{}
	var err error
	for _, c := range []struct {
		dst        *metric.Int64Counter
		name, desc string
	}{
		{&m.received, "aside.pubsub.received", "Messages read from Redis by subscriptions."},
		{&m.handled, "aside.pubsub.handled", "Messages whose handler returned or panicked."},
		{&m.dropped, "aside.pubsub.dropped", "Received messages never handed to a handler (overflow policy or close)."},
		{&m.gaps, "aside.pubsub.gaps", "Gaps in delivery: reconnects, dropped subscriptions, overflows. Attribute reason."},
		{&m.errors, "aside.pubsub.handler.errors", "Handler errors and panics. Attribute kind: error or panic."},
	} {
		if *c.dst, err = meter.Int64Counter(c.name, metric.WithDescription(c.desc), metric.WithUnit("{message}")); err != nil {
			return nil, err
		}
	}
	return m, nil
}

var (
	attrsReconnect    = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", GapReconnect.String())))
	attrsUnsubscribed = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", GapUnsubscribed.String())))
	attrsOverflow     = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", GapOverflow.String())))
	attrsError        = metric.WithAttributeSet(attribute.NewSet(attribute.String("kind", "error")))
	attrsPanic        = metric.WithAttributeSet(attribute.NewSet(attribute.String("kind", "panic")))
)

func gapAttrs(r GapReason) metric.AddOption {
	switch r {
	case GapUnsubscribed:
		return attrsUnsubscribed
	case GapOverflow:
		return attrsOverflow
	}
	return attrsReconnect
}

// add increments a subscription counter, the PubSub-wide one and the OTel
// counter in one go.
func (m *metrics) add(sub, total *atomic.Int64, c metric.Int64Counter, n int64, opts ...metric.AddOption) {
	sub.Add(n)
	total.Add(n)
	if c != nil {
		c.Add(context.Background(), n, opts...)
	}
}
