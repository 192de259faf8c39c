package cache

import (
	"errors"
	"fmt"
	"github.com/aside-go/aside/internal/codec"
	"math"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/aside-go/aside/internal/keys"
)

// FailPolicy says what [Cache.Get] does when Redis fails (an error other
// than a miss, including an operation timeout).
type FailPolicy int

const (
	// FailOpen serves from the loader while Redis is failing, with at most
	// [Options.MaxFailOpenLoads] loads running at once in this process, so
	// the database sees a bounded load instead of the whole traffic. Values
	// loaded this way are not written to Redis. It is the default.
	FailOpen FailPolicy = iota
	// FailClosed returns an error wrapping [ErrUnavailable] and the cause.
	FailClosed
)

// String returns "fail-open" or "fail-closed".
func (p FailPolicy) String() string {
	switch p {
	case FailOpen:
		return "fail-open"
	case FailClosed:
		return "fail-closed"
	}
	return fmt.Sprintf("FailPolicy(%d)", int(p))
}

// Options configures a [Cache]. The zero value of every field means its
// documented default; a nil *Options means all defaults. [New] copies the
// options and never changes the caller's struct.
type Options[V any] struct {
	// Prefix namespaces every Redis key: user key k lives under
	// "{Prefix|k}". It must not contain '{', '}' or '|'. If empty, "aside:cache".
	Prefix string

	// TTL is how long a value lives in Redis. If zero, 1 hour.
	TTL time.Duration

	// SoftTTL is the logical expiry: past it a value is stale. Get serves a
	// stale value at once and refreshes it in the background, one refresh
	// in the whole fleet (stale-while-revalidate). The refresh calls the
	// reader's loader (Loader, or the one given to GetWith); stale values
	// met by GetMany are refreshed through Loader, if set. It must not
	// exceed TTL. If zero, there is no logical expiry and values live
	// until TTL.
	SoftTTL time.Duration

	// RefreshAhead starts a background refresh when a fresh value has less
	// than RefreshAhead of its soft life left, so hot keys are refreshed
	// before they go stale. Needs SoftTTL. If zero, no early refresh.
	RefreshAhead time.Duration

	// NegativeTTL is how long a "not found" answer of the loader is cached.
	// If zero, 1 minute. If negative, not-found answers are not cached.
	NegativeTTL time.Duration

	// Jitter is the fraction of every written TTL (values, negative
	// entries, L1) that is taken off at random, so keys written together do
	// not expire together: a TTL d becomes a uniform value in
	// (d*(1-Jitter), d]. If zero, 0.1. If negative, no jitter. At most 0.9.
	Jitter float64

	// Loader loads a value on a miss for [Cache.Get]. It may be nil if
	// every read uses [Cache.GetWith] or a batch loader.
	Loader Loader[V]

	// BatchLoader loads the misses of [Cache.GetMany] in one call. If nil,
	// GetMany loads each miss through Loader, as Get does.
	BatchLoader BatchLoader[V]

	// OnError receives errors of the cache's background work that no
	// caller sees: a lost tracking connection (LocalOptions.Tracking). If
	// nil, they are only counted.
	OnError func(error)

	// Codec encodes values. If nil, [String] for string values, [Bytes]
	// for []byte values, else [JSON].
	Codec Codec[V]

	// LoadTimeout bounds one load (the loader call, the lease wait and the
	// fill). The load runs detached from the callers' contexts. If zero,
	// 5 seconds.
	LoadTimeout time.Duration

	// OpTimeout bounds each Redis round trip: it becomes the deadline of
	// the context the cache passes to go-redis, which applies it to the
	// socket when the client has ContextTimeoutEnabled (otherwise the
	// client's own ReadTimeout and WriteTimeout apply). A wait for a free
	// pool connection is bounded by the client's PoolTimeout, not by
	// OpTimeout. A round trip that times out counts as Redis trouble (see
	// FailPolicy). If zero, 500 ms. If negative, no per-operation deadline
	// beyond the caller's context.
	OpTimeout time.Duration

	// Backoff is how long the cache leaves Redis alone after a Redis
	// operation failed or timed out: meanwhile every Get is answered as if
	// Redis had failed (FailPolicy), without asking it, so an outage costs
	// one OpTimeout per Backoff rather than one or two per call. If zero,
	// 1 second; if negative, Redis is asked every time.
	Backoff time.Duration

	// LeaseTTL is how long the cross-process load lease lives. A process
	// whose lease holder died takes over after at most LeaseTTL. Loads
	// longer than LeaseTTL may run twice in the fleet. If zero, LoadTimeout.
	LeaseTTL time.Duration

	// DisableLease turns the cross-process lease off: every process loads a
	// cold key itself (singleflight still collapses loads within one
	// process). Versioned fills need the lease and are refused with it.
	DisableLease bool

	// VersionedFills makes fills safe against a concurrent [Cache.Delete]:
	// the lease round trip also reads a per-key version marker
	// "{prefix|key}:ver", the fill is a script that writes only if the
	// marker is unchanged, and Delete and Set bump the marker in the same
	// script that deletes or writes the value. The marker lives
	// 2*(LoadTimeout+OpTimeout)+1m, longer than any load can take, since a
	// fill that lands after LoadTimeout is dropped. If false, fills are plain
	// SETs and Delete a plain DEL.
	VersionedFills bool

	// FailPolicy says what Get does when Redis fails. Zero is [FailOpen].
	FailPolicy FailPolicy

	// MaxFailOpenLoads bounds concurrent loads under [FailOpen] while Redis
	// is failing. If zero, 16.
	MaxFailOpenLoads int

	// Local enables the in-process L1 tier in front of Redis. If nil, no L1.
	Local *LocalOptions

	// Bloom enables the bloom filter guard. If nil, no guard.
	Bloom *BloomOptions

	// MeterProvider receives the cache's OpenTelemetry metrics. If nil,
	// the global provider (otel.GetMeterProvider).
	MeterProvider metric.MeterProvider
}

