package queue

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/aside-go/aside/internal/keys"
)

// Options configure a [Queue]. The zero value is valid: every field's
// comment says what zero means.
type Options struct {
	// Prefix is put in front of every Redis key of the queue, inside the
	// hash tag: "{Prefix|name}:ready". If empty, "aside:queue".
	Prefix string

	// MaxDeliveries is how many times a message is delivered before it goes
	// to the dead-letter list, counting deliveries whose consumer crashed.
	// [WithMaxDeliveries] overrides it per message. If zero, 5; a negative
	// value means no limit.
	MaxDeliveries int

	// MaxPayloadSize is the largest payload Enqueue and EnqueueMany
	// accept; a larger one is refused with [ErrTooLarge], stored nowhere.
	// If zero, 1 MiB; if negative, no limit.
	MaxPayloadSize int

	// MaxFetchBytes bounds the payload bytes one fetch delivers (a worker's
	// or [Queue.Fetch]'s), besides their number, so a batch of large
	// messages cannot take a consumer's memory at once. A fetch always
	// delivers its first message. If zero, 4 MiB; if negative, no bound.
	MaxFetchBytes int

	// OpTimeout bounds Enqueue and EnqueueMany when their ctx has no
	// earlier deadline, so a Redis that does not answer costs a bounded
	// wait (the message may or may not be stored then, as with any write
	// whose reply is lost). If zero, 5 seconds; if negative, only ctx
	// bounds them.
	OpTimeout time.Duration

	// WaitReplicas, when above zero, makes every Enqueue and EnqueueMany
	// wait (Redis WAIT, on the connection that wrote) until that many
	// replicas have the messages, for services that cannot lose an
	// acknowledged message in a failover: Redis replicates asynchronously,
	// so without it a message acknowledged just before the master fails
	// can be lost. If fewer replicas answer within WaitTimeout, the call
	// returns an error wrapping [ErrNotReplicated]: the message was stored
	// on the master (its ID is returned) and may or may not survive a
	// failover. If zero, no wait.
	WaitReplicas int

	// WaitTimeout bounds the wait for WaitReplicas; it must be below the
	// client's ReadTimeout. If zero, 1 second.
	WaitTimeout time.Duration

	// DedupeWindow is how long a dedupe ID given with [WithDedupeID] blocks
	// another message with the same dedupe ID, counted from the first
	// enqueue (and lasting past its ack). If zero, 24 hours.
	DedupeWindow time.Duration
}

func (o *Options) normalize() (Options, error) {
	var out Options
	if o != nil {
		out = *o
	}
	if out.Prefix == "" {
		out.Prefix = defaultPrefix
	}
	if keys.CheckPrefix(out.Prefix) != nil {
		return out, fmt.Errorf("%w: Prefix %q contains '{', '}' or '|'", ErrInvalidOptions, out.Prefix)
	}
	if out.MaxDeliveries == 0 {
		out.MaxDeliveries = 5
	}
	if out.MaxDeliveries < 0 {
		out.MaxDeliveries = -1
	}
	if out.WaitReplicas < 0 {
		return out, fmt.Errorf("%w: WaitReplicas %d is negative", ErrInvalidOptions, out.WaitReplicas)
	}
	if out.WaitTimeout == 0 {
		out.WaitTimeout = time.Second
	}
	if out.OpTimeout == 0 {
		out.OpTimeout = 5 * time.Second
	}
	if out.MaxPayloadSize == 0 {
		out.MaxPayloadSize = 1 << 20
	}
	if out.MaxFetchBytes == 0 {
		out.MaxFetchBytes = 4 << 20
	}
	switch {
	case out.DedupeWindow == 0:
		out.DedupeWindow = 24 * time.Hour
	case out.DedupeWindow < time.Millisecond:
		return out, fmt.Errorf("%w: DedupeWindow %v is below 1ms", ErrInvalidOptions, out.DedupeWindow)
	}
	return out, nil
}

