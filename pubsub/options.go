package pubsub

import (
	"fmt"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// Mode chooses between classic and sharded Redis Pub/Sub.
type Mode int

const (
	// ModeAuto uses sharded Pub/Sub on a *redis.ClusterClient and classic
	// Pub/Sub on every other client.
	ModeAuto Mode = iota
	// ModeClassic uses PUBLISH, SUBSCRIBE and PSUBSCRIBE. On a Cluster every
	// message is broadcast to every node.
	ModeClassic
	// ModeSharded uses SPUBLISH and SSUBSCRIBE (Redis 7.0 or later). A
	// message only travels within the shard owning its topic's hash slot.
	// Pattern subscriptions are not available in this mode.
	ModeSharded
)

// String returns "auto", "classic" or "sharded".
func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeClassic:
		return "classic"
	case ModeSharded:
		return "sharded"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Policy says what a subscription does with a message that arrives while
// its buffer is full, that is when handlers are slower than publishers.
type Policy int

const (
	// Block stops reading from Redis until a handler frees a slot: no
	// message is dropped in the process. Redis then buffers for the
	// subscriber; when its client-output-buffer-limit for pubsub clients is
	// exceeded (32 MB, or 8 MB for 60 s, by default) Redis closes the
	// connection, and the PubSub reconnects and reports a [Gap] with
	// [GapReconnect]. Nothing is lost unreported.
	Block Policy = iota
	// DropNewest discards the arriving message and keeps the buffered ones.
	DropNewest
	// DropOldest discards the oldest buffered message to make room for the
	// arriving one.
	DropOldest
)

// String returns "block", "drop-newest" or "drop-oldest".
func (p Policy) String() string {
	switch p {
	case Block:
		return "block"
	case DropNewest:
		return "drop-newest"
	case DropOldest:
		return "drop-oldest"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// Options configure a [PubSub]. The zero value is valid: one handler
// goroutine per subscription, a buffer of 1024 messages with [Block], a
// health check every second.
type Options struct {
	// Mode chooses classic or sharded Pub/Sub. If zero, [ModeAuto].
	Mode Mode

	// Concurrency is the number of goroutines running the handler of each
	// subscription. Messages of one subscription are handled in the order
	// they arrived only when it is 1. If zero, 1.
	Concurrency int

	// Buffer is the number of received messages each subscription holds
	// while its handlers are busy. If zero, 1024.
	Buffer int

	// BufferBytes bounds the payload bytes each subscription holds while
	// its handlers are busy, besides their number (Buffer): a buffer is
	// full when either bound is reached. A message larger than BufferBytes
	// counts as BufferBytes. If zero, 32 MiB (Redis' own default limit for
	// a Pub/Sub client's output buffer).
	BufferBytes int64

	// OpTimeout bounds [PubSub.Publish] and the confirmation of
	// [PubSub.Subscribe] when their ctx has no earlier deadline. If zero,
	// 5 seconds; if negative, only ctx bounds them.
	OpTimeout time.Duration

	// Overflow is what happens to a message arriving at a full buffer. If
	// zero, [Block].
	Overflow Policy

	// HealthCheck is how long a connection may stay silent before the
	// PubSub sends it a PING. If zero, 1 second.
	HealthCheck time.Duration

	// PingTimeout is how long a health-check PING may stay unanswered
	// before the connection is treated as lost, so a lost connection is
	// noticed within HealthCheck+PingTimeout even when no error arrives (a
	// frozen server, a silently dropped TCP connection). Too short a value
	// reports gaps that did not happen when the host is overloaded. If
	// zero, HealthCheck but at least 1 second.
	PingTimeout time.Duration

	// OnGap, if set, is called once per gap in delivery: after a lost
	// connection has been resubscribed, after Redis dropped the
	// subscription (a Cluster slot moved), and after messages were dropped
	// by the [Policy]. Messages published between Gap.Since and Gap.Until
	// may never reach the handler. It runs on the subscription's receive
	// goroutine (one per hash slot in sharded mode on a Cluster, so calls
	// may be concurrent): keep it short and do not call
	// [Subscription.Close] or [PubSub.Close] from it. No gap is reported
	// for a subscription closed while disconnected.
	OnGap func(Gap)

	// OnDisconnect, if set, is called as soon as a subscription's connection
	// is found lost, before reconnecting; the matching [Gap] follows once it
	// is resubscribed. Use it to stop trusting local state at once. Same
	// rules as OnGap.
	OnDisconnect func(Disconnect)

	// OnError, if set, is called with every error a handler returns and
	// every handler panic (wrapped in [ErrHandlerPanic]), from the handler's
	// goroutine, as a *[HandlerError] that carries the message
	// (errors.As). Either way the subscription goes on. If nil, they are
	// only counted in [Stats].
	OnError func(error)

	// MeterProvider provides the meter for the aside.pubsub.* counters. If
	// nil, the global provider (otel.GetMeterProvider).
	MeterProvider metric.MeterProvider
}

const (
	defaultBuffer      = 1024
	defaultHealthCheck = time.Second
)

// withDefaults validates o and returns a copy with defaults filled in.
func (o *Options) withDefaults() (Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Mode < ModeAuto || c.Mode > ModeSharded {
		return c, fmt.Errorf("%w: unknown mode %d", ErrInvalidOptions, int(c.Mode))
	}
	if c.Overflow < Block || c.Overflow > DropOldest {
		return c, fmt.Errorf("%w: unknown overflow policy %d", ErrInvalidOptions, int(c.Overflow))
	}
	switch {
	case c.Concurrency < 0:
		return c, fmt.Errorf("%w: Concurrency %d is negative", ErrInvalidOptions, c.Concurrency)
	case c.Buffer < 0:
		return c, fmt.Errorf("%w: Buffer %d is negative", ErrInvalidOptions, c.Buffer)
	case c.BufferBytes < 0:
		return c, fmt.Errorf("%w: BufferBytes %d is negative", ErrInvalidOptions, c.BufferBytes)
	case c.HealthCheck < 0:
		return c, fmt.Errorf("%w: HealthCheck %v is negative", ErrInvalidOptions, c.HealthCheck)
	case c.PingTimeout < 0:
		return c, fmt.Errorf("%w: PingTimeout %v is negative", ErrInvalidOptions, c.PingTimeout)
	}
	if c.BufferBytes == 0 {
		c.BufferBytes = 32 << 20
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = 5 * time.Second
	}
	if c.Concurrency == 0 {
		c.Concurrency = 1
	}
	if c.Buffer == 0 {
		c.Buffer = defaultBuffer
	}
	if c.HealthCheck == 0 {
		c.HealthCheck = defaultHealthCheck
	}
	if c.PingTimeout == 0 {
		c.PingTimeout = max(c.HealthCheck, time.Second)
	}
	return c, nil
}

// SubscribeOption changes one subscription's settings from the PubSub's
// [Options].
type SubscribeOption func(*subConfig)

type subConfig struct {
	concurrency int
	buffer      int
	overflow    Policy
}

// WithConcurrency sets the number of handler goroutines of one
// subscription. Values below 1 are an error at subscribe time.
func WithConcurrency(n int) SubscribeOption {
	return func(c *subConfig) { c.concurrency = n }
}

// WithBuffer sets the buffer size of one subscription. Values below 1 are
// an error at subscribe time.
func WithBuffer(n int) SubscribeOption {
	return func(c *subConfig) { c.buffer = n }
}

// WithOverflow sets the overflow policy of one subscription.
func WithOverflow(p Policy) SubscribeOption {
	return func(c *subConfig) { c.overflow = p }
}

func (c subConfig) validate() error {
	if c.concurrency < 1 || c.buffer < 1 {
		return fmt.Errorf("%w: concurrency %d and buffer %d must be at least 1", ErrInvalidOptions, c.concurrency, c.buffer)
	}
	if c.overflow < Block || c.overflow > DropOldest {
		return fmt.Errorf("%w: unknown overflow policy %d", ErrInvalidOptions, int(c.overflow))
	}
	return nil
}
