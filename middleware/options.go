package middleware

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/middleware/internal/httprule"
)

// CacheOptions configure a [Cache]. The zero value is usable: every field
// says what its zero value means.
type CacheOptions struct {
	// Prefix starts every Redis key the cache writes. If empty, "aside:http".
	Prefix string

	// Name is the cache's name in the Cache-Status field (RFC 9211). If
	// empty, "aside". It must be a valid structured-field token.
	Name string

	// Key returns the cache key of a GET or HEAD request. It must not
	// depend on anything but the request target and, if it wants, fields
	// that are the same for every client (use Vary for the rest). If nil,
	// the key is the absolute URL: "http" or "https" (from r.TLS), the
	// lowercased host and r.URL.RequestURI().
	Key func(r *http.Request) string

	// DefaultTTL is the freshness lifetime given to responses that carry no
	// explicit one (no s-maxage, max-age or Expires) but have a status that
	// is cacheable by default (200, 203, 204, 300, 301, 308, 404, 405, 410,
	// 414, 501) or say "public". It is never given to a response to a
	// request carrying Cookie or Authorization (unless the response says
	// "public" or varies on that field): such a page may be personal, and
	// only its handler can say it is not. If zero, such responses are not
	// stored.
	DefaultTTL time.Duration

	// UnkeyedHeaders lists request fields that a handler may reflect in its
	// response (absolute links, redirects) although they are not part of
	// the cache key: a response to a request carrying one of them is not
	// stored unless the response varies on it (Vary), so a stranger's
	// X-Forwarded-Host cannot poison the page everyone gets. If nil,
	// [DefaultUnkeyedHeaders]; set an empty, non-nil slice to store regardless (only when a proxy in front of the
	// cache overwrites these fields).
	UnkeyedHeaders []string

	// LastModifiedFraction turns on heuristic freshness from Last-Modified
	// (RFC 9111 section 4.2.2): a response without explicit freshness, of a
	// heuristically cacheable status, with a Last-Modified before its Date,
	// is fresh for this fraction of the time between them (0.1 is the
	// usual choice), at most DefaultTTL if set, else at most 24 hours. It
	// takes precedence over DefaultTTL for responses with Last-Modified and
	// is never given to a request with Cookie or Authorization, as
	// DefaultTTL is not. If zero, off. It must be below 1.
	LastModifiedFraction float64

	// TargetedFields are the targeted cache-control fields (RFC 9213) this
	// cache obeys, in order, e.g. []string{"CDN-Cache-Control"}: the first
	// of them that a response carries with a valid value decides this
	// cache's storing and freshness instead of Cache-Control and Expires,
	// which still reach the client unchanged. If nil, none.
	TargetedFields []string

	// StaleKeep is how long a response stays stored after it goes stale:
	// one with a validator (ETag or Last-Modified) so the handler can answer
	// a revalidation with a cheap 304, one without so that a request's
	// max-stale can still use it (unless the response says must-revalidate
	// or no-cache). If zero, 1 minute; if negative, stale responses are
	// kept only for their stale-while-revalidate or stale-if-error windows.
	StaleKeep time.Duration

	// StaleOnError is how long past its freshness a stored response may
	// answer a request whose handler failed as an unreachable origin does:
	// a 502 or 504 status, or a panic with http.ErrAbortHandler (what
	// httputil.ReverseProxy does when the origin breaks off), as RFC 9111
	// section 4.2.4 allows a disconnected cache, and only when the response
	// permits serving it stale (not no-cache, must-revalidate,
	// proxy-revalidate or s-maxage). Set it when the cache fronts a proxy
	// (an hour is common). If zero, only a response's own stale-if-error
	// does this. Responses are kept that long past freshness.
	StaleOnError time.Duration

	// MaxBodySize is the largest body the cache stores. A response whose
	// Content-Length is larger is passed through without buffering; one
	// that grows past it while streaming stops being buffered and is not
	// stored. If zero, 1 MiB. Negative is an error.
	MaxBodySize int64

	// AllowSetCookie stores responses that carry Set-Cookie, cookies
	// included, so every client gets them. If false, such responses are not
	// stored.
	AllowSetCookie bool

	// TagHeader is the response field in which the handler lists the
	// response's tags, separated by spaces, for [Cache.PurgeTags]. The
	// field is removed before the response leaves the cache. If empty,
	// "Surrogate-Key".
	TagHeader string

	// OpTimeout bounds each Redis operation on the request path; when it
	// runs out the request is served by the handler as if nothing were
	// cached (fail open). If zero, 200 ms.
	OpTimeout time.Duration

	// Backoff is how long the cache leaves Redis alone after an operation
	// failed or timed out, passing every request straight to the handler,
	// so a dead Redis costs one timeout per Backoff rather than one per
	// request. If zero, 1 second; if negative, never.
	Backoff time.Duration

	// LeaseTTL bounds how long other instances wait for the one instance
	// that is filling a missed response: concurrent misses of one URL in
	// different processes are collapsed onto one handler call through a
	// Redis lease of this length. A handler slower than LeaseTTL lets the
	// waiters run it themselves. If zero, 10 seconds; if negative, misses
	// are collapsed only within a process.
	LeaseTTL time.Duration

	// RefreshTimeout bounds a background revalidation started by
	// stale-while-revalidate. If zero, 30 seconds.
	RefreshTimeout time.Duration

	// MeterProvider receives the cache's OpenTelemetry counters
	// (aside.middleware.cache.*). If nil, the global provider
	// (otel.GetMeterProvider).
	MeterProvider metric.MeterProvider

	// OnError, if not nil, is called with every error the cache meets and
	// does not return to anyone: a Redis operation that failed (the request
	// was served by the handler), a handler panic replaced by a stale
	// response (stale-if-error), a background revalidation that panicked.
	// It must not block. Stats counts them either way.
	OnError func(error)
}

