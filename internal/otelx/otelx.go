// Package otelx exports aside's in-process counters as OpenTelemetry
// observable counters, read at collection time, so hot paths pay one atomic
// add and nothing for OTel.
package otelx

import (
	"context"
	"go.opentelemetry.io/otel"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Meter returns the meter of scope from mp, or from the global provider
// (otel.GetMeterProvider) when mp is nil: what every package's
// MeterProvider option means by nil.
func Meter(mp metric.MeterProvider, scope string) metric.Meter {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	return mp.Meter(scope)
}

// Counter is one atomic count exported under Name. Several Counters may
// share a Name and tell themselves apart by Attr; the Desc of the first of
// them describes the instrument.
type Counter struct {
	Name string
	Desc string
	Attr attribute.KeyValue // extra attribute; none if Attr.Key is ""
	V    *atomic.Int64
}

// ObserveCounters creates one observable counter per distinct name in list
// and registers a callback that observes every Counter with base (and its
// Attr) as attributes. Unregister the returned registration when done.
func ObserveCounters(m metric.Meter, base attribute.KeyValue, list []Counter) (metric.Registration, error) {
	insts := make(map[string]metric.Int64ObservableCounter, len(list))
	var all []metric.Observable
	for _, c := range list {
		if _, ok := insts[c.Name]; ok {
			continue
		}
		ctr, err := m.Int64ObservableCounter(c.Name, metric.WithDescription(c.Desc))
		if err != nil {
			return nil, err
		}
		insts[c.Name] = ctr
		all = append(all, ctr)
	}
	opts := make([]metric.ObserveOption, len(list))
	for i, c := range list {
		if c.Attr.Key != "" {
			opts[i] = metric.WithAttributeSet(attribute.NewSet(base, c.Attr))
		} else {
			opts[i] = metric.WithAttributeSet(attribute.NewSet(base))
		}
	}
	return m.RegisterCallback(func(_ context.Context, ob metric.Observer) error {
		for i, c := range list {
			ob.ObserveInt64(insts[c.Name], c.V.Load(), opts[i])
		}
		return nil
	}, all...)
}
