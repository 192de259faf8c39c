package staleness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aside-go/aside/cache"
	"github.com/aside-go/aside/consistency"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Scenario is the way writes invalidate the cache.
type Scenario int

const (
	// NoInvalidation only writes the database: the cache is left to its TTL.
	NoInvalidation Scenario = iota
	// DeleteAfterWrite is [consistency.DeleteAfterWrite].
	DeleteAfterWrite
	// DoubleDelete is [consistency.DoubleDelete].
	DoubleDelete
	// Strong is [consistency.Strong] on caches with versioned fills.
	Strong
	// External only writes the database; [Config.Invalidation] (a
	// follower of the database's change log) invalidates, on caches with
	// versioned fills.
	External
)

// Scenarios lists every scenario, weakest first.
var Scenarios = []Scenario{NoInvalidation, DeleteAfterWrite, DoubleDelete, Strong}

// Invalidation starts the invalidation of an [External] run: table is the
// run's table (id int primary key, version bigint) and key the cache key
// of a row. It returns caughtUp, which blocks until every write committed
// so far is invalidated, and stop.
type Invalidation func(ctx context.Context, table string, key func(id int) string) (caughtUp func(context.Context) error, stop func(), err error)

// String returns the scenario's name as in the README table.
func (s Scenario) String() string {
	switch s {
	case NoInvalidation:
		return "no invalidation"
	case DeleteAfterWrite:
		return "delete after write"
	case DoubleDelete:
		return "delayed double delete"
	case Strong:
		return "strong (versioned fills)"
	case External:
		return "change-log follower (versioned fills)"
	}
	return "Scenario(" + strconv.Itoa(int(s)) + ")"
}

// Config describes one run.
type Config struct {
	// DB is a pool on a database the run may create a table in.
	DB *pgxpool.Pool
	// Clients are the Redis clients of the cache instances, one each; at
	// least 2.
	Clients []redis.UniversalClient
	// Prefix is the cache prefix; unique to the run.
	Prefix string
	// Scenario is the invalidation under test.
	Scenario Scenario
	// L1TTL turns the caches' L1 tier on with this TTL. Zero: no L1.
	L1TTL time.Duration
	// L1Tracking keeps the L1 tier right through Redis' own invalidation
	// messages (cache.LocalOptions.Tracking).
	L1Tracking bool
	// Rows, Writers and Readers size the run. If zero: 8 rows, 4 writers,
	// 8 readers.
	Rows, Writers, Readers int
	// Duration is how long writers and readers run. If zero, 2 seconds.
	Duration time.Duration
	// MaxLoadDelay is the upper bound of the random delay added to every
	// load after it read the row. If zero, 50 ms.
	MaxLoadDelay time.Duration
	// MaxWritePause is the upper bound of the random pause between two
	// writes of one writer. If zero, 20 ms.
	MaxWritePause time.Duration
	// Delay is the double delete's delay. If zero, the Keeper's default
	// (from the caches' load latency).
	Delay time.Duration
	// Window is the staleness a read may have without counting as "beyond
	// the window". If zero, L1TTL.
	Window time.Duration
	// Label is shown after the mode in the table (e.g. "Cluster").
	Label string
	// Invalidation is the invalidation of an [External] run.
	Invalidation Invalidation
}

// Result is what one run measured.
type Result struct {
	Scenario   Scenario
	Label      string
	L1TTL      time.Duration
	L1Tracking bool
	Writes     int // writes completed (including their invalidation)
	Reads      int // reads completed
	// StaleReads counts reads that returned a version older than one whose
	// write had completed before the read began.
	StaleReads int
	// MaxStaleAge is the longest time between the completion of the write a
	// stale read missed and the start of that read.
	MaxStaleAge time.Duration
	// Window is the allowed staleness, and BeyondWindow the stale reads
	// older than it.
	Window       time.Duration
	BeyondWindow int
	// StaleEntries counts rows whose value in Redis was older than the
	// table's after the run and Settle.
	StaleEntries int
	// Settle is how long the run waited before comparing Redis with the
	// table (double delete delay, poll interval, L1 TTL).
	Settle time.Duration
	// Delay is the double delete delay used.
	Delay time.Duration
}

// completion is one write, completed at t with version v.
type completion struct {
	t time.Time
	v int64
}

// read is one read of a row, begun at start, that returned v.
type read struct {
	start time.Time
	v     int64
}

// recorder collects completions and reads per row.
type recorder struct {
	mu    sync.Mutex // guards done and reads
	done  [][]completion
	reads [][]read
}

func (r *recorder) write(row int, v int64, t time.Time) {
	r.mu.Lock()
	r.done[row] = append(r.done[row], completion{t, v})
	r.mu.Unlock()
}

func (r *recorder) read(row int, v int64, start time.Time) {
	r.mu.Lock()
	r.reads[row] = append(r.reads[row], read{start, v})
	r.mu.Unlock()
}

