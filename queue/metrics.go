package queue

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// registerMetrics exports a worker's counters as OpenTelemetry observable
// counters named aside.queue.*, read at collection time (the hot path pays
// nothing for OTel), with the attribute aside.queue.name = "prefix:name".
// The registration ends at Shutdown.
func registerMetrics(mp metric.MeterProvider, queueName string, k *workerCounters) (metric.Registration, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter("github.com/aside-go/aside/queue")
	list := []struct {
		name, desc string
		v          *atomic.Uint64
	}{
		{"aside.queue.handled", "Deliveries whose handler returned nil.", &k.handled},
		{"aside.queue.failed", "Deliveries whose handler returned an error or panicked.", &k.failed},
		{"aside.queue.retried", "Failed deliveries scheduled for another delivery.", &k.retried},
		{"aside.queue.dead_lettered", "Failed deliveries sent to the dead-letter list.", &k.dead},
		{"aside.queue.acked", "Acks applied by Redis.", &k.acked},
		{"aside.queue.stale", "Acks or nacks rejected because the message was reclaimed meanwhile.", &k.stale},
		{"aside.queue.lost_leases", "Running deliveries whose heartbeat found them reclaimed.", &k.lost},
		{"aside.queue.errors", "Redis errors met by the worker's loops.", &k.errors},
	}
	insts := make([]metric.Int64ObservableCounter, len(list))
	all := make([]metric.Observable, len(list))
	for i, o := range list {
		c, err := m.Int64ObservableCounter(o.name, metric.WithDescription(o.desc))
		if err != nil {
			return nil, err
		}
		insts[i], all[i] = c, c
	}
	attrs := metric.WithAttributeSet(attribute.NewSet(attribute.String("aside.queue.name", queueName)))
	return m.RegisterCallback(func(_ context.Context, ob metric.Observer) error {
		for i, o := range list {
			ob.ObserveInt64(insts[i], int64(o.v.Load()), attrs)
		}
		return nil
	}, all...)
}