// LocalOptions configures the in-process L1 tier.
type LocalOptions struct {
	// Size is the most entries the tier holds; the least recently used
	// (clock approximation) go first. If zero, 10,000.
	Size int
	// TTL is how long an entry lives in the tier, jittered like every TTL.
	// If zero, 10 seconds.
	TTL time.Duration
	// Tracking keeps the tier right through Redis itself: Redis reports
	// every change of a key of the cache's prefix, whoever made it
	// (another service, a script, redis-cli), and the entry is dropped
	// (CLIENT TRACKING in broadcast mode, on two connections per node
	// that the cache opens beside the client; Redis 6 or later). A lost
	// tracking connection flushes the tier and is reported to
	// [Options.OnError] and counted in [Stats.TrackingFlushes]. Entries
	// still expire after TTL. A server that refuses tracking (before
	// Redis 6, or an ACL without CLIENT TRACKING) makes the tier fall back
	// to an untracked L1 for the cache's lifetime, reported to OnError and
	// counted in [Stats.TrackingFallbacks].
	Tracking bool
}

// ErrInvalidOptions is wrapped by every error [New] returns for options
// that cannot work; the message names the field and its value.
var ErrInvalidOptions = errors.New("cache: invalid options")

const (
	defaultPrefix           = "aside:cache"
	defaultTTL              = time.Hour
	defaultNegativeTTL      = time.Minute
	defaultJitter           = 0.1
	defaultLoadTimeout      = 5 * time.Second
	defaultOpTimeout        = 500 * time.Millisecond
	defaultBackoff          = time.Second
	defaultMaxFailOpenLoads = 16
	defaultLocalSize        = 10000
	defaultLocalTTL         = 10 * time.Second
	defaultBloomFP          = 0.01
)

