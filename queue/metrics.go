package queue

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/aside-go/aside/internal/otelx"
)

// registerMetrics exports a worker's counters as OpenTelemetry observable
// counters named aside.queue.*, read at collection time (the hot path pays
// nothing for OTel), with the attribute aside.queue.name = "prefix:name".
// The registration ends at Shutdown.
func registerMetrics(mp metric.MeterProvider, queueName string, k *workerCounters) (metric.Registration, error) {
	m := otelx.Meter(mp, "github.com/aside-go/aside/queue")
	base := attribute.String("aside.queue.name", queueName)
	return otelx.ObserveCounters(m, base, []otelx.Counter{
		{Name: "aside.queue.handled", Desc: "Deliveries whose handler returned nil.", V: &k.handled},
		{Name: "aside.queue.failed", Desc: "Deliveries whose handler returned an error or panicked.", V: &k.failed},
		{Name: "aside.queue.retried", Desc: "Failed deliveries scheduled for another delivery.", V: &k.retried},
		{Name: "aside.queue.dead_lettered", Desc: "Failed deliveries sent to the dead-letter list.", V: &k.dead},
		{Name: "aside.queue.acked", Desc: "Acks applied by Redis.", V: &k.acked},
		{Name: "aside.queue.stale", Desc: "Acks or nacks rejected because the message was reclaimed meanwhile.", V: &k.stale},
		{Name: "aside.queue.lost_leases", Desc: "Running deliveries whose heartbeat found them reclaimed.", V: &k.lost},
		{Name: "aside.queue.released", Desc: "Prefetched deliveries returned unstarted at Shutdown.", V: &k.released},
		{Name: "aside.queue.errors", Desc: "Redis errors met by the worker's loops.", V: &k.errors},
	})
}
