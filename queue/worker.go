package queue

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/internal/validate"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
)

// Handler handles one delivery. Returning nil acks the message; an error
// retries it after a backoff, or dead-letters it when the error wraps
// [ErrPermanent] or the message reached its max deliveries. ctx is
// canceled when the delivery is lost (its deadline passed without a
// heartbeat reaching Redis, so another consumer may get it) or when
// [Worker.Shutdown]'s deadline passes.
type Handler interface {
	Handle(ctx context.Context, m *Message) error
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(ctx context.Context, m *Message) error

// Handle calls f(ctx, m).
func (f HandlerFunc) Handle(ctx context.Context, m *Message) error { return f(ctx, m) }

// Worker consumes a queue with up to Concurrency handlers at once. Start
// one with [Queue.Consume]; stop it with [Worker.Shutdown] or
// [Worker.Close]. Its methods are safe for concurrent use.
//
// Goroutines: one fetcher, one heartbeat, one reaper, one acker, and one
// per running handler (Concurrency runners instead when it prefetches).
type Worker struct {
	q   *Queue
	h   Handler
	opt WorkerOptions

	slots chan struct{} // one token per message the worker may take: idle handlers plus free Prefetch room
	// pending holds fetched deliveries, in order, for the Concurrency
	// runner goroutines; nil without Prefetch (a goroutine per delivery
	// then, as slots are handlers).
	pending chan delivery
	runners sync.WaitGroup

	// Automatic prefetch (Prefetch 0): the fetcher keeps parked of the
	// pmax prefetch tokens out of slots, so that the worker holds only as
	// many messages beyond its handlers as they finish within one fetch
	// round trip (both measured: moving averages in nanoseconds).
	pmax      int
	auto      bool
	parked    int // only the fetcher touches it
	handlerNs atomic.Int64
	rttNs     atomic.Int64

	ackMu      sync.Mutex    // guards ackPending
	ackPending []*Message    // finished deliveries not yet acked
	ackSignal  chan struct{} // wakes the acker; capacity 1

	stop      chan struct{} // closed by Shutdown: stop fetching
	fetchDone chan struct{} // closed when the fetcher returned
	bgStop    chan struct{} // closed to stop heartbeat and reaper
	bgDone    sync.WaitGroup
	ackStop   chan struct{} // closed to make the acker drain and return
	ackDone   chan struct{} // closed when the acker returned

	hctx    context.Context // parent of every handler's context
	hcancel context.CancelFunc

	handlers  sync.WaitGroup
	abandoned atomic.Bool  // Shutdown's deadline passed: handler results are dropped
	lastReap  atomic.Int64 // unix nanos of the last reclaim and promotion

	mu      sync.Mutex               // guards running
	running map[string]*runningEntry // by delivery token

	shutdownOnce sync.Once
	shutdownDone chan struct{}
	shutdownErr  error

	stats   workerCounters
	metrics metric.Registration
}

type delivery struct {
	ctx    context.Context
	cancel context.CancelFunc
	m      *Message
}

type runningEntry struct {
	m      *Message
	cancel context.CancelFunc
}

// WorkerStats counts what a worker did since it started.
type WorkerStats struct {
	Handled      int64 // deliveries whose handler returned nil
	Failed       int64 // deliveries whose handler returned an error or panicked
	Retried      int64 // failed deliveries scheduled for another delivery
	DeadLettered int64 // failed deliveries sent to the dead-letter list
	Acked        int64 // acks Redis applied
	Stale        int64 // acks or nacks rejected as stale: the message was reclaimed meanwhile
	LostLeases   int64 // running deliveries whose heartbeat found them reclaimed
	Released     int64 // prefetched deliveries returned unstarted at Shutdown
	Errors       int64 // Redis errors met by the worker's loops
}

type workerCounters struct {
	handled, failed, retried, dead, acked, stale, lost, released, errors atomic.Int64
}

// Consume starts a worker that runs h for every message of the queue. opt
// may be nil for defaults. The worker runs until [Worker.Shutdown] or
// [Worker.Close]; it never closes the client.
func (q *Queue) Consume(h Handler, opt *WorkerOptions) (*Worker, error) {
	if validate.Nil(h) {
		return nil, fmt.Errorf("%w: nil handler", ErrInvalidOptions)
	}
	o, err := opt.normalize()
	if err != nil {
		return nil, err
	}
	if rt := readTimeout(q.rdb); rt > 0 && o.BlockTimeout >= rt {
		return nil, fmt.Errorf("%w: BlockTimeout %v is not below the client's ReadTimeout %v", ErrInvalidOptions, o.BlockTimeout, rt)
	}
	w := &Worker{
		q: q, h: h, opt: o,
		slots:        make(chan struct{}, o.Concurrency+o.prefetchMax()),
		pmax:         o.prefetchMax(),
		auto:         o.Prefetch == 0,
		ackSignal:    make(chan struct{}, 1),
		stop:         make(chan struct{}),
		fetchDone:    make(chan struct{}),
		bgStop:       make(chan struct{}),
		ackStop:      make(chan struct{}),
		ackDone:      make(chan struct{}),
		running:      make(map[string]*runningEntry),
		shutdownDone: make(chan struct{}),
	}
	if w.auto {
		w.parked = w.pmax // none until handlers were measured
	}
	for range o.Concurrency + w.pmax - w.parked {
		w.slots <- struct{}{}
	}
	if w.pmax > 0 {
		w.pending = make(chan delivery, o.Concurrency+w.pmax)
		w.runners.Add(o.Concurrency)
		for range o.Concurrency {
			go w.runner()
		}
	}
	if w.metrics, err = registerMetrics(o.MeterProvider, q.opt.Prefix+":"+q.name, &w.stats); err != nil {
		return nil, fmt.Errorf("queue: metrics: %w", err)
	}
	w.hctx, w.hcancel = context.WithCancel(context.Background())
	w.bgDone.Add(2)
	go w.fetchLoop()
	go w.every(w.opt.HeartbeatInterval, w.heartbeat)
	go w.every(w.opt.ReapInterval, w.reap)
	go w.ackLoop()
	return w, nil
}

// Stats returns the worker's counters.
func (w *Worker) Stats() WorkerStats {
	c := &w.stats
	return WorkerStats{
		Handled: c.handled.Load(), Failed: c.failed.Load(), Retried: c.retried.Load(),
		DeadLettered: c.dead.Load(), Acked: c.acked.Load(), Stale: c.stale.Load(),
		LostLeases: c.lost.Load(), Released: c.released.Load(), Errors: c.errors.Load(),
	}
}

func (w *Worker) report(err error) {
	w.stats.errors.Add(1)
	if w.opt.OnError != nil {
		w.opt.OnError(err)
	}
}

// opTimeout bounds one Redis call of the worker's own loops.
const opTimeout = 5 * time.Second

// fetchLoop takes as many messages as there are idle handlers and starts
// them. With none ready, the next fetch waits on the wake list first, for
// at most BlockTimeout (less when a delayed message is due sooner), in the
// same round trip: a message enqueued on an idle queue reaches a handler
// after one wake-up, with no second call to fetch it.
func (w *Worker) fetchLoop() {
	defer close(w.fetchDone)
	var errDelay, wait time.Duration
	idle := true
	for {
		select {
		case <-w.stop:
			return
		case <-w.slots:
		}
		select {
		case <-w.stop:
			w.slots <- struct{}{}
			return
		default:
		}
		n := 1
	grab:
		for n < w.opt.FetchBatch {
			select {
			case <-w.slots:
				n++
			default:
				break grab
			}
		}
		if w.auto {
			if n = w.adapt(n); n == 0 {
				continue
			}
		}
		// Piggyback finished deliveries' acks on the fetch (unless it may
		// block: the acker sends them then), and reap when nobody did
		// lately or when the queue looked idle last time.
		var acks []*Message
		if wait == 0 {
			acks = w.takeAcks()
		}
		reap := idle || time.Since(time.Unix(0, w.lastReap.Load())) >= w.opt.ReapInterval
		ctx, cancel := context.WithTimeout(context.Background(), wait+opTimeout)
		t0 := time.Now()
		r, err := w.q.fetch(ctx, fetchArgs{n: n, visibility: w.opt.VisibilityTimeout, reap: reap, acks: acks, wait: wait})
		if w.auto && wait == 0 && err == nil {
			ewma(&w.rttNs, time.Since(t0))
		}
		cancel()
		wait = 0
		for range n - len(r.msgs) {
			w.slots <- struct{}{}
		}
		if err != nil {
			w.report(err)
			w.returnAcks(acks) // the next fetch or the acker tries them again
			errDelay = min(max(2*errDelay, 50*time.Millisecond), 2*time.Second)
			if !w.sleep(errDelay) {
				return
			}
			continue
		}
		errDelay = 0
		w.countAcks(len(acks), r.stale)
		if reap {
			w.lastReap.Store(time.Now().UnixNano())
		}
		for _, m := range r.msgs {
			// Registered at once, so heartbeats extend prefetched ones too.
			ctx, cancel := context.WithCancel(w.hctx)
			w.mu.Lock()
			w.running[m.Token] = &runningEntry{m: m, cancel: cancel}
			w.mu.Unlock()
			w.handlers.Add(1)
			if w.pending != nil {
				w.pending <- delivery{ctx: ctx, cancel: cancel, m: m} // never blocks: slots bound it
			} else {
				go w.handle(ctx, cancel, m)
			}
		}
		if r.waitErr != nil {
			// The fetch ran; the wait before it failed (a wake list that is
			// not a list, say): don't spin on it.
			w.report(r.waitErr)
			if !w.sleep(100 * time.Millisecond) {
				return
			}
		}
		// Drained: the next fetch waits for a wake-up (at once if one is
		// pending) or the next due time, and reaps. Not drained: fetch
		// again as soon as a handler is free.
		idle = r.left == 0
		if idle {
			wait = w.waitTime(r.next)
			if len(r.msgs) > 0 {
				// Let the runners start what was just handed to them
				// before this goroutine builds and sends its wait.
				runtime.Gosched()
			}
		}
	}
}

// adapt parks or unparks prefetch tokens toward the automatic prefetch
// and returns how many of the n tokens just taken are left to fetch with.
func (w *Worker) adapt(n int) int {
	target := w.pmax - w.autoPrefetch()
	for w.parked < target && n > 0 {
		w.parked++
		n--
	}
	for w.parked > target {
		w.parked--
		w.slots <- struct{}{} // never blocks: parked tokens have room
	}
	return n
}

// autoPrefetch is how many messages to hold beyond running handlers: as
// many as the handlers finish within one fetch round trip.
func (w *Worker) autoPrefetch() int {
	h := w.handlerNs.Load()
	if h <= 0 {
		return 0 // no handler finished yet
	}
	e := int64(w.opt.Concurrency) * w.rttNs.Load() / h
	return int(min(e, int64(w.pmax)))
}

// ewma moves the average in v an eighth of the way toward d. Concurrent
// updates may lose one another's step: it is an estimate.
func ewma(v *atomic.Int64, d time.Duration) {
	old := v.Load()
	if old == 0 {
		v.Store(max(int64(d), 1))
		return
	}
	v.Store(max(old+(int64(d)-old)/8, 1))
}

// redisTimerSlack is how late Redis may end a blocking command's timeout
// (one event-loop sleep at the default hz of 10).
const redisTimerSlack = 100 * time.Millisecond

// waitTime is how long the next fetch blocks on the wake list first: until
// an enqueue signals, a delayed message or deadline is due (next), or
// BlockTimeout passes. When next is too close for Redis' timer it sleeps
// here instead and returns 0.
func (w *Worker) waitTime(next time.Duration) time.Duration {
	block := w.opt.BlockTimeout
	if next >= 0 && next < block {
		// Redis expires blocking commands from its event loop, which may
		// sleep up to 1/hz (100ms by default) when idle: a BLPOP timeout
		// can end that late. Block until shortly before the due time, and
		// wait out the rest here; wake tokens that arrive meanwhile stay
		// in the list for the next wait.
		if next <= redisTimerSlack {
			w.sleep(next + time.Millisecond)
			return 0
		}
		block = next - redisTimerSlack
	}
	return block
}

// sleep waits d or until Shutdown; it reports whether d passed.
func (w *Worker) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-w.stop:
		return false
	case <-t.C:
		return true
	}
}

