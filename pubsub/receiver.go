package pubsub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/aside-go/aside/internal/backoff"
	"github.com/redis/go-redis/v9"
)

// receiver owns the connection of one set of topics of a subscription and
// its receive loop. go-redis's PubSub reconnects and resubscribes silently
// inside Receive; the receiver does not rely on that: it treats any error,
// any unanswered health-check PING and any subscription message after the
// confirmations as a lost connection, closes the go-redis PubSub, opens a
// new one, waits for Redis to confirm every topic and then reports the gap.
type receiver struct {
	s      *Subscription
	topics []string

	mu     sync.Mutex // guards ps and closed
	ps     *redis.PubSub
	closed bool

	// Used by the receive goroutine only.
	lastAlive time.Time // last proof that the subscription was receiving
	nDropped  int64     // messages dropped since dropSince, not yet reported
	dropSince time.Time
}

var (
	errPingTimeout   = errors.New("pubsub: health-check ping not answered")
	errUnexpectedSub = errors.New("pubsub: unexpected subscription message")
)

// open makes a new go-redis PubSub, subscribes it and waits until Redis has
// confirmed every topic. Messages arriving meanwhile are delivered.
func (r *receiver) open(ctx context.Context) error {
	rdb := r.s.p.rdb
	var ps *redis.PubSub
	switch r.s.kind {
	case kindPattern:
		ps = rdb.PSubscribe(ctx) // no topics: no I/O yet
	case kindSharded:
		ps = rdb.SSubscribe(ctx)
	default:
		ps = rdb.Subscribe(ctx)
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = ps.Close()
		return ErrClosed
	}
	r.ps = ps
	r.mu.Unlock()

	var err error
	switch r.s.kind {
	case kindPattern:
		err = ps.PSubscribe(ctx, r.topics...)
	case kindSharded:
		err = ps.SSubscribe(ctx, r.topics...)
	default:
		err = ps.Subscribe(ctx, r.topics...)
	}
	if err == nil {
		err = r.confirm(ctx, ps)
	}
	if err != nil {
		r.release(ps)
		return err
	}
	r.lastAlive = time.Now()
	return nil
}

// subKind is the Subscription.Kind Redis confirms r's topics with.
func (r *receiver) subKind() string {
	switch r.s.kind {
	case kindPattern:
		return "psubscribe"
	case kindSharded:
		return "ssubscribe"
	}
	return "subscribe"
}

// confirm reads until every topic is confirmed.
func (r *receiver) confirm(ctx context.Context, ps *redis.PubSub) error {
	pending := make(map[string]bool, len(r.topics))
	for _, t := range r.topics {
		pending[t] = true
	}
	want := r.subKind()
	for len(pending) > 0 {
		v, err := ps.Receive(ctx) // ctx has a deadline
		if err != nil {
			return err
		}
		switch m := v.(type) {
		case *redis.Subscription:
			if m.Kind != want || !pending[m.Channel] {
				return fmt.Errorf("%w: %s %s", errUnexpectedSub, m.Kind, m.Channel)
			}
			delete(pending, m.Channel)
		case *redis.Message:
			r.deliver(m)
		}
	}
	return nil
}

// release forgets and closes ps.
func (r *receiver) release(ps *redis.PubSub) {
	r.mu.Lock()
	if r.ps == ps {
		r.ps = nil
	}
	r.mu.Unlock()
	_ = ps.Close()
}

// shutdown closes the connection and stops reconnecting; the receive
// goroutine then returns.
func (r *receiver) shutdown() {
	r.mu.Lock()
	r.closed = true
	ps := r.ps
	r.ps = nil
	r.mu.Unlock()
	if ps != nil {
		_ = ps.Close()
	}
}

func (r *receiver) current() *redis.PubSub {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ps
}

