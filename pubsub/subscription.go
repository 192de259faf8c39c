package pubsub

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/aside-go/aside/internal/keys"

	"golang.org/x/sync/semaphore"
)

// kind is what a subscription subscribes with.
type kind int

const (
	kindClassic kind = iota // SUBSCRIBE
	kindPattern             // PSUBSCRIBE
	kindSharded             // SSUBSCRIBE
)

// Subscription is one handler subscribed to a set of topics, made by
// [PubSub.Subscribe] or [PubSub.PSubscribe]. It is safe for concurrent
// use; its zero value is not usable.
//
// It owns one receive goroutine per connection (one connection, or on a
// Cluster in sharded mode one per hash slot of its topics), a buffer of
// received messages and a fixed number of handler goroutines.
type Subscription struct {
	p      *PubSub
	topics []string
	h      Handler
	kind   kind
	cfg    subConfig

	ctx    context.Context // canceled by Close; handlers get it
	cancel context.CancelFunc
	buf    chan *Message
	room   *semaphore.Weighted // payload bytes the buffer may still hold
	recv   []*receiver
	c      counters

	mu      sync.Mutex // guards closing and the Add calls of readers and workers
	closing bool
	readers sync.WaitGroup
	workers sync.WaitGroup
	once    sync.Once
}

func newSubscription(p *PubSub, topics []string, h Handler, k kind, cfg subConfig) *Subscription {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Subscription{p: p, topics: topics, h: h, kind: k, cfg: cfg, ctx: ctx, cancel: cancel,
		buf: make(chan *Message, cfg.buffer), room: semaphore.NewWeighted(p.opt.BufferBytes)}
	if k == kindSharded && p.cluster != nil {
		for _, g := range keys.GroupBySlot(topics) {
			ts := make([]string, len(g))
			for i, j := range g {
				ts[i] = topics[j]
			}
			s.recv = append(s.recv, &receiver{s: s, topics: ts})
		}
	} else {
		s.recv = []*receiver{{s: s, topics: topics}}
	}
	return s
}

// Topics returns the subscription's topics (or patterns), sorted.
func (s *Subscription) Topics() []string { return slices.Clone(s.topics) }

// Stats returns the subscription's counts. Subscriptions is always 0.
func (s *Subscription) Stats() Stats { return s.c.snapshot() }

// start subscribes every receiver, waiting for Redis to confirm, then
// starts the receive and handler goroutines.
func (s *Subscription) start(ctx context.Context) error {
	// Handlers first: messages may arrive while later topics are confirmed.
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	for range s.cfg.concurrency {
		s.workers.Add(1)
		go s.work()
	}
	s.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	for _, r := range s.recv {
		octx, ocancel := context.WithTimeout(ctx, s.p.openTimeout())
		err := r.open(octx)
		ocancel()
		if err != nil {
			if s.ctx.Err() != nil {
				return ErrClosed
			}
			return fmt.Errorf("pubsub: subscribe to %q: %w", r.topics, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return ErrClosed
	}
	for _, r := range s.recv {
		s.readers.Add(1)
		go r.run()
	}
	return nil
}

// Close unsubscribes, waits for running handlers to return and discards
// buffered messages not yet handled (counted as dropped). It is idempotent
// and returns nil; it must not be called from the subscription's own
// handler or callbacks.
func (s *Subscription) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		s.cancel()
		for _, r := range s.recv {
			r.shutdown()
		}
		s.readers.Wait()
		s.workers.Wait()
		for {
			select {
			case msg := <-s.buf:
				s.room.Release(s.cost(msg))
				s.p.m.add(&s.c.buffered, &s.p.m.total.buffered, nil, -1)
				s.p.m.add(&s.c.dropped, &s.p.m.total.dropped, nil, 1)
				continue
			default:
			}
			break
		}
		s.p.remove(s)
	})
	return nil
}