// runner runs prefetched deliveries one after another, in fetch order,
// until Shutdown.
func (w *Worker) runner() {
	defer w.runners.Done()
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		select {
		case d := <-w.pending:
			if d.ctx.Err() != nil {
				// Reclaimed while it waited (the heartbeat canceled it):
				// another consumer may have it, not ours to run or settle.
				w.forget(d)
				continue
			}
			w.handle(d.ctx, d.cancel, d.m)
		case <-w.stop:
			return
		}
	}
}

// releasePending returns the prefetched deliveries no runner started to
// the front of the ready list, in order; Shutdown calls it once the
// fetcher stopped.
func (w *Worker) releasePending() {
	var ds []delivery
	for len(ds) < cap(w.pending) {
		select {
		case d := <-w.pending:
			ds = append(ds, d)
			continue
		default:
		}
		break
	}
	if len(ds) == 0 {
		return
	}
	ms := make([]*Message, len(ds))
	for i, d := range ds {
		ms[i] = d.m
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	res, err := w.q.releaseBatch(ctx, ms)
	cancel()
	if err != nil {
		w.report(err) // the messages are redelivered after their deadline
	}
	for i, d := range ds {
		switch {
		case err != nil:
		case res[i]:
			w.stats.released.Add(1)
		default:
			w.stats.stale.Add(1)
		}
		w.forget(d)
	}
}

// forget drops a delivery that will not run.
func (w *Worker) forget(d delivery) {
	w.mu.Lock()
	delete(w.running, d.m.Token)
	w.mu.Unlock()
	d.cancel()
	w.handlers.Done()
	w.slots <- struct{}{}
}

// handle runs the handler for one delivery, registered in running, and
// settles it.
func (w *Worker) handle(ctx context.Context, cancel context.CancelFunc, m *Message) {
	defer w.handlers.Done()
	defer func() { w.slots <- struct{}{} }()
	defer cancel()
	t0 := time.Now()
	err := w.call(ctx, m)
	if w.auto {
		ewma(&w.handlerNs, time.Since(t0))
	}

	w.mu.Lock()
	delete(w.running, m.Token)
	abandoned := w.abandoned.Load() // read under mu: see abandon
	w.mu.Unlock()
	if abandoned {
		return // Shutdown released the delivery already
	}
	if err == nil {
		w.stats.handled.Add(1)
		w.ackMu.Lock()
		w.ackPending = append(w.ackPending, m)
		w.ackMu.Unlock()
		select {
		case w.ackSignal <- struct{}{}:
		default:
		}
		return
	}
	w.stats.failed.Add(1)
	var delay time.Duration
	if !errors.Is(err, ErrPermanent) {
		delay = w.opt.Backoff(m.Delivery)
	}
	nctx, ncancel := context.WithTimeout(context.Background(), opTimeout)
	dead, nerr := w.q.Nack(nctx, m, err, delay)
	ncancel()
	switch {
	case errors.Is(nerr, ErrStaleDelivery):
		w.stats.stale.Add(1)
	case nerr != nil:
		w.report(nerr) // the message is redelivered after its deadline
	case dead:
		w.stats.dead.Add(1)
	default:
		w.stats.retried.Add(1)
	}
}

// call runs the handler, turning a panic into an error.
func (w *Worker) call(ctx context.Context, m *Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("queue: handler panicked: %v", r)
		}
	}()
	return w.h.Handle(ctx, m)
}

