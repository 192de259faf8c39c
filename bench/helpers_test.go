package bench

import (
	"slices"
	"time"
)

// durPercentile returns the p-th percentile (0 < p <= 100) of ds by the
// nearest-rank method; ds is sorted in place. It returns 0 for no samples.
func durPercentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(float64(len(ds))*p/100+0.999999) - 1 // ceil(n*p/100) - 1
	rank = max(0, min(rank, len(ds)-1))
	return ds[rank]
}

// durMs converts d to float milliseconds for b.ReportMetric(v, "p99-ms").
func durMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
