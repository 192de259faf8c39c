package httprule

import (
	"net/http"
	"strings"
	"time"
)

// hopByHop are fields never stored nor replayed (RFC 9111 section 3.1).
var hopByHop = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authentication-Info", "Proxy-Authorization", "Te", "Trailer",
	"Transfer-Encoding", "Upgrade",
}

// StripForStorage removes from h the fields a cache must not store or that
// it recomputes on every use: hop-by-hop fields, those Connection lists,
// Content-Length, and Set-Cookie unless allowCookies.
func StripForStorage(h http.Header, allowCookies bool) {
	for _, c := range h.Values("Connection") {
		for n := range strings.SplitSeq(c, ",") {
			if n = strings.TrimSpace(n); n != "" {
				h.Del(n)
			}
		}
	}
	for _, n := range hopByHop {
		h.Del(n)
	}
	h.Del("Content-Length")
	if !allowCookies {
		h.Del("Set-Cookie")
	}
}

// Retention is how long a cache keeps a response with policy p: its
// freshness (none under no-cache), plus the longest stale window it allows
// (stale-while-revalidate, stale-if-error), plus staleKeep when it can
// still be used stale: revalidated, or served under a request's max-stale.
func Retention(p Policy, staleKeep time.Duration) time.Duration {
	d := p.Lifetime
	if p.NoCache {
		d = 0
	}
	d += max(p.StaleWhileRevalidate, p.StaleIfError)
	if keptStale(p) {
		d += staleKeep
	}
	return d
}

// keptStale reports whether a stale response with policy p is worth
// keeping past its freshness: with a validator it can be revalidated with
// a 304; without one it can still answer a request's max-stale, unless
// the response forbids serving it stale.
func keptStale(p Policy) bool {
	return p.HasValidator || !p.MustRevalidate && !p.NoCache && p.Lifetime > 0
}