// Shutdown stops fetching, waits for running handlers until ctx ends, and
// then stops the worker's goroutines. Handlers still running when ctx ends
// get their context canceled and their deliveries returned to the ready
// list at once (each counts as a delivery); their results are dropped.
// Acks of finished handlers are flushed before it returns. The fetcher may
// take up to BlockTimeout to notice. It returns ctx's error if handlers
// were abandoned. Calling it again waits for the first call and returns
// its result.
func (w *Worker) Shutdown(ctx context.Context) error {
	w.shutdownOnce.Do(func() {
		w.shutdownErr = w.shutdown(ctx)
		close(w.shutdownDone)
	})
	select {
	case <-w.shutdownDone:
		return w.shutdownErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close is Shutdown with WorkerOptions.ShutdownTimeout.
func (w *Worker) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), w.opt.ShutdownTimeout)
	defer cancel()
	return w.Shutdown(ctx)
}

// abandonGrace is how long Shutdown waits for handlers to return after
// canceling their contexts.
const abandonGrace = time.Second

func (w *Worker) shutdown(ctx context.Context) error {
	close(w.stop)
	// The fetcher returns within BlockTimeout (plus one script call); waiting
	// for it even past ctx keeps it from starting handlers behind our back.
	<-w.fetchDone
	if w.pending != nil {
		w.releasePending()
	}
	err := ctx.Err()
	done := make(chan struct{})
	go func() {
		w.handlers.Wait()
		close(done)
	}()
	if err == nil {
		select {
		case <-done:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		w.abandon()
		t := time.NewTimer(abandonGrace)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
	}
	w.runners.Wait()
	close(w.bgStop)
	w.bgDone.Wait()
	close(w.ackStop)
	<-w.ackDone
	w.hcancel()
	_ = w.metrics.Unregister()
	if err != nil {
		return fmt.Errorf("queue: shutdown left running handlers for redelivery: %w", err)
	}
	return nil
}

// abandon cancels running handlers and returns their deliveries to the
// ready list.
func (w *Worker) abandon() {
	// Under mu, every delivery is either still running (released below) or
	// was finished before the flag was set (its handler settles it).
	w.mu.Lock()
	w.abandoned.Store(true)
	ms := make([]*Message, 0, len(w.running))
	for _, e := range w.running {
		ms = append(ms, e.m)
	}
	w.mu.Unlock()
	w.hcancel()
	cause := errors.New("queue: worker shut down before the handler finished")
	for _, m := range ms {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		if _, err := w.q.Nack(ctx, m, cause, 0); err != nil && !errors.Is(err, ErrStaleDelivery) {
			w.report(err)
		}
		cancel()
	}
}

func isNil(err error) bool { return errors.Is(err, redis.Nil) }

// readTimeout is the read timeout of rdb's connections (go-redis' default
// of 3 s when it is zero), or 0 when unknown or off.
func readTimeout(rdb redis.UniversalClient) time.Duration {
	var rt time.Duration
	switch c := rdb.(type) {
	case *redis.Client:
		rt = c.Options().ReadTimeout
	case *redis.ClusterClient:
		rt = c.Options().ReadTimeout
	default:
		return 0
	}
	if rt == 0 {
		return 3 * time.Second
	}
	return max(rt, 0)
}
