package pubsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/aside-go/aside/internal/validate"
	"github.com/redis/go-redis/v9"
)

var (
	// ErrClosed is returned by methods of a closed [PubSub].
	ErrClosed = errors.New("pubsub: closed")
	// ErrInvalidOptions is wrapped by every error [New], [PubSub.Subscribe]
	// and [PubSub.PSubscribe] return for options that cannot work; the
	// message names the field and its value.
	ErrInvalidOptions = errors.New("pubsub: invalid options")
	// ErrNoTopics is returned by Subscribe and PSubscribe without topics.
	ErrNoTopics = errors.New("pubsub: no topics")
	// ErrShardedPattern is returned by [PubSub.PSubscribe] in sharded mode:
	// SPUBLISHed messages never match patterns. Use [ModeClassic].
	ErrShardedPattern = errors.New("pubsub: pattern subscriptions need classic mode")
	// ErrHandlerPanic wraps a handler's panic value in the error passed to
	// [Options.OnError].
	ErrHandlerPanic = errors.New("pubsub: handler panicked")
)

// PubSub publishes and subscribes over one shared go-redis client. It is
// safe for concurrent use. Its zero value is not usable: call [New].
type PubSub struct {
	rdb     redis.UniversalClient
	cluster *redis.ClusterClient // rdb, when it is a Cluster client
	opt     Options
	sharded bool
	m       *metrics

	mu     sync.Mutex // guards subs and closed
	subs   map[*Subscription]struct{}
	closed bool
}

// New returns a PubSub using rdb, which it shares and never closes. nil
// options mean the defaults of [Options]. New does no I/O.
func New(rdb redis.UniversalClient, opt *Options) (*PubSub, error) {
	if validate.Nil(rdb) {
		return nil, fmt.Errorf("%w: nil client", ErrInvalidOptions)
	}
	o, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &PubSub{rdb: rdb, opt: o, subs: map[*Subscription]struct{}{}}
	p.cluster, _ = rdb.(*redis.ClusterClient)
	switch o.Mode {
	case ModeAuto:
		p.sharded = p.cluster != nil
	case ModeSharded:
		p.sharded = true
	}
	mode := "classic"
	if p.sharded {
		mode = "sharded"
	}
	if p.m, err = newMetrics(o.MeterProvider, mode); err != nil {
		return nil, fmt.Errorf("pubsub: metrics: %w", err)
	}
	return p, nil
}

// Sharded reports whether p uses sharded Pub/Sub (SPUBLISH, SSUBSCRIBE).
func (p *PubSub) Sharded() bool { return p.sharded }

// Publish encodes v as JSON and publishes it to topic. Delivery is at most
// once: a subscriber that is disconnected misses the message (and learns of
// it through [Options.OnGap]). For another encoding, see
// [PubSub.PublishRaw].
func (p *PubSub) Publish(ctx context.Context, topic string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("pubsub: encode message for %q: %w", topic, err)
	}
	return p.PublishRaw(ctx, topic, b)
}

// PublishRaw publishes payload to topic as it is. With a [Codec] of your
// own: b, err := c.Append(nil, v), then PublishRaw(ctx, topic, b), and
// subscribe with [TypedWith](c, fn). On a
// Cluster, a failed publish also asks the client to reload its slot map,
// so that a retry after a failover reaches the new owner.
func (p *PubSub) PublishRaw(ctx context.Context, topic string, payload []byte) error {
	if p.isClosed() {
		return ErrClosed
	}
	ctx, cancel := p.opCtx(ctx)
	defer cancel()
	var err error
	if p.sharded {
		err = p.rdb.SPublish(ctx, topic, payload).Err()
	} else {
		err = p.rdb.Publish(ctx, topic, payload).Err()
	}
	if err != nil {
		if p.cluster != nil {
			// go-redis reloads the slot map on MOVED but not when the owner
			// is unreachable: ask for a reload so that a retry after a
			// failover reaches the new owner.
			p.cluster.ReloadState(ctx)
		}
		return fmt.Errorf("pubsub: publish to %q: %w", topic, err)
	}
	return nil
}

// Subscribe subscribes h to topics and returns once Redis has confirmed
// every subscription: any message published after Subscribe returns reaches
// h, unless a [Gap] reports otherwise. The subscription runs until it or p
// is closed; ctx only bounds the initial subscribe. Each subscription has
// connections of its own: one, or on a Cluster in sharded mode one per
// hash slot of its topics.
func (p *PubSub) Subscribe(ctx context.Context, topics []string, h Handler, opts ...SubscribeOption) (*Subscription, error) {
	return p.subscribe(ctx, topics, h, false, opts)
}

// PSubscribe is [PubSub.Subscribe] for glob-style patterns such as
// "news.*" (PSUBSCRIBE). It returns [ErrShardedPattern] in sharded mode.
func (p *PubSub) PSubscribe(ctx context.Context, patterns []string, h Handler, opts ...SubscribeOption) (*Subscription, error) {
	if p.sharded {
		return nil, ErrShardedPattern
	}
	return p.subscribe(ctx, patterns, h, true, opts)
}

// opCtx bounds one operation by Options.OpTimeout unless ctx ends sooner.
func (p *PubSub) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if p.opt.OpTimeout < 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, p.opt.OpTimeout)
}

func (p *PubSub) subscribe(ctx context.Context, topics []string, h Handler, pattern bool, opts []SubscribeOption) (*Subscription, error) {
	if validate.Nil(h) {
		return nil, fmt.Errorf("%w: nil handler", ErrInvalidOptions)
	}
	ctx, cancel := p.opCtx(ctx)
	defer cancel()
	topics = slices.Compact(slices.Sorted(slices.Values(topics)))
	if len(topics) == 0 {
		return nil, ErrNoTopics
	}
	cfg := subConfig{concurrency: p.opt.Concurrency, buffer: p.opt.Buffer, overflow: p.opt.Overflow}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	kind := kindClassic
	switch {
	case pattern:
		kind = kindPattern
	case p.sharded:
		kind = kindSharded
	}
	s := newSubscription(p, topics, h, kind, cfg)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	p.subs[s] = struct{}{}
	p.mu.Unlock()
	if err := s.start(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func (p *PubSub) remove(s *Subscription) {
	p.mu.Lock()
	delete(p.subs, s)
	p.mu.Unlock()
}

func (p *PubSub) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Close closes every subscription, waiting for their running handlers to
// return, and makes further calls fail with [ErrClosed]. It never closes
// the client. It is idempotent and safe to call concurrently; it must not
// be called from a handler or callback of p. It returns nil.
//
// Shutdown order: no new subscriptions; each subscription's context is
// canceled and its connections closed; its receive goroutines end; its
// handler goroutines finish the message they run and end; buffered
// messages not yet started are discarded (counted in Stats.Dropped).
func (p *PubSub) Close() error {
	p.mu.Lock()
	if !p.closed {
		_ = p.m.reg.Unregister()
	}
	p.closed = true
	subs := make([]*Subscription, 0, len(p.subs))
	for s := range p.subs {
		subs = append(subs, s)
	}
	p.mu.Unlock()
	for _, s := range subs {
		_ = s.Close()
	}
	return nil
}

// Stats returns the counts of every subscription p has had, plus the
// number still open.
func (p *PubSub) Stats() Stats {
	st := p.m.total.snapshot()
	p.mu.Lock()
	st.Subscriptions = len(p.subs)
	p.mu.Unlock()
	return st
}
