package httprule

import (
	"net/http"
	"time"
)

// heuristicStatus lists the status codes that are cacheable by default
// (RFC 9110 section 15.1); only these get Freshness.DefaultTTL.
var heuristicStatus = map[int]bool{
	200: true, 203: true, 204: true, 300: true, 301: true, 308: true,
	404: true, 405: true, 410: true, 414: true, 501: true,
}

// StaleErrorStatus reports whether status is one that stale-if-error lets
// a stale response replace (RFC 5861 section 4).
func StaleErrorStatus(status int) bool {
	switch status {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// Policy is what the response headers say about storing and reusing a
// response in a shared cache.
type Policy struct {
	Lifetime             time.Duration // freshness lifetime
	Explicit             bool          // Lifetime came from s-maxage, max-age or Expires
	NoCache              bool          // must be validated before every reuse
	MustRevalidate       bool          // must-revalidate, proxy-revalidate or s-maxage
	StaleWhileRevalidate time.Duration // stale-while-revalidate
	StaleIfError         time.Duration // stale-if-error
	HasValidator         bool          // ETag or Last-Modified
}

// Freshness holds the options that decide what a response's headers mean
// for a cache.
type Freshness struct {
	DefaultTTL time.Duration // for heuristically cacheable responses
	LMFraction float64       // of Date - Last-Modified, for heuristic freshness
	Targeted   []string      // targeted cache-control fields, in order (RFC 9213), canonical names
}

// maxHeuristic caps Last-Modified-based freshness when no DefaultTTL does.
const maxHeuristic = 24 * time.Hour

// Directives returns the directives that govern this cache for a response
// with header h: those of the first targeted field with a valid value, or
// else Cache-Control; and whether a targeted field was used.
func (fr Freshness) Directives(h http.Header) (Directives, bool) {
	for _, name := range fr.Targeted {
		if d, ok := parseTargeted(h.Values(name)); ok {
			return d, true
		}
	}
	return ParseDirectives(h), false
}

// Of returns the directives and policy of a response.
func (fr Freshness) Of(status int, h http.Header) (Directives, Policy) {
	d, targeted := fr.Directives(h)
	return d, fr.Policy(status, h, d, targeted)
}

// Policy computes the freshness lifetime of a response (RFC 9111 section
// 4.2.1): s-maxage, then max-age, then Expires minus Date (not when a
// targeted field governs: RFC 9213 section 2.1); else, for heuristically
// cacheable statuses, a fraction of the time since Last-Modified or
// DefaultTTL (section 4.2.2).
func (fr Freshness) Policy(status int, h http.Header, d Directives, targeted bool) Policy {
	var p Policy
	p.HasValidator = h.Get("ETag") != "" || h.Get("Last-Modified") != ""
	p.NoCache = d.Has("no-cache")
	p.MustRevalidate = d.Has("must-revalidate") || d.Has("proxy-revalidate") || d.Has("s-maxage")
	p.StaleWhileRevalidate, _ = d.Seconds("stale-while-revalidate")
	p.StaleIfError, _ = d.Seconds("stale-if-error")
	heuristic := heuristicStatus[status] || d.Has("public")
	if v, ok := d.Seconds("s-maxage"); ok {
		p.Lifetime, p.Explicit = v, true
	} else if v, ok := d.Seconds("max-age"); ok {
		p.Lifetime, p.Explicit = v, true
	} else if t, present, ok := SingleDate(h, "Expires"); present && !targeted {
		// An invalid Expires (a bad date, "0", several lines) means
		// already expired (RFC 9111 section 5.3).
		p.Explicit = true
		if date := responseDate(h); ok && !date.IsZero() && t.After(date) {
			p.Lifetime = t.Sub(date)
		}
	} else if lm, _, ok := SingleDate(h, "Last-Modified"); ok && fr.LMFraction > 0 && heuristic {
		if date := responseDate(h); !date.IsZero() && date.After(lm) {
			limit := fr.DefaultTTL
			if limit == 0 {
				limit = maxHeuristic
			}
			p.Lifetime = min(time.Duration(float64(date.Sub(lm))*fr.LMFraction), limit)
		}
	} else if fr.DefaultTTL > 0 && heuristic {
		p.Lifetime = fr.DefaultTTL
	}
	return p
}
