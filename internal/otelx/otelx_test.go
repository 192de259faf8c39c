package otelx_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/aside-go/aside/internal/otelx"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestObserveCounters(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	var hitsA, hitsB, misses atomic.Int64
	reg, err := otelx.ObserveCounters(mp.Meter("test"), attribute.String("p", "x"), []otelx.Counter{
		{Name: "hits", Desc: "hits by tier", Attr: attribute.String("tier", "a"), V: &hitsA},
		{Name: "hits", Attr: attribute.String("tier", "b"), V: &hitsB},
		{Name: "misses", Desc: "misses", V: &misses},
	})
	if err != nil {
		t.Fatal(err)
	}
	hitsA.Add(2)
	hitsB.Add(3)
	misses.Add(5)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				t.Fatalf("%s: data %T, want Sum[int64]", m.Name, m.Data)
			}
			for _, dp := range sum.DataPoints {
				if v, _ := dp.Attributes.Value("p"); v.AsString() != "x" {
					t.Errorf("%s: base attribute missing: %v", m.Name, dp.Attributes)
				}
				tier, _ := dp.Attributes.Value("tier")
				got[m.Name+"/"+tier.AsString()] = dp.Value
			}
		}
	}
	want := map[string]int64{"hits/a": 2, "hits/b": 3, "misses/": 5}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if err := reg.Unregister(); err != nil {
		t.Error(err)
	}
}
