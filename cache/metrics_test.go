package cache

import (
	"context"
	"errors"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/aside-go/aside/internal/redistest"
)

// TestCache_Stats_OTelMatchesStats reads the OpenTelemetry metrics through
// an SDK ManualReader and compares them with Stats.
func TestCache_Stats_OTelMatchesStats(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := context.Background()
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		c := newTestCache(t, tp.Client(t), &Options[user]{Loader: newCountingLoader(0, "a"),
			Local: &LocalOptions{}, MeterProvider: mp})
		for _, k := range []string{"a", "a", "missing", "missing"} {
			if _, err := c.Get(ctx, k); err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
		}
		c.InvalidateLocal("a")
		if _, err := c.Get(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(ctx, &rm); err != nil {
			t.Fatal(err)
		}
		sums := map[string]int64{}
		var loadCount uint64
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				switch d := m.Data.(type) {
				case metricdata.Sum[int64]:
					for _, p := range d.DataPoints {
						name := m.Name
						if tier, ok := p.Attributes.Value("aside.cache.tier"); ok {
							name += "/" + tier.AsString()
						}
						if pf, _ := p.Attributes.Value("aside.cache.prefix"); pf.AsString() != c.Prefix() {
							t.Errorf("%s prefix attribute = %q", name, pf.AsString())
						}
						sums[name] += p.Value
					}
				case metricdata.Histogram[float64]:
					for _, p := range d.DataPoints {
						loadCount += p.Count
					}
				}
			}
		}
		st := c.Stats()
		want := map[string]int64{
			"aside.cache.hits/local":    st.LocalHits,
			"aside.cache.hits/redis":    st.RedisHits,
			"aside.cache.misses":        st.Misses,
			"aside.cache.loads":         st.Loads,
			"aside.cache.negative_hits": st.NegativeHits,
		}
		for name, v := range want {
			if sums[name] != v {
				t.Errorf("%s = %d, Stats says %d", name, sums[name], v)
			}
		}
		if st.LocalHits != 1 || st.RedisHits != 1 || st.Loads != 2 || st.NegativeHits != 1 {
			t.Errorf("stats = %+v, want 1 local hit, 1 Redis hit, 2 loads, 1 negative hit", st)
		}
		if loadCount != uint64(st.Loads) {
			t.Errorf("load duration histogram count = %d, want %d", loadCount, st.Loads)
		}
		if st.LoadP99 <= 0 || c.LoadLatency(0.99) != st.LoadP99 {
			t.Errorf("LoadP99 = %v, LoadLatency(0.99) = %v", st.LoadP99, c.LoadLatency(0.99))
		}
	})
}
