package middleware

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"github.com/aside-go/aside/middleware/internal/httprule"
)

type cacheHandler struct {
	c    *Cache
	next http.Handler
}

func (h *cacheHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.c.serveCacheable(w, r, h.next)
	case http.MethodOptions, http.MethodTrace, http.MethodConnect:
		h.next.ServeHTTP(w, r)
	default:
		h.c.serveUnsafe(w, r, h.next)
	}
}

// exchange is one GET or HEAD request on its way through the cache.
type exchange struct {
	c    *Cache
	w    http.ResponseWriter // nil for a background revalidation
	r    *http.Request
	next http.Handler
	now  time.Time
	rd   httprule.RequestDirectives

	base string // the URL's hash key
	vary string // Vary names the variant was picked by
	vals string // this request's values for them
	vid  string // variant ID
	gen  string // purge generation seen at lookup

	stale *entry // stored response to revalidate, or to serve on error
	fwd   string // why the request goes forward (Cache-Status fwd)
}

func (x *exchange) setVary(vary string) {
	x.vary = vary
	x.vals = httprule.VaryValues(vary, x.r.Header)
	x.vid = variantID(x.vals)
}

func (c *Cache) serveCacheable(w http.ResponseWriter, r *http.Request, next http.Handler) {
	x := &exchange{c: c, w: w, r: r, next: next, now: c.now(), rd: httprule.ParseRequest(r.Header)}
	if !c.redisUp(x.now) {
		x.unavailable()
		return
	}
	x.base = c.st.urlKey(c.keyOf(r))
	e, res, err := x.load()
	if err != nil {
		c.failed(r, err)
		x.unavailable()
		return
	}
	x.gen = res.gen
	x.fwd = "uri-miss"
	if res.hasVary {
		x.fwd = "vary-miss"
	}
	if e != nil && x.tryServe(e) {
		return
	}
	if x.rd.OnlyIfCached {
		x.notCached()
		return
	}
	x.forward()
}

// unavailable serves a request while Redis cannot be used: straight from
// the handler, or 504 for only-if-cached.
func (x *exchange) unavailable() {
	x.c.ctr.bypassed.Add(1)
	if x.rd.OnlyIfCached {
		x.notCached()
		return
	}
	x.plain("fwd=miss; detail=redis-unavailable")
}

// notCached answers only-if-cached when nothing usable is stored.
func (x *exchange) notCached() {
	x.w.Header().Add("Cache-Status", x.c.status("detail=only-if-cached"))
	http.Error(x.w, "not in cache (only-if-cached)", http.StatusGatewayTimeout)
}

// load reads the variant this request selects: one HMGET when the Vary
// names of the URL are known in process, two when they changed.
func (x *exchange) load() (*entry, lookupResult, error) {
	c := x.c
	vary, _ := c.hints.get(x.base)
	x.setVary(vary)
	ctx, cancel := c.opCtx(x.r)
	defer cancel()
	res, err := c.st.lookup(ctx, x.base, x.vid)
	if err == nil && res.hasVary && res.vary != x.vary {
		c.hints.set(x.base, res.vary)
		x.setVary(res.vary)
		res.raw, err = c.st.fetchVariant(ctx, x.base, x.vid)
	}
	if err != nil || res.raw == nil {
		return nil, res, err
	}
	e, derr := decodeEntry(res.raw)
	if derr != nil || e.vary != x.vary || e.varyVals != x.vals {
		return nil, res, nil
	}
	return e, res, nil
}

// tryServe answers from e when the HTTP rules allow it and reports whether
// it did; otherwise it records why the request goes forward and keeps e
// for revalidation.
func (x *exchange) tryServe(e *entry) bool {
	c := x.c
	age := e.age(x.now)
	p := e.policy(c.fr)
	if age > httprule.Retention(p, c.staleKeep) {
		x.fwd = "miss"
		return false
	}
	ttl := p.Lifetime - age
	fresh := !p.NoCache && ttl > 0
	switch {
	case x.rd.Refuses(age, ttl, fresh):
		x.fwd = "request"
	case p.NoCache:
		x.fwd = "stale"
	case fresh:
		c.ctr.hits.Add(1)
		x.serve(e, age, "hit; ttl="+secs(ttl))
		return true
	case !p.MustRevalidate && x.rd.HasMaxStale && (x.rd.MaxStale < 0 || -ttl <= x.rd.MaxStale):
		c.ctr.hits.Add(1)
		c.ctr.staleHits.Add(1)
		x.serve(e, age, "hit; ttl="+secs(ttl))
		return true
	case p.StaleWhileRevalidate > 0 && -ttl <= p.StaleWhileRevalidate:
		c.ctr.hits.Add(1)
		c.ctr.staleHits.Add(1)
		x.serve(e, age, "hit; ttl="+secs(ttl)+"; detail=revalidating")
		x.refreshLater(e)
		return true
	default:
		x.fwd = "stale"
	}
	x.stale = e
	return false
}

