package pgcdc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/aside-go/aside/internal/backoff"
	"github.com/aside-go/aside/internal/otelx"
	"github.com/aside-go/aside/internal/quantile"
	"github.com/aside-go/aside/internal/validate"
)

// Follower applies a database's committed changes to caches. Make one
// with [NewFollower] and call [Follower.Run]; run one per process, any
// number per fleet (one streams, the others wait). Its methods are safe
// for concurrent use.
type Follower struct {
	conn string
	inv  Invalidator
	opt  Options
	// open makes the source; tests replace it.
	open func(ctx context.Context) (Source, error)

	ctr       counters
	metrics   metric.Registration
	closeOnce sync.Once
	running   atomic.Bool
}

// Stats are a follower's counts since [NewFollower].
type Stats struct {
	Transactions int64 // transactions applied
	Changes      int64 // row changes seen
	Invalidated  int64 // keys invalidated (after dedupe within a batch of transactions)
	Retries      int64 // invalidations retried (Redis failing)
	Reconnects   int64 // replication connections made after the first
	Waits        int64 // times the slot was busy with another follower
	Errors       int64 // errors passed to OnError
	Active       bool  // streaming from the slot now
	// LastLag is the time from the last applied transaction's commit to
	// the end of its invalidation (commit -> invalidated), on the
	// database's and this process's clocks; LagP50 and LagP99 are over
	// the latest 1,024 transactions.
	LastLag, LagP50, LagP99 time.Duration
	// RetainedWAL is the WAL the slot retains on the server, in bytes, as
	// of the last check.
	RetainedWAL int64
}

type counters struct {
	transactions, changes, invalidated, retries, reconnects, waits, errors atomic.Int64
	active                                                                 atomic.Bool
	lagNs, retainedWAL                                                     atomic.Int64
	lags                                                                   quantile.Window
}

// NewFollower returns a follower of the slot and publication of opt, on
// the server at connString (an ordinary connection string; the follower
// adds replication=database), that invalidates through inv. It does no
// I/O: call [Setup] once to create the slot and publication.
func NewFollower(connString string, inv Invalidator, opt *Options) (*Follower, error) {
	o, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	switch {
	case validate.Nil(inv):
		return nil, fmt.Errorf("%w: nil Invalidator", ErrInvalidOptions)
	case o.Mapper == nil:
		return nil, fmt.Errorf("%w: nil Mapper", ErrInvalidOptions)
	case connString == "":
		return nil, fmt.Errorf("%w: empty connection string", ErrInvalidOptions)
	}
	f := &Follower{conn: connString, inv: inv, opt: o}
	f.open = func(ctx context.Context) (Source, error) {
		return openPostgres(ctx, f.conn, f.opt.Slot, f.opt.Publication, f.opt.StatusInterval)
	}
	if f.metrics, err = f.registerMetrics(); err != nil {
		return nil, fmt.Errorf("pgcdc: metrics: %w", err)
	}
	return f, nil
}

// Run follows the log until ctx ends, then returns nil. It reconnects
// after errors and waits while another follower streams from the slot.
// Invalidations that fail are retried, with backoff, without moving the
// slot past their transaction; if the process dies meanwhile, the next
// follower applies them again. Run returns an error only if called while
// already running.
func (f *Follower) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return errors.New("pgcdc: Run called twice")
	}
	defer f.running.Store(false)
	if f.opt.WALCheckInterval > 0 {
		done := make(chan struct{})
		defer close(done)
		go f.watchWAL(ctx, done)
	}
	wait := backoff.Backoff{Min: f.opt.RetryInterval / 4, Max: f.opt.RetryInterval}
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			f.ctr.reconnects.Add(1)
		}
		src, err := f.open(ctx)
		if err != nil {
			if errors.Is(err, ErrSlotActive) {
				f.ctr.waits.Add(1)
				sleep(ctx, f.opt.RetryInterval)
				continue
			}
			f.report(err)
			sleep(ctx, wait.Next())
			continue
		}
		f.ctr.active.Store(true)
		err = f.follow(ctx, src)
		f.ctr.active.Store(false)
		_ = src.Close(context.Background())
		if ctx.Err() != nil {
			return nil
		}
		f.report(err)
		sleep(ctx, wait.Next())
	}
	return nil
}

// maxBatch bounds how many transactions one invalidation carries.
const maxBatch = 256

// follow applies transactions from src until an error or ctx ends. It
// takes what has already arrived as one batch (up to maxBatch), so that a
// busy database costs one invalidation per batch instead of one per
// transaction; each transaction is done (its progress confirmed) only
// after the batch's invalidation.
func (f *Follower) follow(ctx context.Context, src Source) error {
	batch := make([]*Tx, 0, maxBatch)
	for {
		tx, err := src.Next(ctx)
		if err != nil {
			return err
		}
		batch = append(batch[:0], tx)
		for len(batch) < maxBatch {
			gctx, cancel := context.WithTimeout(ctx, time.Millisecond)
			more, err := src.Next(gctx)
			timedOut := gctx.Err() != nil
			cancel()
			if err != nil {
				if timedOut && ctx.Err() == nil {
					break // nothing more has arrived
				}
				return err
			}
			batch = append(batch, more)
		}
		keys := f.keysOf(batch)
		if len(keys) > 0 {
			if err := f.apply(ctx, keys); err != nil {
				return err
			}
		}
		f.ctr.invalidated.Add(int64(len(keys)))
		for _, tx := range batch {
			f.ctr.transactions.Add(1)
			if !tx.Commit.IsZero() {
				lag := time.Since(tx.Commit)
				f.ctr.lagNs.Store(int64(lag))
				f.ctr.lags.Observe(lag)
			}
			if err := src.Done(ctx, tx); err != nil {
				return err
			}
		}
	}
}

