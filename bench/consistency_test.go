package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/pgtest"
	"github.com/aside-go/aside/internal/staleness"
	"github.com/redis/go-redis/v9"
)

// BenchmarkConsistencyStaleness_Aside runs the staleness measurement of
// consistency/README.md once per iteration: for each mode, 4 writers update
// 8 PostgreSQL rows (version column +1 per write) and 8 readers read them
// through 2 cache instances (own clients), loads slowed by 0-50 ms, for
// ASIDE_STALENESS_SECONDS (default 2) seconds. It prints the table and
// reports, per mode, stale reads per 1,000 reads and stale entries left.
//
//	cd bench && go test -run '^$' -bench ConsistencyStaleness -benchtime 1x
func BenchmarkConsistencyStaleness_Aside(b *testing.B) {
	pool := pgtest.NewPool(b)
	dur := 2 * time.Second
	if s := os.Getenv("ASIDE_STALENESS_SECONDS"); s != "" {
		if n, err := time.ParseDuration(s + "s"); err == nil {
			dur = n
		}
	}
	type run struct {
		name     string
		scenario staleness.Scenario
		l1       time.Duration
		tracked  bool
	}
	// The follower of the change log needs wal_level=logical: its run
	// uses the bench's private PostgreSQL (see pgcdc_test.go).
	followerURL, followerPool := logicalDB(b)
	runs := []run{
		{"none", staleness.NoInvalidation, 0, false},
		{"daw", staleness.DeleteAfterWrite, 0, false},
		{"double", staleness.DoubleDelete, 0, false},
		{"strong", staleness.Strong, 0, false},
		{"strong-l1", staleness.Strong, 500 * time.Millisecond, false},
		{"strong-l1-tracked", staleness.Strong, 500 * time.Millisecond, true},
		{"follower", staleness.External, 0, false},
		{"follower-l1-tracked", staleness.External, 500 * time.Millisecond, true},
	}
	var last []staleness.Result
	stale := make([]float64, len(runs))
	left := make([]float64, len(runs))
	for range b.N {
		last = last[:0]
		for i, r := range runs {
			cfg := staleness.Config{
				DB:         pool,
				Clients:    []redis.UniversalClient{client(b), client(b)},
				Prefix:     prefix(b),
				Scenario:   r.scenario,
				L1TTL:      r.l1,
				L1Tracking: r.tracked,
				Window:     r.l1 + 100*time.Millisecond,
				Duration:   dur,
			}
			if r.scenario == staleness.External {
				cfg.DB = followerPool
				cfg.Invalidation = followerInvalidation(b, followerURL, cfg.Clients[0], cfg.Prefix)
			}
			res, err := staleness.Run(context.Background(), cfg)
			if err != nil {
				b.Fatalf("%s: %v", r.name, err)
			}
			last = append(last, res)
			stale[i] += 1000 * float64(res.StaleReads) / float64(max(res.Reads, 1))
			left[i] += float64(res.StaleEntries)
		}
	}
	for i, r := range runs {
		b.ReportMetric(stale[i]/float64(b.N), "stale/1k-reads-"+r.name)
		b.ReportMetric(left[i]/float64(b.N), "stale-left-"+r.name)
	}
	fmt.Printf("\nconsistency staleness, %v per mode, 4 writers, 8 readers, 8 rows, 2 instances, loads +0-50ms:\n%s\n", dur, staleness.Table(last))
}