// check counts stale reads: for each read, the earliest completion before
// it of a version newer than what it returned.
func (r *recorder) check(window time.Duration) (n, beyond int, maxAge time.Duration) {
	for row, rs := range r.reads {
		done := r.done[row]
		for _, rd := range rs {
			var first time.Time
			for _, c := range done {
				if c.v > rd.v && c.t.Before(rd.start) && (first.IsZero() || c.t.Before(first)) {
					first = c.t
				}
			}
			if first.IsZero() {
				continue
			}
			n++
			age := rd.start.Sub(first)
			maxAge = max(maxAge, age)
			if age > window {
				beyond++
			}
		}
	}
	return n, beyond, maxAge
}

// instance is one "process": a cache and its keeper.
type instance struct {
	c *cache.Cache[int64]
	k *consistency.Keeper // nil for NoInvalidation
}

// errAbsent is the probe's loader answer: nothing cached.
var errAbsent = errors.New("staleness: not cached")

// Run performs one measurement. It creates a table (dropped at the end),
// the cache instances and their keepers, runs writers and readers for
// cfg.Duration, waits for the invalidations to settle and compares.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.DB == nil || len(cfg.Clients) < 2 || cfg.Prefix == "" {
		return Result{}, errors.New("staleness: need DB, a Prefix and at least 2 clients")
	}
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&cfg.Rows, 8)
	def(&cfg.Writers, 4)
	def(&cfg.Readers, 8)
	if cfg.Duration == 0 {
		cfg.Duration = 2 * time.Second
	}
	if cfg.MaxLoadDelay == 0 {
		cfg.MaxLoadDelay = 50 * time.Millisecond
	}
	if cfg.MaxWritePause == 0 {
		cfg.MaxWritePause = 20 * time.Millisecond
	}
	if cfg.Window == 0 {
		cfg.Window = cfg.L1TTL
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	table := "staleness_" + hex.EncodeToString(b[:])
	if _, err := cfg.DB.Exec(ctx, "CREATE TABLE "+table+" (id int PRIMARY KEY, version bigint NOT NULL)"); err != nil {
		return Result{}, fmt.Errorf("staleness: create table: %w", err)
	}
	defer cfg.DB.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+table)
	if _, err := cfg.DB.Exec(ctx, "INSERT INTO "+table+" SELECT g, 1 FROM generate_series(0, $1) g", cfg.Rows-1); err != nil {
		return Result{}, fmt.Errorf("staleness: fill table: %w", err)
	}

	loader := cache.LoaderFunc[int64](func(ctx context.Context, key string) (int64, error) {
		id, _ := strconv.Atoi(strings.TrimPrefix(key, "row:"))
		var v int64
		if err := cfg.DB.QueryRow(ctx, "SELECT version FROM "+table+" WHERE id = $1", id).Scan(&v); err != nil {
			return 0, err
		}
		// The row is read; the fill lands up to MaxLoadDelay later.
		t := time.NewTimer(mrand.N(cfg.MaxLoadDelay + 1))
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		return v, nil
	})
	var insts []instance
	defer func() {
		for _, in := range insts {
			if in.k != nil {
				_ = in.k.Close()
			}
			_ = in.c.Close()
		}
	}()
	for _, rdb := range cfg.Clients {
		copt := &cache.Options[int64]{Prefix: cfg.Prefix, TTL: time.Minute, Loader: loader,
			VersionedFills: cfg.Scenario == Strong || cfg.Scenario == External}
		if cfg.L1TTL > 0 {
			copt.Local = &cache.LocalOptions{TTL: cfg.L1TTL, Tracking: cfg.L1Tracking}
		}
		c, err := cache.New(rdb, copt)
		if err != nil {
			return Result{}, err
		}
		in := instance{c: c}
		insts = append(insts, in)
		if cfg.Scenario == NoInvalidation || cfg.Scenario == External {
			continue
		}
		mode := map[Scenario]consistency.Mode{DeleteAfterWrite: consistency.DeleteAfterWrite,
			DoubleDelete: consistency.DoubleDelete, Strong: consistency.Strong}[cfg.Scenario]
		k, err := consistency.New(rdb, c, &consistency.Options{Mode: mode, Delay: cfg.Delay,
			PollInterval: 100 * time.Millisecond})
		if err != nil {
			return Result{}, err
		}
		insts[len(insts)-1].k = k
	}

	rec := &recorder{done: make([][]completion, cfg.Rows), reads: make([][]read, cfg.Rows)}
	key := func(row int) string { return "row:" + strconv.Itoa(row) }
	caughtUp := func(context.Context) error { return nil }
	if cfg.Scenario == External {
		if cfg.Invalidation == nil {
			return Result{}, errors.New("staleness: an External run needs Config.Invalidation")
		}
		cu, stop, err := cfg.Invalidation(ctx, table, key)
		if err != nil {
			return Result{}, fmt.Errorf("staleness: start the invalidation: %w", err)
		}
		defer stop()
		caughtUp = cu
	}
	rctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	fail := func(err error) {
		if err == nil || rctx.Err() != nil {
			return
		}
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
		cancel()
	}
	for range cfg.Writers {
		wg.Go(func() {
			for rctx.Err() == nil {
				row, in := mrand.N(cfg.Rows), insts[mrand.N(len(insts))]
				var v int64
				update := func(ctx context.Context) error {
					return cfg.DB.QueryRow(ctx, "UPDATE "+table+" SET version = version + 1 WHERE id = $1 RETURNING version", row).Scan(&v)
				}
				// The write itself runs to its end (ctx, not rctx): a write
				// cut off after its commit would be missing from the record.
				var err error
				if in.k == nil {
					err = update(ctx)
				} else {
					err = in.k.Write(ctx, update, key(row))
				}
				if err != nil {
					fail(fmt.Errorf("staleness: write: %w", err))
					return
				}
				rec.write(row, v, time.Now())
				sleep(rctx, mrand.N(cfg.MaxWritePause+1))
			}
		})
	}
	for range cfg.Readers {
		wg.Go(func() {
			for rctx.Err() == nil {
				row, in := mrand.N(cfg.Rows), insts[mrand.N(len(insts))]
				start := time.Now()
				v, err := in.c.Get(rctx, key(row))
				if err != nil {
					fail(fmt.Errorf("staleness: read: %w", err))
					return
				}
				rec.read(row, v, start)
				sleep(rctx, mrand.N(time.Millisecond+1))
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return Result{}, firstErr
	}

	res := Result{Scenario: cfg.Scenario, Label: cfg.Label, L1TTL: cfg.L1TTL, L1Tracking: cfg.L1Tracking, Window: cfg.Window}
	for _, in := range insts {
		if in.k != nil {
			res.Delay = max(res.Delay, in.k.Delay())
		}
	}
	// Let the second deletes run (delay + poll + claim), an external
	// invalidation catch up, and L1 entries expire.
	settleStart := time.Now()
	if err := caughtUp(ctx); err != nil {
		return Result{}, fmt.Errorf("staleness: wait for the invalidation: %w", err)
	}
	sleep(ctx, max(res.Delay+300*time.Millisecond, cfg.L1TTL)+200*time.Millisecond)
	res.Settle = time.Since(settleStart).Round(time.Millisecond)

	for _, ds := range rec.done {
		res.Writes += len(ds)
	}
	for _, rs := range rec.reads {
		res.Reads += len(rs)
	}
	res.StaleReads, res.BeyondWindow, res.MaxStaleAge = rec.check(cfg.Window)
	res.StaleEntries, firstErr = staleEntries(ctx, cfg, table, key)
	return res, firstErr
}

// staleEntries compares every row's value in Redis with the table through a
// probe cache with no L1 and a loader that loads nothing.
func staleEntries(ctx context.Context, cfg Config, table string, key func(int) string) (int, error) {
	probe, err := cache.New(cfg.Clients[0], &cache.Options[int64]{Prefix: cfg.Prefix, NegativeTTL: -1,
		VersionedFills: cfg.Scenario == Strong || cfg.Scenario == External})
	if err != nil {
		return 0, err
	}
	defer probe.Close()
	absent := cache.LoaderFunc[int64](func(context.Context, string) (int64, error) { return 0, errAbsent })
	n := 0
	for row := range cfg.Rows {
		var want int64
		if err := cfg.DB.QueryRow(ctx, "SELECT version FROM "+table+" WHERE id = $1", row).Scan(&want); err != nil {
			return 0, err
		}
		got, err := probe.GetWith(ctx, key(row), absent)
		switch {
		case errors.Is(err, errAbsent):
		case err != nil:
			return 0, err
		case got < want:
			n++
		}
	}
	return n, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Table formats results as a Markdown table.
func Table(rs []Result) string {
	var b strings.Builder
	b.WriteString("| mode | L1 | writes | reads | stale reads | max stale age | beyond window | stale entries left |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		l1 := "off"
		if r.L1TTL > 0 {
			l1 = r.L1TTL.String()
			if r.L1Tracking {
				l1 += ", tracked"
			}
		}
		mode := r.Scenario.String()
		if r.Label != "" {
			mode += ", " + r.Label
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d (%.2f%%) | %v | %d (window %v) | %d |\n",
			mode, l1, r.Writes, r.Reads, r.StaleReads, pct(r.StaleReads, r.Reads),
			r.MaxStaleAge.Round(time.Millisecond), r.BeyondWindow, r.Window, r.StaleEntries)
	}
	return b.String()
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