// shareable reports whether e, which another request has just fetched or
// stored, may be served to this request as it is: only when it selects the
// same variant and would be served as a fresh hit (RFC 9111 section 4),
// never when it must be revalidated first (no-cache, max-age=0 with
// must-revalidate) or the request's directives refuse it. When it may
// not, e is kept for a conditional request if it has a validator, so the
// handler decides (it may answer 304 if e is right for this request too).
func (x *exchange) shareable(e *entry) (time.Duration, bool) {
	if httprule.VaryValues(e.vary, x.r.Header) != e.varyVals {
		return 0, false
	}
	age := e.age(x.c.now())
	p := e.policy(x.c.fr)
	ttl := p.Lifetime - age
	fresh := !p.NoCache && ttl > 0
	if fresh && !x.rd.Refuses(age, ttl, fresh) {
		return age, true
	}
	if p.HasValidator && !x.rd.NoCache {
		x.stale, x.fwd = e, "stale"
	}
	return 0, false
}

func secs(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

// staleIfError reports whether the stale response may replace an error:
// under its own stale-if-error, or, when originDown (a 502, a 504 or an
// aborted handler), under [CacheOptions.StaleOnError] if the response
// allows serving it stale at all (RFC 9111 section 4.2.4).
func (x *exchange) staleIfError(originDown bool) bool {
	if x.stale == nil || x.fwd != "stale" {
		return false
	}
	p := x.stale.policy(x.c.fr)
	stale := x.stale.age(x.c.now()) - p.Lifetime
	if p.StaleIfError > 0 && stale <= p.StaleIfError {
		return true
	}
	return originDown && x.c.opt.StaleOnError > 0 && !p.MustRevalidate && !p.NoCache && stale <= x.c.opt.StaleOnError
}

// originDownStatus lists the statuses with which a gateway says it could
// not reach the origin.
func originDownStatus(status int) bool {
	return status == http.StatusBadGateway || status == http.StatusGatewayTimeout
}

// serve writes a stored response, or a 304 when the request's conditions
// match it.
func (x *exchange) serve(e *entry, age time.Duration, params string) {
	h := x.w.Header()
	for k, v := range e.header {
		// A full slice expression instead of a copy: an Add by another
		// middleware appends to a new array, never into e's, which other
		// requests may share.
		h[k] = v[:len(v):len(v)]
	}
	h.Set("Age", secs(age))
	h.Add("Cache-Status", x.c.status(params))
	if httprule.NotModified(x.r.Header, e.header) {
		httprule.StripFor304(h)
		x.w.WriteHeader(http.StatusNotModified)
		return
	}
	if e.status == http.StatusOK && x.r.Header.Get("Range") != "" {
		x.serveRange(e)
		return
	}
	if bodyAllowed(e.status) {
		h.Set("Content-Length", strconv.Itoa(len(e.body)))
	}
	x.w.WriteHeader(e.status)
	if x.r.Method != http.MethodHead && bodyAllowed(e.status) {
		_, _ = x.w.Write(e.body)
	}
}

// serveRange answers a Range request from a stored complete 200 (RFC 9110
// section 14): 206 with Content-Range for one range, multipart/byteranges
// for several, 416 when none is satisfiable, the whole 200 when If-Range
// does not match. net/http's ServeContent implements exactly that; the
// stored fields are already in the header, and an absent Content-Type
// stays absent (no sniffing).
func (x *exchange) serveRange(e *entry) {
	h := x.w.Header()
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil
	}
	lm, _, _ := httprule.SingleDate(e.header, "Last-Modified")
	http.ServeContent(x.w, x.r, "", lm, bytes.NewReader(e.body))
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// plain passes the request to the handler, only adding Cache-Status.
func (x *exchange) plain(params string) {
	rec := newRecorder(x.w, 0, func(status int, h http.Header) (mode, bool) {
		h.Add("Cache-Status", x.c.status(params+"; fwd-status="+strconv.Itoa(status)))
		return modePass, false
	})
	x.next.ServeHTTP(rec, x.r)
	rec.finish()
}
