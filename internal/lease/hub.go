package lease

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aside-go/aside/internal/backoff"
	"github.com/redis/go-redis/v9"
)

// BlockTimeout is how long one BLPOP of a [Hub] watcher waits. It bounds
// how long a watcher outlives its last waiter and how long [Hub.Close]
// takes.
const BlockTimeout = time.Second

// PassOnTimeout bounds the passing on of an unused wake-up. It runs on a
// context of its own, never on the one of the waiter (or client) that
// could not use the wake-up: that one has ended.
const PassOnTimeout = time.Second

// Popper is the part of a go-redis client that a [Hub] uses.
type Popper interface {
	BLPop(ctx context.Context, timeout time.Duration, keys ...string) *redis.StringSliceCmd
}

// Hub is the wake-one waiting of one client (one process, usually): for
// every wake list that some of its waiters wait on, one watcher goroutine
// BLPOPs the list, so the waiters of a process share one blocked
// connection per key. Redis hands each wake-up to the watcher blocked
// longest; the watcher hands it to its longest waiter. A wake-up is never
// swallowed: one that reaches no waiter, or a waiter that leaves without
// using it, goes to the next waiter or back to Redis through the pass-on
// function of its key. A Hub is safe for concurrent use.
type Hub struct {
	rdb         Popper
	maxBlocking int
	onPassOn    func(err error) // counts pass-ons; nil for none

	stop chan struct{}  // closed by Close: ends the watchers' error backoffs
	wg   sync.WaitGroup // watchers

	mu       sync.Mutex // guards queues, watchers and closed
	queues   map[string]*queue
	watchers int // running watch goroutines
	closed   bool
}

// queue is the waiters of one Hub on one wake list, oldest first.
type queue struct {
	wake     string
	passOn   func(context.Context) error
	waiters  []*Waiter
	watching bool // a watcher goroutine runs for this queue
}

// Waiter is one blocked caller of a [Hub].
type Waiter struct {
	q  *queue
	ch chan struct{} // holds at most one pending wake-up
}

// Woken receives when a wake-up reached the waiter.
func (w *Waiter) Woken() <-chan struct{} { return w.ch }

// NewHub returns a Hub that keeps at most maxBlocking connections of rdb
// blocked at once (a waiter on a key beyond that must poll; see
// [Hub.Watched]). onPassOn, if not nil, is called after every pass-on to
// Redis with its error.
func NewHub(rdb Popper, maxBlocking int, onPassOn func(error)) *Hub {
	return &Hub{rdb: rdb, maxBlocking: maxBlocking, onPassOn: onPassOn,
		stop: make(chan struct{}), queues: make(map[string]*queue)}
}

// Join adds a waiter on the wake list wake and starts its watcher if there
// is room. passOn leaves an unused wake-up back in Redis for other
// processes, if the lease is still free; every waiter of one key must give
// an equivalent one.
func (h *Hub) Join(wake string, passOn func(context.Context) error) *Waiter {
	h.mu.Lock()
	defer h.mu.Unlock()
	q := h.queues[wake]
	if q == nil {
		q = &queue{wake: wake, passOn: passOn}
		h.queues[wake] = q
	}
	w := &Waiter{q: q, ch: make(chan struct{}, 1)}
	q.waiters = append(q.waiters, w)
	h.ensureWatchLocked(q)
	return w
}

// Watched reports whether a watcher runs for w's key, starting one if
// there is room now. A waiter without one must poll.
func (h *Hub) Watched(w *Waiter) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ensureWatchLocked(w.q)
}

// ensureWatchLocked starts q's watcher unless it runs, the Hub is closed
// or maxBlocking watchers run, and reports whether one runs.
func (h *Hub) ensureWatchLocked(q *queue) bool {
	if !q.watching && !h.closed && h.watchers < h.maxBlocking && len(q.waiters) > 0 {
		q.watching = true
		h.watchers++
		h.wg.Add(1)
		go h.watch(q)
	}
	return q.watching
}

// Leave removes w. consumed reports that the caller used its turn (it
// obtained a lock): a wake-up still pending is then stale. Otherwise a
// pending wake-up goes to the next waiter of this Hub or, when there is
// none, back to Redis, on a context of its own; after Close this happens
// before Leave returns.
func (h *Hub) Leave(w *Waiter, consumed bool) {
	h.mu.Lock()
	q := w.q
	pending := false
	select {
	case <-w.ch:
		pending = true
	default:
	}
	for i, x := range q.waiters {
		if x == w {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			break
		}
	}
	handed := pending && !consumed && q.signal()
	if len(q.waiters) == 0 && !q.watching && h.queues[q.wake] == q {
		delete(h.queues, q.wake)
	}
	if !pending || consumed || handed {
		h.mu.Unlock()
		return
	}
	if h.closed {
		h.mu.Unlock()
		h.passOn(q)
		return
	}
	// In the background so the caller returns at once; Close waits.
	h.wg.Add(1)
	h.mu.Unlock()
	go func() {
		defer h.wg.Done()
		h.passOn(q)
	}()
}

// passOn hands a wake-up nobody here used back to Redis.
func (h *Hub) passOn(q *queue) {
	ctx, cancel := context.WithTimeout(context.Background(), PassOnTimeout)
	defer cancel()
	err := q.passOn(ctx)
	if h.onPassOn != nil {
		h.onPassOn(err)
	}
}

// signal gives one wake-up to the oldest waiter that has none pending. The
// caller holds h.mu.
func (q *queue) signal() bool {
	for _, w := range q.waiters {
		select {
		case w.ch <- struct{}{}:
			return true
		default:
		}
	}
	return false
}

// watch BLPOPs q's wake list while q has waiters. The BLPOP runs on a
// context that Close does not cancel: a wake-up Redis hands to it is read,
// never dropped with the connection, and passed on if nobody here takes it.
func (h *Hub) watch(q *queue) {
	defer h.wg.Done()
	var backoff backoff.Backoff
	for {
		h.mu.Lock()
		if len(q.waiters) == 0 || h.closed {
			q.watching = false
			h.watchers--
			if len(q.waiters) == 0 && h.queues[q.wake] == q {
				delete(h.queues, q.wake)
			}
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()

		err := h.rdb.BLPop(context.Background(), BlockTimeout, q.wake).Err()
		switch {
		case errors.Is(err, redis.Nil): // timed out: block again
			continue
		case err != nil:
			// Redis unreachable: waiters still retry when leases end.
			t := time.NewTimer(backoff.Next())
			select {
			case <-h.stop:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		backoff.Reset()
		h.mu.Lock()
		handed := q.signal()
		h.mu.Unlock()
		if !handed {
			h.passOn(q)
		}
	}
}

// Waiting returns how many waiters are joined.
func (h *Hub) Waiting() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, q := range h.queues {
		n += len(q.waiters)
	}
	return n
}

// Close stops the watchers and waits for them (at most about
// [BlockTimeout]) and for pass-ons in flight. Waiters still joined then
// retry when leases end. It is idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	close(h.stop)
	h.mu.Unlock()
	h.wg.Wait()
}
