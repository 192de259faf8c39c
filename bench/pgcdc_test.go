package bench

// The change-log follower (consistency/pgcdc): how many invalidations per
// second it sustains draining a backlog, and its lag (commit to
// invalidation) under a steady write load. PostgreSQL is a private
// instance with wal_level=logical (internal/pgtest), Redis the bench's
// server; the invalidator is a consistency.Keeper in Strong mode over a
// cache with versioned fills, as the package's README sets it up.

import (
	"context"
	"crypto/rand"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/cache"
	"github.com/aside-go/aside/consistency"
	"github.com/aside-go/aside/consistency/pgcdc"
	"github.com/aside-go/aside/internal/pgtest"
	"github.com/aside-go/aside/internal/staleness"
)

var (
	logicalOnce sync.Once
	logicalPG   *pgtest.Server
	logicalErr  error
)

// logicalDB creates a database on the bench's private logical-replication
// server (started once) and returns its URL and a pool.
func logicalDB(b testing.TB) (string, *pgxpool.Pool) {
	b.Helper()
	logicalOnce.Do(func() { logicalPG, logicalErr = pgtest.NewLogical() })
	if logicalErr != nil {
		b.Fatal(logicalErr)
	}
	name := "b_" + strings.ToLower(rand.Text()[:12])
	if err := logicalPG.CreateDatabase(context.Background(), name); err != nil {
		b.Fatal(err)
	}
	url := logicalPG.URL(name)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return url, pool
}

// newSlot sets up a slot and publication on url for table, mapping a row
// to key(id); they are dropped at cleanup.
func newSlot(b testing.TB, url, table string, key func(int) string) *pgcdc.Options {
	b.Helper()
	slot := "s_" + strings.ToLower(rand.Text()[:10])
	opt := &pgcdc.Options{Slot: slot, Publication: slot, Tables: []string{table},
		StatusInterval: 200 * time.Millisecond, RetryInterval: 200 * time.Millisecond,
		Mapper: func(c pgcdc.Change) []string {
			for _, r := range []map[string]string{c.New, c.Old} {
				if id, err := strconv.Atoi(r["id"]); err == nil {
					return []string{key(id)}
				}
			}
			return nil
		}}
	if err := pgcdc.Setup(context.Background(), url, opt); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for range 50 { // a follower may hold the slot a moment after it stopped
			if pgcdc.Drop(context.Background(), url, opt) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return opt
}

// runFollower runs a follower of opt's slot that invalidates through a
// Strong keeper over a cache with versioned fills on rdb; stop ends it
// (also at cleanup, before the slot is dropped).
func runFollower(b testing.TB, url string, rdb redis.UniversalClient, cachePrefix string, opt *pgcdc.Options) (*pgcdc.Follower, func()) {
	b.Helper()
	c, err := cache.New(rdb, &cache.Options[int64]{Prefix: cachePrefix, VersionedFills: true})
	if err != nil {
		b.Fatal(err)
	}
	k, err := consistency.New(rdb, c, &consistency.Options{Mode: consistency.Strong})
	if err != nil {
		b.Fatal(err)
	}
	f, err := pgcdc.NewFollower(url, k, opt)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() { cancel(); <-done; _ = f.Close(); _ = k.Close(); _ = c.Close() })
	}
	b.Cleanup(stop)
	return f, stop
}

func createRows(b testing.TB, pool *pgxpool.Pool, table string, n int) {
	b.Helper()
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE TABLE "+table+" (id int PRIMARY KEY, version bigint NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "INSERT INTO "+table+" SELECT g, 1 FROM generate_series(0, $1) g", n-1); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPgcdc_Drain: b.N one-row update transactions are committed
// while no follower runs; then a follower starts and the time until it has
// invalidated all of them is measured: invalidations per second it
// sustains (each transaction is one key, one Keeper.Invalidate).
func BenchmarkPgcdc_Drain(b *testing.B) {
	url, pool := logicalDB(b)
	createRows(b, pool, "items", 1000)
	ctx := context.Background()
	opt := newSlot(b, url, "items", func(id int) string { return "item:" + strconv.Itoa(id) })
	writeRows(b, pool, 8, b.N)
	b.ResetTimer()
	f, stop := runFollower(b, url, client(b), prefix(b), opt)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := pgcdc.WaitCaughtUp(wctx, url, opt); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	st := f.Stats()
	stop()
	if st.Transactions < int64(b.N) {
		b.Fatalf("applied %d of %d transactions", st.Transactions, b.N)
	}
	b.ReportMetric(float64(st.Invalidated)/b.Elapsed().Seconds(), "invalidations/s")
}

// writeRows commits n one-row update transactions of table items from
// writers goroutines.
func writeRows(b testing.TB, pool *pgxpool.Pool, writers, n int) {
	var wg sync.WaitGroup
	var next atomic.Int64
	for range writers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if _, err := pool.Exec(context.Background(), "UPDATE items SET version = version + 1 WHERE id = $1", mrand.N(1000)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkPgcdc_Live: 4 writers commit one-row updates for the run
// while the follower applies them; it reports the commit rate and the lag
// from commit to invalidation (p50, p99 of the last 1,024 transactions).
func BenchmarkPgcdc_Live(b *testing.B) {
	url, pool := logicalDB(b)
	createRows(b, pool, "items", 1000)
	ctx := context.Background()
	opt := newSlot(b, url, "items", func(id int) string { return "item:" + strconv.Itoa(id) })
	f, _ := runFollower(b, url, client(b), prefix(b), opt)
	for !f.Stats().Active {
		time.Sleep(10 * time.Millisecond)
	}
	b.ResetTimer()
	writeRows(b, pool, 4, b.N)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := pgcdc.WaitCaughtUp(wctx, url, opt); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	st := f.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	b.ReportMetric(float64(st.LagP50)/float64(time.Millisecond), "lag-p50-ms")
	b.ReportMetric(float64(st.LagP99)/float64(time.Millisecond), "lag-p99-ms")
}

// followerInvalidation is the staleness checker's External invalidation:
// a pgcdc follower on the run's table.
func followerInvalidation(b testing.TB, url string, rdb redis.UniversalClient, cachePrefix string) staleness.Invalidation {
	return func(ctx context.Context, table string, key func(int) string) (func(context.Context) error, func(), error) {
		opt := newSlot(b, url, table, key)
		_, stop := runFollower(b, url, rdb, cachePrefix, opt)
		return func(ctx context.Context) error { return pgcdc.WaitCaughtUp(ctx, url, opt) }, stop, nil
	}
}