// keysOf maps the changes of txs to keys, each once, skipping empty ones.
func (f *Follower) keysOf(txs []*Tx) []string {
	seen := make(map[string]bool)
	var keys []string
	for _, tx := range txs {
		f.ctr.changes.Add(int64(len(tx.Changes)))
		for _, c := range tx.Changes {
			for _, k := range f.opt.Mapper(c) {
				if k != "" && !seen[k] {
					seen[k] = true
					keys = append(keys, k)
				}
			}
		}
	}
	return keys
}

// apply invalidates keys, retrying with backoff until it succeeds or ctx
// ends.
func (f *Follower) apply(ctx context.Context, keys []string) error {
	wait := backoff.Backoff{Min: 50 * time.Millisecond, Max: 5 * time.Second}
	for {
		err := f.inv.Invalidate(ctx, keys...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f.ctr.retries.Add(1)
		f.report(fmt.Errorf("pgcdc: invalidate %d keys (retrying): %w", len(keys), err))
		sleep(ctx, wait.Next())
	}
}

// watchWAL reads the slot's retained WAL every WALCheckInterval.
func (f *Follower) watchWAL(ctx context.Context, done <-chan struct{}) {
	t := time.NewTicker(f.opt.WALCheckInterval)
	defer t.Stop()
	for {
		f.checkWAL(ctx)
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-t.C:
		}
	}
}

func (f *Follower) checkWAL(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, f.conn)
	if err != nil {
		if ctx.Err() == nil {
			f.report(fmt.Errorf("pgcdc: check retained WAL: %w", err))
		}
		return
	}
	defer conn.Close(context.Background())
	n, err := retainedWAL(cctx, conn, f.opt.Slot)
	if err != nil {
		if ctx.Err() == nil {
			f.report(err)
		}
		return
	}
	f.ctr.retainedWAL.Store(n)
	if n > f.opt.RetainedWALWarning {
		f.report(fmt.Errorf("%w: %d bytes of slot %q, more than %d: the follower lags or is down", ErrWALRetained, n, f.opt.Slot, f.opt.RetainedWALWarning))
	}
}

func (f *Follower) report(err error) {
	if err == nil {
		return
	}
	f.ctr.errors.Add(1)
	if f.opt.OnError != nil {
		f.opt.OnError(err)
	}
}

// Stats returns the follower's counts.
func (f *Follower) Stats() Stats {
	k := &f.ctr
	q := k.lags.Quantiles(0.5, 0.99)
	return Stats{
		LagP50: q[0], LagP99: q[1],
		Transactions: k.transactions.Load(), Changes: k.changes.Load(), Invalidated: k.invalidated.Load(),
		Retries: k.retries.Load(), Reconnects: k.reconnects.Load(), Waits: k.waits.Load(), Errors: k.errors.Load(),
		Active: k.active.Load(), LastLag: time.Duration(k.lagNs.Load()), RetainedWAL: k.retainedWAL.Load(),
	}
}

// Close unregisters the follower's metrics; stop Run by ending its
// context. It is idempotent and returns nil.
func (f *Follower) Close() error {
	f.closeOnce.Do(func() { _ = f.metrics.Unregister() })
	return nil
}

func (f *Follower) registerMetrics() (metric.Registration, error) {
	m := otelx.Meter(f.opt.MeterProvider, "github.com/aside-go/aside/consistency/pgcdc")
	base := attribute.String("aside.pgcdc.slot", f.opt.Slot)
	k := &f.ctr
	counters, err := otelx.ObserveCounters(m, base, []otelx.Counter{
		{Name: "aside.pgcdc.transactions", Desc: "Transactions applied.", V: &k.transactions},
		{Name: "aside.pgcdc.changes", Desc: "Row changes seen.", V: &k.changes},
		{Name: "aside.pgcdc.invalidated", Desc: "Keys invalidated.", V: &k.invalidated},
		{Name: "aside.pgcdc.retries", Desc: "Invalidations retried.", V: &k.retries},
		{Name: "aside.pgcdc.reconnects", Desc: "Replication connections made after the first.", V: &k.reconnects},
		{Name: "aside.pgcdc.waits", Desc: "Times the slot was busy with another follower.", V: &k.waits},
		{Name: "aside.pgcdc.errors", Desc: "Errors passed to OnError.", V: &k.errors},
	})
	if err != nil {
		return nil, err
	}
	lag, err := m.Int64ObservableGauge("aside.pgcdc.lag", metric.WithUnit("ms"),
		metric.WithDescription("Commit to invalidation of the last applied transaction."))
	if err != nil {
		return nil, err
	}
	wal, err := m.Int64ObservableGauge("aside.pgcdc.retained_wal", metric.WithUnit("By"),
		metric.WithDescription("WAL the slot retains on the server."))
	if err != nil {
		return nil, err
	}
	attrs := metric.WithAttributeSet(attribute.NewSet(base))
	gauges, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(lag, time.Duration(k.lagNs.Load()).Milliseconds(), attrs)
		o.ObserveInt64(wal, k.retainedWAL.Load(), attrs)
		return nil
	}, lag, wal)
	if err != nil {
		_ = counters.Unregister()
		return nil, err
	}
	return bothReg{counters, gauges}, nil
}

// bothReg unregisters two registrations.
type bothReg struct {
	metric.Registration
	other metric.Registration
}

func (r bothReg) Unregister() error {
	return errors.Join(r.Registration.Unregister(), r.other.Unregister())
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