// withDefaults returns a copy of o with defaults applied, or an error.
func (o *Options[V]) withDefaults() (Options[V], error) {
	var c Options[V]
	if o != nil {
		c = *o
	}
	bad := func(format string, args ...any) (Options[V], error) {
		return c, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...)
	}
	if c.Prefix == "" {
		c.Prefix = defaultPrefix
	}
	if err := keys.CheckPrefix(c.Prefix); err != nil {
		return bad("Prefix %q contains '{', '}' or '|'", c.Prefix)
	}
	if c.TTL == 0 {
		c.TTL = defaultTTL
	}
	if c.TTL < time.Millisecond {
		return bad("TTL %v under 1ms", c.TTL)
	}
	if c.SoftTTL < 0 || c.SoftTTL > c.TTL {
		return bad("SoftTTL %v not in [0, TTL]", c.SoftTTL)
	}
	if c.RefreshAhead < 0 || (c.RefreshAhead > 0 && c.SoftTTL == 0) {
		return bad("RefreshAhead %v needs a SoftTTL", c.RefreshAhead)
	}
	if c.NegativeTTL == 0 {
		c.NegativeTTL = defaultNegativeTTL
	}
	if c.NegativeTTL > 0 && c.NegativeTTL < time.Millisecond {
		return bad("NegativeTTL %v under 1ms", c.NegativeTTL)
	}
	switch {
	case math.IsNaN(c.Jitter):
		return bad("Jitter is NaN")
	case c.Jitter == 0:
		c.Jitter = defaultJitter
	case c.Jitter < 0:
		c.Jitter = 0
	case c.Jitter > 0.9:
		return bad("Jitter %v above 0.9", c.Jitter)
	}
	if c.Codec == nil {
		c.Codec = codec.Default[V]()
	}
	if c.LoadTimeout == 0 {
		c.LoadTimeout = defaultLoadTimeout
	}
	if c.LoadTimeout < 0 {
		return bad("LoadTimeout %v negative", c.LoadTimeout)
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = defaultOpTimeout
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = c.LoadTimeout
	}
	if c.Backoff == 0 {
		c.Backoff = defaultBackoff
	}
	if c.LeaseTTL < 10*time.Millisecond {
		return bad("LeaseTTL %v under 10ms", c.LeaseTTL)
	}
	if c.VersionedFills && c.DisableLease {
		return bad("VersionedFills needs the lease")
	}
	if c.FailPolicy != FailOpen && c.FailPolicy != FailClosed {
		return bad("unknown FailPolicy %d", int(c.FailPolicy))
	}
	if c.MaxFailOpenLoads == 0 {
		c.MaxFailOpenLoads = defaultMaxFailOpenLoads
	}
	if c.MaxFailOpenLoads < 0 {
		return bad("MaxFailOpenLoads %d negative", c.MaxFailOpenLoads)
	}
	if c.Local != nil {
		l := *c.Local
		if l.Size == 0 {
			l.Size = defaultLocalSize
		}
		if l.TTL == 0 {
			l.TTL = defaultLocalTTL
		}
		if l.Size < 0 || l.TTL < 0 {
			return bad("Local Size %d / TTL %v negative", l.Size, l.TTL)
		}
		c.Local = &l
	}
	if c.Bloom != nil {
		b := *c.Bloom
		if b.Expected == 0 {
			return bad("Bloom.Expected is zero")
		}
		if b.FalsePositive == 0 {
			b.FalsePositive = defaultBloomFP
		}
		if b.FalsePositive <= 0 || b.FalsePositive >= 1 {
			return bad("Bloom.FalsePositive %v not in (0, 1)", b.FalsePositive)
		}
		c.Bloom = &b
	}
	return c, nil
}

// markerTTL is how long a version marker outlives its last bump.
func (o *Options[V]) markerTTL() time.Duration {
	op := o.OpTimeout
	if op < 0 {
		op = 0
	}
	return 2*(o.LoadTimeout+op) + time.Minute
}