// WorkerOptions configure a [Worker]. The zero value is valid: every field's
// comment says what zero means.
type WorkerOptions struct {
	// Concurrency is how many handlers run at once. If zero, 10.
	Concurrency int

	// FetchBatch is the most messages one fetch takes; a fetch never takes
	// more than there are idle handlers plus free Prefetch room. If zero,
	// Concurrency + Prefetch (at most 100).
	FetchBatch int

	// Prefetch is the most messages the worker holds beyond its running
	// handlers, fetched ahead so a handler that finishes starts the next
	// message at once instead of after a round trip to Redis. Held
	// messages are in flight: heartbeats extend them, a crash redelivers
	// them after the visibility timeout, and Shutdown returns those not
	// started to the front of the ready list at once, not counted as a
	// delivery. If zero, automatic: up to 100, as many as the handlers
	// finish within one fetch round trip (measured as they run), none
	// until a handler has finished and next to none for handlers much
	// longer than a round trip, so long jobs are never hoarded while other
	// workers idle. Negative: none, ever.
	Prefetch int

	// VisibilityTimeout is how long a delivery stays invisible to other
	// consumers without a heartbeat. Heartbeats extend it while the handler
	// runs, so it bounds how long a crashed consumer's messages wait before
	// redelivery. If zero, 30 seconds.
	VisibilityTimeout time.Duration

	// HeartbeatInterval is how often running deliveries' deadlines are
	// extended. It must be below VisibilityTimeout. If zero, a third of
	// VisibilityTimeout.
	HeartbeatInterval time.Duration

	// BlockTimeout bounds one blocking wait for new messages on an idle
	// queue; Shutdown may wait this long (plus up to 100ms: Redis ends
	// blocking timeouts at the granularity of its hz setting) for the wait
	// to return, because a blocking Redis command cannot be interrupted. It
	// must be below the client's ReadTimeout. If zero, 1 second.
	BlockTimeout time.Duration

	// ReapInterval is how often the worker, when it has not fetched in that
	// long (all its handlers busy), returns expired deliveries and due
	// delayed messages to the ready list. An idle worker reaps on every
	// wake-up, at least every BlockTimeout. If zero, 500ms.
	ReapInterval time.Duration

	// Backoff returns how long to wait before delivering a message again
	// after its delivery number failed (1 for the first delivery). If nil,
	// 1s doubling per delivery up to 5 minutes, each with jitter: a random
	// value between half and all of it.
	Backoff func(delivery int) time.Duration

	// ShutdownTimeout is how long [Worker.Close] lets running handlers
	// finish. If zero, 30 seconds.
	ShutdownTimeout time.Duration

	// MeterProvider receives the worker's OpenTelemetry counters
	// (aside.queue.*, the same counts as [Worker.Stats]). If nil, the
	// global provider (otel.GetMeterProvider).
	MeterProvider metric.MeterProvider

	// OnError, if not nil, is called with every error the worker's
	// background loops meet (Redis unreachable, a stale ack). It must not
	// block. Stats counts them either way.
	OnError func(error)
}

func (o *WorkerOptions) normalize() (WorkerOptions, error) {
	var out WorkerOptions
	if o != nil {
		out = *o
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"Concurrency", int64(out.Concurrency)}, {"FetchBatch", int64(out.FetchBatch)},
		{"VisibilityTimeout", int64(out.VisibilityTimeout)}, {"HeartbeatInterval", int64(out.HeartbeatInterval)},
		{"BlockTimeout", int64(out.BlockTimeout)}, {"ReapInterval", int64(out.ReapInterval)},
		{"ShutdownTimeout", int64(out.ShutdownTimeout)},
	} {
		if f.v < 0 {
			return out, fmt.Errorf("%w: %s %d is negative", ErrInvalidOptions, f.name, f.v)
		}
	}
	if out.Concurrency == 0 {
		out.Concurrency = 10
	}
	if out.FetchBatch == 0 {
		out.FetchBatch = min(out.Concurrency+out.prefetchMax(), 100)
	}
	out.FetchBatch = min(out.FetchBatch, out.Concurrency+out.prefetchMax())
	if out.VisibilityTimeout == 0 {
		out.VisibilityTimeout = 30 * time.Second
	}
	if out.VisibilityTimeout < 10*time.Millisecond {
		return out, fmt.Errorf("%w: VisibilityTimeout %v is below 10ms", ErrInvalidOptions, out.VisibilityTimeout)
	}
	if out.HeartbeatInterval == 0 {
		out.HeartbeatInterval = out.VisibilityTimeout / 3
	}
	if out.HeartbeatInterval >= out.VisibilityTimeout {
		return out, fmt.Errorf("%w: HeartbeatInterval %v is not below VisibilityTimeout %v", ErrInvalidOptions, out.HeartbeatInterval, out.VisibilityTimeout)
	}
	if out.BlockTimeout == 0 {
		out.BlockTimeout = time.Second
	}
	if out.BlockTimeout < time.Millisecond {
		return out, fmt.Errorf("%w: BlockTimeout %v is below 1ms", ErrInvalidOptions, out.BlockTimeout)
	}
	if out.ReapInterval == 0 {
		out.ReapInterval = 500 * time.Millisecond
	}
	if out.Backoff == nil {
		out.Backoff = defaultBackoff
	}
	if out.ShutdownTimeout == 0 {
		out.ShutdownTimeout = 30 * time.Second
	}
	return out, nil
}

