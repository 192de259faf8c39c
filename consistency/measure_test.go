package consistency_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/pgtest"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/internal/staleness"
	"github.com/redis/go-redis/v9"
)

// TestStaleness_Modes is the measurement of README.md: 4 writers and 8
// readers on 8 PostgreSQL rows through 2 cache instances, loads slowed by
// 0-50 ms, 2 s per mode. It asserts what the strong mode guarantees (no
// stale entry left, no stale read beyond its window) and that every weak
// mode was measured (reads and writes happened); the weak modes' stale
// counts vary from run to run and may be 0 by chance.
func TestStaleness_Modes(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	type run struct {
		scenario staleness.Scenario
		l1       time.Duration
		tracked  bool // L1 kept right by Redis' tracking messages
		window   time.Duration
		tp       *redistest.Topology
	}
	runs := []run{
		{scenario: staleness.NoInvalidation},
		{scenario: staleness.DeleteAfterWrite},
		{scenario: staleness.DoubleDelete},
		{scenario: staleness.Strong, window: strongWindow},
		{scenario: staleness.Strong, l1: 500 * time.Millisecond, window: 500*time.Millisecond + strongWindow},
		// A tracked L1 drops an entry when Redis reports its key changed:
		// the window is the strong mode's, not the L1 TTL.
		{scenario: staleness.Strong, l1: 500 * time.Millisecond, tracked: true, window: strongWindow},
	}
	for i := range runs {
		runs[i].tp = redistest.Standalone
	}
	for _, tp := range redistest.Topologies() {
		if tp.IsCluster() {
			// The strong mode's scripts on a 3-master Cluster, and its
			// tracked L1 (tracking per node).
			runs = append(runs, run{scenario: staleness.Strong, window: strongWindow, tp: tp},
				run{scenario: staleness.Strong, l1: 500 * time.Millisecond, tracked: true, window: strongWindow, tp: tp})
		}
	}
	var results []staleness.Result
	for _, r := range runs {
		res, err := staleness.Run(context.Background(), staleness.Config{
			DB:         pool,
			Clients:    []redis.UniversalClient{r.tp.Client(t), r.tp.Client(t)},
			Prefix:     redistest.Prefix(t),
			Scenario:   r.scenario,
			L1TTL:      r.l1,
			L1Tracking: r.tracked,
			Window:     r.window,
			Label:      map[bool]string{true: "Cluster"}[r.tp.IsCluster()],
			Duration:   2 * time.Second,
		})
		if err != nil {
			t.Fatalf("%v on %s: %v", r.scenario, r.tp.Name, err)
		}
		results = append(results, res)
		if res.Reads == 0 || res.Writes == 0 {
			t.Errorf("%v: %d reads, %d writes: nothing measured", r.scenario, res.Reads, res.Writes)
		}
		if r.scenario == staleness.Strong {
			if res.StaleEntries != 0 {
				t.Errorf("strong mode (L1 %v, tracked %v) left %d stale entries, want 0", r.l1, r.tracked, res.StaleEntries)
			}
			if res.BeyondWindow != 0 {
				t.Errorf("strong mode (L1 %v, tracked %v): %d stale reads beyond its window %v (max age %v)", r.l1, r.tracked, res.BeyondWindow, res.Window, res.MaxStaleAge)
			}
		}
	}
	t.Logf("\n%s", staleness.Table(results))
	if os.Getenv("ASIDE_STALENESS_TABLE") != "" {
		if err := os.WriteFile(os.Getenv("ASIDE_STALENESS_TABLE"), []byte(staleness.Table(results)), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// strongWindow is the strong mode's window without L1: a read on another
// instance may still join a load that began before the write, until the
// invalidation message reaches that instance (sub-millisecond on loopback;
// allowed 250 ms for a loaded CI machine under -race). With L1 the window
// is the L1 TTL on top of it.
const strongWindow = 250 * time.Millisecond