// Defaults of [CacheOptions].
const (
	defaultPrefix      = "aside:http"
	defaultName        = "aside"
	defaultStaleKeep   = time.Minute
	defaultMaxBody     = 1 << 20
	defaultTagHeader   = "Surrogate-Key"
	defaultOpTimeout   = 200 * time.Millisecond
	defaultBackoff     = time.Second
	defaultLeaseTTL    = 10 * time.Second
	defaultRefresh     = 30 * time.Second
	purgeMarkerTTL     = 10 * time.Minute
	maxWaitRounds      = 3
	passMemory         = 5 * time.Second
	maxHints           = 1 << 14
	backgroundKeySpace = "bg"
)

// DefaultUnkeyedHeaders are the request fields that, by default, keep a
// response out of the cache unless it varies on them (see
// [CacheOptions.UnkeyedHeaders]): fields proxies and frameworks use to
// override the host, scheme, URL or method a handler sees.
var DefaultUnkeyedHeaders = []string{
	"X-Forwarded-Host", "X-Forwarded-Scheme", "X-Original-Url", "X-Rewrite-Url",
	"X-Http-Method-Override", "X-Http-Method", "X-Method-Override", "X-Host",
}

// ErrInvalidOptions is returned by [NewCache] and [NewIdempotency] for
// options that cannot work.
var ErrInvalidOptions = errors.New("middleware: invalid options")

func (o CacheOptions) withDefaults() (CacheOptions, error) {
	if o.Prefix == "" {
		o.Prefix = defaultPrefix
	}
	if keys.CheckPrefix(o.Prefix) != nil {
		return o, fmt.Errorf("%w: Prefix %q contains '{', '}' or '|'", ErrInvalidOptions, o.Prefix)
	}
	if o.Name == "" {
		o.Name = defaultName
	}
	if !httprule.IsToken(o.Name) {
		return o, fmt.Errorf("%w: Name %q is not a token", ErrInvalidOptions, o.Name)
	}
	switch {
	case o.DefaultTTL < 0:
		return o, fmt.Errorf("%w: DefaultTTL %v is negative", ErrInvalidOptions, o.DefaultTTL)
	case o.MaxBodySize < 0:
		return o, fmt.Errorf("%w: MaxBodySize %d is negative", ErrInvalidOptions, o.MaxBodySize)
	case o.OpTimeout < 0:
		return o, fmt.Errorf("%w: OpTimeout %v is negative", ErrInvalidOptions, o.OpTimeout)
	case o.RefreshTimeout < 0:
		return o, fmt.Errorf("%w: RefreshTimeout %v is negative", ErrInvalidOptions, o.RefreshTimeout)
	case o.StaleOnError < 0:
		return o, fmt.Errorf("%w: StaleOnError %v is negative", ErrInvalidOptions, o.StaleOnError)
	case !(o.LastModifiedFraction >= 0 && o.LastModifiedFraction < 1): // also NaN
		return o, fmt.Errorf("%w: LastModifiedFraction %v: want 0 (off) to below 1", ErrInvalidOptions, o.LastModifiedFraction)
	}
	targeted := make([]string, 0, len(o.TargetedFields))
	for _, n := range o.TargetedFields {
		if !httprule.IsToken(n) || strings.ContainsAny(n, ":/") {
			return o, fmt.Errorf("%w: TargetedFields has invalid field name %q", ErrInvalidOptions, n)
		}
		targeted = append(targeted, textproto.CanonicalMIMEHeaderKey(n))
	}
	o.TargetedFields = targeted
	if o.StaleKeep == 0 {
		o.StaleKeep = defaultStaleKeep
	} else if o.StaleKeep < 0 {
		o.StaleKeep = 0
	}
	if o.MaxBodySize == 0 {
		o.MaxBodySize = defaultMaxBody
	}
	if o.UnkeyedHeaders == nil {
		o.UnkeyedHeaders = DefaultUnkeyedHeaders
	}
	unkeyed := make([]string, 0, len(o.UnkeyedHeaders))
	for _, n := range o.UnkeyedHeaders {
		if n == "" || strings.ContainsAny(n, " \t\r\n:") {
			return o, fmt.Errorf("%w: UnkeyedHeaders has invalid field name %q", ErrInvalidOptions, n)
		}
		unkeyed = append(unkeyed, textproto.CanonicalMIMEHeaderKey(n))
	}
	o.UnkeyedHeaders = unkeyed
	if o.TagHeader == "" {
		o.TagHeader = defaultTagHeader
	}
	if o.OpTimeout == 0 {
		o.OpTimeout = defaultOpTimeout
	}
	if o.Backoff == 0 {
		o.Backoff = defaultBackoff
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = defaultLeaseTTL
	}
	if o.RefreshTimeout == 0 {
		o.RefreshTimeout = defaultRefresh
	}
	return o, nil
}

// ProxyOptions returns the options of a cache in front of an origin (a
// reverse proxy, a gateway): stale copies answer while the origin is
// unreachable for up to an hour (StaleOnError), CDN-Cache-Control is
// obeyed as the origin's instructions to this cache (TargetedFields), and
// responses that carry only Last-Modified get a tenth of their age as
// freshness (LastModifiedFraction). Change the fields you want before
// passing it to [NewCache].
func ProxyOptions() *CacheOptions {
	return &CacheOptions{
		StaleOnError:         time.Hour,
		TargetedFields:       []string{"CDN-Cache-Control"},
		LastModifiedFraction: 0.1,
	}
}