// autoPrefetchMax bounds the automatic Prefetch.
const autoPrefetchMax = 100

// prefetchMax is the most messages held beyond running handlers.
func (o *WorkerOptions) prefetchMax() int {
	switch {
	case o.Prefetch < 0:
		return 0
	case o.Prefetch == 0:
		return autoPrefetchMax
	}
	return o.Prefetch
}

// defaultBackoff is 1s doubling per delivery up to 5 minutes, with "equal
// jitter": a uniform value in [d/2, d].
func defaultBackoff(delivery int) time.Duration {
	return jitter(expBackoff(delivery, time.Second, 5*time.Minute))
}

func expBackoff(delivery int, base, limit time.Duration) time.Duration {
	d := base
	for i := 1; i < delivery && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// EnqueueOption changes how one message is enqueued.
type EnqueueOption func(*enqueueConfig)

type enqueueConfig struct {
	id            string
	delay         time.Duration
	at            time.Time
	dedupeID      string
	maxDeliveries int
	err           error
}

// WithID sets the message's ID instead of a generated one. While a message
// with that ID is queued (ready, in flight, delayed or dead), enqueueing
// another returns [ErrDuplicate]; once it is acked the ID is free again.
func WithID(id string) EnqueueOption {
	return func(c *enqueueConfig) {
		if id == "" {
			c.err = errors.New("queue: WithID needs a non-empty id")
		}
		c.id = id
	}
}

// WithDelay makes the message deliverable no earlier than d from now,
// measured on the Redis server's clock.
func WithDelay(d time.Duration) EnqueueOption {
	return func(c *enqueueConfig) {
		if d < 0 {
			c.err = fmt.Errorf("queue: negative delay %v", d)
		}
		c.delay, c.at = d, time.Time{}
	}
}

// WithAt makes the message deliverable no earlier than t. A time in the
// past means now. t is turned into a delay from the caller's clock when
// Enqueue is called.
func WithAt(t time.Time) EnqueueOption {
	return func(c *enqueueConfig) { c.at, c.delay = t, 0 }
}

// WithDedupeID drops the message, returning [ErrDuplicate] and the first
// message's ID, when another message with the same dedupe ID was enqueued
// within [Options.DedupeWindow].
func WithDedupeID(id string) EnqueueOption {
	return func(c *enqueueConfig) {
		if id == "" {
			c.err = errors.New("queue: WithDedupeID needs a non-empty id")
		}
		c.dedupeID = id
	}
}

// WithMaxDeliveries overrides [Options.MaxDeliveries] for the message; a
// negative n means no limit.
func WithMaxDeliveries(n int) EnqueueOption {
	return func(c *enqueueConfig) {
		if n == 0 {
			c.err = errors.New("queue: WithMaxDeliveries(0)")
		}
		c.maxDeliveries = n
	}
}

// defaultPrefix is the Prefix of [Options] when empty.
const defaultPrefix = "aside:queue"
