// Package otelxtest reads OpenTelemetry counters back in tests. Nothing
// outside tests imports it.
package otelxtest

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// NewProvider returns a meter provider whose counters reader reads back,
// shut down at tb's cleanup.
func NewProvider(tb testing.TB) (*sdkmetric.ManualReader, *sdkmetric.MeterProvider) {
	tb.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tb.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return reader, mp
}

// Sums collects reader and returns every int64 sum by metric name, adding
// up its data points. With attr set, a data point that carries attr is
// counted under "name/value" instead.
func Sums(tb testing.TB, reader sdkmetric.Reader, attr string) map[string]int64 {
	tb.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		tb.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				continue
			}
			for _, dp := range sum.DataPoints {
				key := m.Name
				if attr != "" {
					if v, ok := dp.Attributes.Value(attribute.Key(attr)); ok {
						key += "/" + v.AsString()
					}
				}
				got[key] += dp.Value
			}
		}
	}
	return got
}
