package consistency

import (
	"fmt"
	"go.opentelemetry.io/otel/metric"
	"strings"
	"time"
)

// Mode chooses how a [Keeper] invalidates the cache after a write.
type Mode int

const (
	// DeleteAfterWrite deletes the keys (Redis, this instance's L1, every
	// other instance's L1) once the database change has returned. A reader
	// that loaded the old row before the change can still write it back
	// after the delete (the stale-set race); it then stays until its TTL.
	// It is the default.
	DeleteAfterWrite Mode = iota
	// DoubleDelete is DeleteAfterWrite plus a second delete of the same keys
	// [Options.Delay] later, scheduled durably in Redis and run by whichever
	// instance is alive when it falls due. It removes what the stale-set
	// race wrote back, unless the racing load took longer than the delay;
	// readers may see the stale value until then.
	DoubleDelete
	// Strong needs a cache built with versioned fills
	// (cache.Options.VersionedFills): its Delete voids every fill whose read
	// started before the delete, atomically with the delete, so the
	// stale-set race cannot write the old row back. Writes invalidate as in
	// DeleteAfterWrite; no second delete is needed. The only stale reads
	// left are from other instances' L1 tiers, for at most their L1 TTL.
	Strong
)

// String returns "delete-after-write", "double-delete" or "strong".
func (m Mode) String() string {
	switch m {
	case DeleteAfterWrite:
		return "delete-after-write"
	case DoubleDelete:
		return "double-delete"
	case Strong:
		return "strong"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Options configures a [Keeper]. The zero value of every field means its
// documented default; a nil *Options means all defaults. [New] copies the
// options and never changes the caller's struct.
type Options struct {
	// Mode chooses the invalidation strategy. Zero is [DeleteAfterWrite].
	Mode Mode

	// Delay is how long after a write the second delete of [DoubleDelete]
	// runs. If zero, it follows the cache: its observed p99 load latency
	// times DelayFactor, at least MinDelay, recomputed at every write;
	// MinDelay alone while the cache has observed no load.
	Delay time.Duration

	// DelayFactor multiplies the cache's p99 load latency for the default
	// Delay. If zero, 2.
	DelayFactor float64

	// MinDelay is the floor of the default Delay. If zero, 100 ms.
	MinDelay time.Duration

	// Shards is the number of sorted sets the durable schedule is spread
	// over ("{Namespace:prefix:0}" ... ), each in one hash slot, so that on
	// a Cluster the schedule is spread over the masters. Every instance of
	// one cache must use the same value. If zero, 16.
	Shards int

	// Namespace starts the schedule's key names. If empty, "aside:dd".
	Namespace string

	// PollInterval is how often an instance looks for deletes that fell due
	// and that no live instance has run (their writer crashed). An
	// instance's own deletes run on a timer at their due time, without
	// polling. If zero, 1 second.
	PollInterval time.Duration

	// ClaimTimeout is how long a scheduled delete claimed by an instance
	// stays invisible to the others; if that instance dies before it has
	// finished, another one runs the delete after ClaimTimeout. If zero,
	// 10 seconds.
	ClaimTimeout time.Duration

	// IntentTimeout bounds how long a write may take. Before the database
	// change runs, [Keeper.Write] records an intent to invalidate its keys,
	// due IntentTimeout later; a write that finishes its invalidation
	// removes it. If the writer dies (or Redis fails) between the change and
	// the invalidation, another instance invalidates the keys when the intent
	// falls due, so a crash leaves stale values for at most IntentTimeout
	// (+PollInterval). A write running longer than IntentTimeout loses that
	// protection (its intent runs early, which is harmless). If zero,
	// 10 seconds.
	IntentTimeout time.Duration

	// Retries is how many times a failed Redis delete or publish is retried
	// (with backoff) before [Keeper.Write] gives up and leaves the keys to
	// the durable intent. If zero, 3. If negative, no retry.
	Retries int

	// InvalidateTimeout bounds the invalidation after a write, retries
	// included. It runs detached from the caller's context, so a caller
	// that gives up after its change committed does not skip it. If zero,
	// 5 seconds.
	InvalidateTimeout time.Duration

	// Topic is the pubsub topic on which instances tell each other which
	// keys to drop from their L1 tier. Every instance of one cache must use
	// the same value. If empty, "aside:inv:" + the cache's prefix.
	Topic string

	// NoBroadcast turns the L1 invalidation across instances off: no
	// subscription, no publish. Use it when the cache has no L1 tier.
	NoBroadcast bool

	// OnError, if set, is called with every error of the background work
	// (a scheduled delete that failed and will be retried, a malformed
	// schedule entry, a broadcast that could not be decoded). It must not
	// block. If nil, these errors are only counted in [Stats].
	OnError func(error)

	// MeterProvider receives the Keeper's OpenTelemetry counters
	// (aside.consistency.*, the same counts as [Keeper.Stats]). If nil, the
	// global provider (otel.GetMeterProvider).
	MeterProvider metric.MeterProvider
}

const (
	defaultDelayFactor       = 2
	defaultMinDelay          = 100 * time.Millisecond
	defaultShards            = 16
	defaultNamespace         = "aside:dd"
	defaultPollInterval      = time.Second
	defaultClaimTimeout      = 10 * time.Second
	defaultIntentTimeout     = 10 * time.Second
	defaultRetries           = 3
	defaultInvalidateTimeout = 5 * time.Second
	defaultTopicPrefix       = "aside:inv:"
	claimBatch               = 100
)

// withDefaults validates o and returns a copy with defaults filled in.
func (o *Options) withDefaults(prefix string) (Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	bad := func(format string, args ...any) (Options, error) {
		return c, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...)
	}
	if c.Mode < DeleteAfterWrite || c.Mode > Strong {
		return bad("unknown Mode %d", int(c.Mode))
	}
	if c.Delay < 0 || c.MinDelay < 0 || c.DelayFactor < 0 {
		return bad("negative Delay, MinDelay or DelayFactor")
	}
	if c.DelayFactor == 0 {
		c.DelayFactor = defaultDelayFactor
	}
	if c.MinDelay == 0 {
		c.MinDelay = defaultMinDelay
	}
	if c.Shards < 0 || c.Shards > 1024 {
		return bad("Shards %d not in [0, 1024]", c.Shards)
	}
	if c.Shards == 0 {
		c.Shards = defaultShards
	}
	if c.Namespace == "" {
		c.Namespace = defaultNamespace
	}
	if strings.ContainsAny(c.Namespace, "{}|") {
		return bad("Namespace %q contains '{', '}' or '|'", c.Namespace)
	}
	if c.PollInterval < 0 || c.ClaimTimeout < 0 || c.IntentTimeout < 0 || c.InvalidateTimeout < 0 {
		return bad("negative PollInterval, ClaimTimeout, IntentTimeout or InvalidateTimeout")
	}
	if c.PollInterval == 0 {
		c.PollInterval = defaultPollInterval
	}
	if c.ClaimTimeout == 0 {
		c.ClaimTimeout = defaultClaimTimeout
	}
	if c.IntentTimeout == 0 {
		c.IntentTimeout = defaultIntentTimeout
	}
	if c.ClaimTimeout < time.Millisecond || c.IntentTimeout < time.Millisecond || c.PollInterval < time.Millisecond {
		return bad("PollInterval, ClaimTimeout and IntentTimeout must be at least 1ms")
	}
	if c.InvalidateTimeout == 0 {
		c.InvalidateTimeout = defaultInvalidateTimeout
	}
	if c.Retries == 0 {
		c.Retries = defaultRetries
	}
	if c.Retries < 0 {
		c.Retries = 0
	}
	if c.Topic == "" {
		c.Topic = defaultTopicPrefix + prefix
	}
	return c, nil
}