// enqueue hands a received message to the handlers according to the
// overflow policy. It runs on r's receive goroutine.
func (s *Subscription) enqueue(r *receiver, msg *Message) {
	m := s.p.m
	m.add(&s.c.received, &m.total.received, nil, 1)
	m.add(&s.c.buffered, &m.total.buffered, nil, 1)
	cost := s.cost(msg)
	held := s.room.TryAcquire(cost) // msg's bytes are counted in the buffer
	if held {
		select {
		case s.buf <- msg:
			r.overflowEnded()
			return
		default:
		}
	}
	switch s.cfg.overflow {
	case Block:
		if !held {
			held = s.room.Acquire(s.ctx, cost) == nil
		}
		if held {
			select {
			case s.buf <- msg:
				r.overflowEnded()
				return
			case <-s.ctx.Done():
			}
		}
	case DropOldest:
		// Make room by bytes and by count, oldest first.
		for !held || len(s.buf) == cap(s.buf) {
			if !held && s.room.TryAcquire(cost) {
				held = true
				continue
			}
			select {
			case old := <-s.buf:
				s.room.Release(s.cost(old))
				m.add(&s.c.buffered, &m.total.buffered, nil, -1)
				r.dropped(1)
				continue
			default:
			}
			break
		}
		if held {
			select {
			case s.buf <- msg:
				return
			default:
			}
		}
	}
	if held {
		s.room.Release(cost)
	}
	m.add(&s.c.buffered, &m.total.buffered, nil, -1)
	r.dropped(1)
}

// cost is what msg takes of the buffer's byte bound.
func (s *Subscription) cost(msg *Message) int64 {
	return min(int64(len(msg.Payload)), s.p.opt.BufferBytes)
}

// work runs the handler on buffered messages until Close.
func (s *Subscription) work() {
	defer s.workers.Done()
	for s.ctx.Err() == nil {
		select {
		case msg := <-s.buf:
			s.room.Release(s.cost(msg))
			s.p.m.add(&s.c.buffered, &s.p.m.total.buffered, nil, -1)
			s.handle(msg)
		case <-s.ctx.Done():
			return
		}
	}
}

// handle runs the handler on one message, recovering a panic.
func (s *Subscription) handle(msg *Message) {
	m := s.p.m
	defer func() {
		if v := recover(); v != nil {
			m.add(&s.c.handled, &m.total.handled, nil, 1)
			m.add(&s.c.panics, &m.total.panics, nil, 1)
			s.onError(msg, fmt.Errorf("%w on %q: %v\n%s", ErrHandlerPanic, msg.Topic, v, debug.Stack()))
		}
	}()
	err := s.h.HandleMessage(s.ctx, msg)
	m.add(&s.c.handled, &m.total.handled, nil, 1)
	if err != nil {
		m.add(&s.c.errors, &m.total.errors, nil, 1)
		s.onError(msg, err)
	}
}

func (s *Subscription) onError(msg *Message, err error) {
	if f := s.p.opt.OnError; f != nil {
		f(&HandlerError{Message: msg, Err: err})
	}
}

// HandlerError is what [Options.OnError] receives for a message whose
// handler failed: the message, and the handler's error (or the panic,
// wrapped in [ErrHandlerPanic]). It unwraps to Err.
type HandlerError struct {
	Message *Message
	Err     error
}

// Error names the topic and the handler's error.
func (e *HandlerError) Error() string {
	return fmt.Sprintf("pubsub: handler for %q: %v", e.Message.Topic, e.Err)
}

// Unwrap returns the handler's error.
func (e *HandlerError) Unwrap() error { return e.Err }

// gap counts and reports a gap.
func (s *Subscription) gap(g Gap) {
	m := s.p.m
	m.add(&s.c.gaps, &m.total.gaps, m.gapCount(g.Reason), 1)
	if f := s.p.opt.OnGap; f != nil {
		f(g)
	}
}

func (s *Subscription) disconnect(d Disconnect) {
	if f := s.p.opt.OnDisconnect; f != nil {
		f(d)
	}
}

// openTimeout bounds one attempt to (re)subscribe.
func (p *PubSub) openTimeout() time.Duration {
	return max(5*time.Second, 2*p.opt.HealthCheck)
}