// run is the receive goroutine: receive until the connection is lost,
// reconnect, report the gap, again, until shutdown.
func (r *receiver) run() {
	defer r.s.readers.Done()
	for {
		ps := r.current()
		if ps == nil {
			return // shut down
		}
		err := r.receive(ps)
		if r.s.ctx.Err() != nil {
			return
		}
		r.flushOverflow()
		r.release(ps)
		since := r.lastAlive
		reason := GapReconnect
		if errors.Is(err, errUnexpectedSub) {
			reason = GapUnsubscribed
		}
		r.s.disconnect(Disconnect{Topics: slices.Clone(r.topics), Since: since, Err: err})
		if !r.reconnect() {
			return
		}
		r.s.gap(Gap{Topics: slices.Clone(r.topics), Since: since, Until: r.lastAlive, Reason: reason, Err: err})
	}
}

// receive reads messages from ps until the connection is lost (it returns
// why) or the subscription is closed.
func (r *receiver) receive(ps *redis.PubSub) error {
	ctx := r.s.ctx
	interval := r.s.p.opt.HealthCheck
	var pingedAt time.Time // zero: no PING outstanding
	for {
		wait := interval
		if !pingedAt.IsZero() {
			wait = max(time.Until(pingedAt.Add(r.s.p.opt.PingTimeout)), time.Millisecond)
		}
		v, err := ps.ReceiveTimeout(ctx, wait)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			if !isTimeout(err) {
				return err
			}
			r.flushOverflow()
			if !pingedAt.IsZero() {
				if time.Since(pingedAt) >= r.s.p.opt.PingTimeout {
					return errPingTimeout
				}
				continue
			}
			if err := ps.Ping(ctx); err != nil {
				return err
			}
			pingedAt = time.Now()
			continue
		}
		switch m := v.(type) {
		case *redis.Pong:
			r.lastAlive = time.Now()
			pingedAt = time.Time{}
		case *redis.Message:
			r.lastAlive = time.Now()
			pingedAt = time.Time{}
			r.deliver(m)
			if r.nDropped > 0 && time.Since(r.dropSince) >= interval {
				r.flushOverflow()
			}
		case *redis.Subscription:
			// Redis ended the subscription (a Cluster slot moved: sunsubscribe)
			// or go-redis reconnected and resubscribed on its own: either way
			// messages may have been missed.
			return fmt.Errorf("%w: %s %s", errUnexpectedSub, m.Kind, m.Channel)
		}
	}
}

// reconnect opens a new connection, with backoff, until it succeeds
// (true) or the subscription is closed (false).
func (r *receiver) reconnect() bool {
	p := r.s.p
	var wait backoff.Backoff // 10 ms doubling to 1 s, jittered
	for {
		if p.cluster != nil {
			p.cluster.ReloadState(r.s.ctx) // the slot may have moved, or the node died
		}
		ctx, cancel := context.WithTimeout(r.s.ctx, p.openTimeout())
		err := r.open(ctx)
		cancel()
		if err == nil {
			return true
		}
		if r.s.ctx.Err() != nil || errors.Is(err, ErrClosed) {
			return false
		}
		t := time.NewTimer(wait.Next())
		select {
		case <-t.C:
		case <-r.s.ctx.Done():
			t.Stop()
			return false
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// deliver hands a go-redis message to the subscription.
func (r *receiver) deliver(m *redis.Message) {
	r.s.enqueue(r, &Message{Topic: m.Channel, Pattern: m.Pattern, Payload: []byte(m.Payload)})
}

// dropped records n messages dropped by the overflow policy.
func (r *receiver) dropped(n int64) {
	m := r.s.p.m
	m.add(&r.s.c.dropped, &m.total.dropped, nil, n)
	if r.nDropped == 0 {
		r.dropSince = time.Now()
	}
	r.nDropped += n
}

// overflowEnded is called when a message was buffered without a drop.
func (r *receiver) overflowEnded() {
	if r.nDropped > 0 {
		r.flushOverflow()
	}
}

// flushOverflow reports the drops recorded so far as one gap.
func (r *receiver) flushOverflow() {
	if r.nDropped == 0 {
		return
	}
	g := Gap{Topics: r.s.Topics(), Since: r.dropSince, Until: time.Now(), Reason: GapOverflow, Dropped: r.nDropped}
	r.nDropped = 0
	r.s.gap(g)
}
