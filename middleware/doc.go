// Package middleware implements net/http middleware backed by a shared
// Redis: a response cache that follows the HTTP caching rules for shared
// caches, Idempotency-Key handling for unsafe methods, and running handlers
// under a distributed lock.
//
// Every middleware is a func(http.Handler) http.Handler (or has a Handler
// method of that shape), so it works with net/http's ServeMux, chi, gorilla
// and anything else that speaks http.Handler.
//
// # Response cache
//
// [Cache] is a shared cache as RFC 9111 describes it. It stores only what
// a shared cache may store (explicit freshness from s-maxage, max-age or
// Expires, cacheable status codes, no private or no-store, responses to
// requests with Authorization only when the response allows it, no
// Set-Cookie unless allowed), honours the request directives no-cache,
// no-store, max-age, max-stale, min-fresh and only-if-cached, selects
// variants by the normalised Vary fields (Vary: * is never served), sends
// Age on every cached response, answers If-None-Match and
// If-Modified-Since with 304 from the cache, revalidates stale responses
// with the handler (refreshing the stored header fields on a 304), serves
// stale responses under stale-while-revalidate (one background refresh)
// and stale-if-error (on a 500, 502, 503, 504 or a panic), answers HEAD from a stored GET,
// purges a URL when an unsafe method on it succeeds, and says what it did
// in a Cache-Status field (RFC 9211).
//
// Identical concurrent misses are collapsed onto one handler call in
// process and, through a Redis lease whose end wakes the waiters (BLPOP,
// no polling), across instances. Responses can be purged by URL and by
// tag. When Redis is down or slow the cache steps aside: requests go to
// the handler after at most one per-operation timeout.
//
// # Handlers
//
// [Idempotency] makes retried POST and PATCH requests safe following the
// IETF httpapi Idempotency-Key draft. [Lock] runs a handler while holding
// a distributed lock for a key derived from the request.
package middleware
