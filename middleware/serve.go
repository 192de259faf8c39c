package middleware

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aside-go/aside/internal/keys"
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
	rd   requestDirectives

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
	x.vals = varyValues(vary, x.r.Header)
	x.vid = variantID(x.vals)
}

func (c *Cache) serveCacheable(w http.ResponseWriter, r *http.Request, next http.Handler) {
	x := &exchange{c: c, w: w, r: r, next: next, now: c.now(), rd: parseRequest(r.Header)}
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
	if x.rd.onlyIfCached {
		x.notCached()
		return
	}
	x.forward()
}

// unavailable serves a request while Redis cannot be used: straight from
// the handler, or 504 for only-if-cached.
func (x *exchange) unavailable() {
	x.c.ctr.bypassed.Add(1)
	if x.rd.onlyIfCached {
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
	if p.noCache {
		if age > retention(p, c.staleKeep) {
			x.fwd = "miss"
			return false
		}
	} else if age > p.lifetime+max(p.swr, p.sie)+keepIf(keptStale(p), c.staleKeep) {
		x.fwd = "miss"
		return false
	}
	ttl := p.lifetime - age
	fresh := !p.noCache && ttl > 0
	switch {
	case x.refusedByRequest(age, ttl, fresh):
		x.fwd = "request"
	case p.noCache:
		x.fwd = "stale"
	case fresh:
		c.ctr.hits.Add(1)
		x.serve(e, age, "hit; ttl="+secs(ttl))
		return true
	case !p.mustReval && x.rd.hasMaxStale && (x.rd.maxStale < 0 || -ttl <= x.rd.maxStale):
		c.ctr.hits.Add(1)
		c.ctr.staleHits.Add(1)
		x.serve(e, age, "hit; ttl="+secs(ttl))
		return true
	case p.swr > 0 && -ttl <= p.swr:
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

// refusedByRequest reports whether the request's own directives (no-cache,
// max-age, min-fresh) forbid serving a stored response of this age and
// remaining freshness without asking the handler.
func (x *exchange) refusedByRequest(age, ttl time.Duration, fresh bool) bool {
	return x.rd.noCache || x.rd.hasMaxAge && age > x.rd.maxAge || fresh && x.rd.minFresh > 0 && ttl < x.rd.minFresh
}

// shareable reports whether e, which another request has just fetched or
// stored, may be served to this request as it is: only when it selects the
// same variant and would be served as a fresh hit (RFC 9111 section 4),
// never when it must be revalidated first (no-cache, max-age=0 with
// must-revalidate) or the request's directives refuse it. When it may
// not, e is kept for a conditional request if it has a validator, so the
// handler decides (it may answer 304 if e is right for this request too).
func (x *exchange) shareable(e *entry) (time.Duration, bool) {
	if varyValues(e.vary, x.r.Header) != e.varyVals {
		return 0, false
	}
	age := e.age(x.c.now())
	p := e.policy(x.c.fr)
	ttl := p.lifetime - age
	fresh := !p.noCache && ttl > 0
	if fresh && !x.refusedByRequest(age, ttl, fresh) {
		return age, true
	}
	if p.hasValidator && !x.rd.noCache {
		x.stale, x.fwd = e, "stale"
	}
	return 0, false
}

func keepIf(ok bool, d time.Duration) time.Duration {
	if ok {
		return d
	}
	return 0
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
	stale := x.stale.age(x.c.now()) - p.lifetime
	if p.sie > 0 && stale <= p.sie {
		return true
	}
	return originDown && x.c.opt.StaleOnError > 0 && !p.mustReval && !p.noCache && stale <= x.c.opt.StaleOnError
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
		h[k] = slices.Clone(v)
	}
	h.Set("Age", secs(age))
	h.Add("Cache-Status", x.c.status(params))
	if notModified(x.r.Header, e.header) {
		stripFor304(h)
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
	lm, _, _ := singleDate(e.header, "Last-Modified")
	http.ServeContent(x.w, x.r, "", lm, bytes.NewReader(e.body))
}

// staleErrorStatus lists the statuses stale-if-error replaces (RFC 5861
// section 4).
func staleErrorStatus(status int) bool {
	switch status {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
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

// forward sends the request to the handler, collapsing identical misses:
// in process through a flight, across instances through a Redis lease.
func (x *exchange) forward() {
	c := x.c
	collapse := x.r.Method == http.MethodGet && x.fwd != "request" && !x.rd.noStore
	key := x.base + "|" + x.vid
	if collapse {
		if until, ok := c.passes.get(key); ok && x.now.UnixNano() < until {
			collapse = false
		}
	}
	if !collapse {
		x.fill(nil)
		return
	}
	f, leader := c.flights.join(key)
	if !leader {
		if c.hook != nil {
			c.hook("follower")
		}
		select {
		case <-f.done:
		case <-x.r.Context().Done():
			return
		}
		if e := f.res; e != nil {
			if age, ok := x.shareable(e); ok {
				c.ctr.collapsed.Add(1)
				x.serve(e, age, "fwd="+x.fwd+"; collapsed")
				return
			}
		}
		x.fill(nil)
		return
	}
	var shared *entry
	defer func() { c.flights.finish(key, f, shared) }()
	shared = x.leaderFill()
}

// leaderFill is the in-process leader's miss: take the Redis lease and
// fill, or wait for the instance that holds it and serve what it stored.
func (x *exchange) leaderFill() *entry {
	c := x.c
	if c.opt.LeaseTTL < 0 {
		return x.fill(nil)
	}
	for range maxWaitRounds {
		ctx, cancel := c.opCtx(x.r)
		l, wait, err := c.st.acquire(ctx, x.base, x.vid, c.opt.LeaseTTL)
		cancel()
		if err != nil {
			c.failed(x.r, err)
			return x.fill(nil)
		}
		if l != nil {
			return x.fill(l)
		}
		if c.hook != nil {
			c.hook("waiter")
		}
		stored, heard, err := c.st.wait(x.r.Context(), x.base, x.vid, wait)
		if x.r.Context().Err() != nil {
			return nil
		}
		if err != nil {
			c.failed(x.r, err)
			return x.fill(nil)
		}
		if heard && !stored {
			return x.fill(nil)
		}
		e, _, err := x.load()
		if err != nil {
			c.failed(x.r, err)
			return x.fill(nil)
		}
		if e != nil {
			if age, ok := x.shareable(e); ok {
				c.ctr.collapsed.Add(1)
				x.serve(e, age, "fwd="+x.fwd+"; collapsed")
				return e
			}
		}
	}
	return x.fill(nil)
}

// outcome is what one handler run produced.
type outcome struct {
	rec         *recorder
	entry       *entry // the response to store, nil when it may not be stored
	storable    bool   // the headers allowed storing (the body may still have failed)
	tags        []string
	reqTime     time.Time
	respTime    time.Time
	revalidated bool // the handler answered our conditional request with 304
	failed      bool // a 5xx held back for stale-if-error
	panicked    bool
	panicVal    any
}

// fill runs the handler, stores what may be stored and releases l. It
// returns the response other requests may share.
func (x *exchange) fill(l *lease) *entry {
	c := x.c
	stored := false
	if l != nil {
		defer func() {
			ctx, cancel := c.detachedCtx(x.r)
			_ = c.st.release(ctx, l, stored, c.opt.LeaseTTL)
			cancel()
		}()
	}
	c.ctr.forwarded.Add(1)
	o := x.run()
	if o.revalidated && !validates(x.stale.header, o.rec.header) {
		// The 304 is about another representation than the stored one:
		// it updates nothing, and this request needs the whole response.
		x.stale = nil
		c.ctr.forwarded.Add(1)
		o = x.run()
	}
	switch {
	case o.panicked:
		if o.rec.mode != modePass && o.rec.mode != modeNotModified && x.staleIfError(o.panicVal == http.ErrAbortHandler) {
			c.report(fmt.Errorf("middleware: handler for %s panicked, served the stale response (stale-if-error): %v", x.r.URL.Path, o.panicVal))
			x.serveStaleOnError(http.StatusInternalServerError)
			return nil
		}
		panic(o.panicVal)
	case o.revalidated:
		c.ctr.revalidated.Add(1)
		e := x.refreshed(o)
		stored = x.save(e, o.tags)
		params := "fwd=stale; fwd-status=304"
		if stored {
			params += "; stored"
		}
		x.serve(e, e.age(c.now()), params)
		return e
	case o.failed:
		x.serveStaleOnError(o.rec.status)
		return nil
	case o.entry != nil:
		stored = x.save(o.entry, o.tags)
		return o.entry
	}
	if !o.storable && o.rec.status != 0 && x.r.Method == http.MethodGet && !x.rd.noStore && x.r.Header.Get("Authorization") == "" {
		c.passes.set(x.base+"|"+x.vid, c.now().Add(passMemory).UnixNano())
	}
	return nil
}

func (x *exchange) serveStaleOnError(status int) {
	x.c.ctr.staleOnError.Add(1)
	e := x.stale
	age := e.age(x.c.now())
	ttl := e.policy(x.c.fr).lifetime - age
	x.serve(e, age, "fwd=stale; fwd-status="+strconv.Itoa(status)+"; ttl="+secs(ttl))
}

// run calls the handler once through a recorder, with the client's
// conditional fields replaced by the cache's own, and reports the outcome.
// A panic is recovered into the outcome; the caller re-panics.
func (x *exchange) run() (o outcome) {
	c := x.c
	req := x.r.Clone(x.r.Context())
	req.Header.Del("If-None-Match")
	req.Header.Del("If-Modified-Since")
	revalidating := false
	if x.stale != nil {
		if et := x.stale.header.Get("ETag"); et != "" {
			req.Header.Set("If-None-Match", et)
			revalidating = true
		}
		if lm := x.stale.header.Get("Last-Modified"); lm != "" {
			req.Header.Set("If-Modified-Since", lm)
			revalidating = true
		}
	}
	sieOK, downOK := x.staleIfError(false), x.staleIfError(true)
	var ownStatus []string
	o.reqTime = c.now()
	o.rec = newRecorder(x.w, c.opt.MaxBodySize, func(status int, h http.Header) (mode, bool) {
		o.respTime = c.now()
		if h.Get("Date") == "" {
			h.Set("Date", o.respTime.UTC().Format(http.TimeFormat))
		}
		if t := h.Get(c.opt.TagHeader); t != "" {
			o.tags = strings.Fields(t)
		}
		h.Del(c.opt.TagHeader)
		if revalidating && status == http.StatusNotModified {
			o.revalidated = true
			return modeHold, false
		}
		if sieOK && staleErrorStatus(status) || downOK && originDownStatus(status) {
			o.failed = true
			return modeHold, false
		}
		d, p := c.fr.of(status, h)
		o.storable = x.r.Method == http.MethodGet &&
			storable(x.r.Header, x.rd, status, h, d, p, c.rules) == "" &&
			retention(p, c.staleKeep) > 0
		ownStatus = slices.Clone(h.Values("Cache-Status"))
		params := "fwd=" + x.fwd + "; fwd-status=" + strconv.Itoa(status)
		if status == http.StatusOK && x.w != nil && notModified(x.r.Header, h) {
			if o.storable {
				params += "; stored"
			}
			h.Add("Cache-Status", c.status(params))
			return modeNotModified, o.storable
		}
		if o.storable && x.w != nil {
			// Say "stored" only once the body is known to fit.
			o.rec.announce = func(fits bool) {
				if fits {
					params += "; stored"
				}
				h.Add("Cache-Status", c.status(params))
			}
			return modePass, true
		}
		if o.storable {
			params += "; stored"
		}
		h.Add("Cache-Status", c.status(params))
		return modePass, o.storable
	})
	func() {
		defer func() {
			if v := recover(); v != nil {
				o.panicked, o.panicVal = true, v
			}
		}()
		x.next.ServeHTTP(o.rec, req)
		o.rec.finish()
	}()
	if o.panicked || !o.storable || !o.rec.complete() || x.r.Context().Err() != nil {
		return o
	}
	h := o.rec.header.Clone()
	if ownStatus == nil {
		h.Del("Cache-Status")
	} else {
		h["Cache-Status"] = ownStatus
	}
	stripForStorage(h, c.opt.AllowSetCookie)
	vary, _ := normalizeVary(h)
	o.entry = &entry{
		status: o.rec.status, header: h, body: o.rec.body,
		reqTime: o.reqTime, respTime: o.respTime,
		vary: vary, varyVals: varyValues(vary, x.r.Header),
	}
	return o
}

// keptOn304 are the stored fields a 304 does not replace: the ones the
// stored body depends on and its validators (RFC 9111 sections 3.2 and
// 4.3.4).
var keptOn304 = []string{"Content-Encoding", "Content-Type", "Content-Range", "Content-Length", "ETag", "Last-Modified"}

// validates reports whether a 304 with header upd is about the stored
// response with header stored (RFC 9111 section 4.3.4): a strong ETag must
// be the stored one; a weak ETag or a Last-Modified must match the stored
// one by weak comparison. A 304 with no validator updates the response it
// answers.
func validates(stored, upd http.Header) bool {
	if et := upd.Get("ETag"); et != "" {
		st := stored.Get("ETag")
		if !strings.HasPrefix(et, "W/") {
			return st == et
		}
		return st != "" && strings.TrimPrefix(st, "W/") == strings.TrimPrefix(et, "W/")
	}
	if lm := upd.Get("Last-Modified"); lm != "" {
		return stored.Get("Last-Modified") == lm
	}
	return true
}

// refreshed is the stale response with its header fields updated from the
// handler's 304 (RFC 9111 section 3.2).
func (x *exchange) refreshed(o outcome) *entry {
	e := *x.stale
	e.header = x.stale.header.Clone()
	upd := o.rec.header.Clone()
	stripForStorage(upd, true) // hop-by-hop, Connection-listed, Content-Length
	upd.Del("Cache-Status")
	for _, k := range keptOn304 {
		upd.Del(k)
	}
	for k, v := range upd {
		e.header[k] = v
	}
	e.reqTime, e.respTime = o.reqTime, o.respTime
	return &e
}

// save stores e under the exchange's URL unless a purge intervened.
func (x *exchange) save(e *entry, tags []string) bool {
	c := x.c
	d, p := c.fr.of(e.status, e.header)
	keep := retention(p, c.staleKeep)
	if keep <= 0 || storable(x.r.Header, x.rd, e.status, e.header, d, p, c.rules) != "" {
		return false
	}
	ctx, cancel := c.detachedCtx(x.r)
	defer cancel()
	ok, err := c.st.save(ctx, x.base, x.gen, e, keep, tags)
	if err != nil {
		c.failed(x.r, err)
	}
	if ok {
		c.ctr.stored.Add(1)
		c.hints.set(x.base, e.vary)
	}
	return ok
}

// refreshLater revalidates e in the background (stale-while-revalidate),
// once per variant across instances.
func (x *exchange) refreshLater(e *entry) {
	c := x.c
	key := x.base + "|" + x.vid
	c.mu.Lock()
	if c.closed || c.refreshing[key] {
		c.mu.Unlock()
		return
	}
	c.refreshing[key] = true
	c.wg.Add(1)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(x.r.Context()), c.opt.RefreshTimeout)
	bx := *x
	bx.w, bx.stale, bx.fwd, bx.rd = nil, e, "stale", requestDirectives{}
	bx.r = x.r.Clone(ctx)
	bx.r.Body = http.NoBody
	go func() {
		defer func() {
			cancel()
			c.mu.Lock()
			delete(c.refreshing, key)
			c.mu.Unlock()
			c.wg.Done()
		}()
		bx.refresh()
	}()
}

func (x *exchange) refresh() {
	c := x.c
	lockKey := keys.Sub(x.base, "bg:"+x.vid)
	ctx, cancel := c.opCtx(x.r)
	tok, ok, err := c.st.tryLock(ctx, lockKey, c.opt.RefreshTimeout)
	cancel()
	if err != nil || !ok {
		return
	}
	defer func() {
		ctx, cancel := c.detachedCtx(x.r)
		_ = c.st.unlock(ctx, lockKey, tok)
		cancel()
	}()
	c.ctr.refreshes.Add(1)
	o := x.run()
	switch {
	case o.panicked:
		c.report(fmt.Errorf("middleware: background revalidation of %s panicked: %v", x.r.URL.Path, o.panicVal))
	case o.revalidated:
		x.save(x.refreshed(o), o.tags)
	case o.entry != nil:
		x.save(o.entry, o.tags)
	}
}

// serveUnsafe passes a POST, PUT, DELETE, PATCH (or other unsafe method)
// to the handler and, when it succeeds (2xx or 3xx), purges the request
// URL and the Location and Content-Location on the same host before the
// client sees the response (RFC 9111 section 4.4).
func (c *Cache) serveUnsafe(w http.ResponseWriter, r *http.Request, next http.Handler) {
	rec := newRecorder(w, 0, func(status int, h http.Header) (mode, bool) {
		if status >= 200 && status < 400 {
			c.invalidate(r, h)
		}
		h.Add("Cache-Status", c.status("fwd=method; fwd-status="+strconv.Itoa(status)))
		return modePass, false
	})
	next.ServeHTTP(rec, r)
	rec.finish()
}

func (c *Cache) invalidate(r *http.Request, h http.Header) {
	if !c.redisUp(c.now()) {
		return
	}
	self := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	if r.TLS != nil {
		self.Scheme = "https"
	}
	targets := []string{c.st.urlKey(c.keyOf(getFor(r, self)))}
	for _, name := range []string{"Location", "Content-Location"} {
		v := h.Get(name)
		if v == "" {
			continue
		}
		u, err := self.Parse(v)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			continue
		}
		targets = append(targets, c.st.urlKey(c.keyOf(getFor(r, u))))
	}
	ctx, cancel := c.detachedCtx(r)
	defer cancel()
	if err := c.st.purge(ctx, targets...); err != nil {
		c.failed(r, err)
	}
}

// getFor is the GET request for u that r's response invalidates.
func getFor(r *http.Request, u *url.URL) *http.Request {
	return &http.Request{Method: http.MethodGet, URL: u, Host: r.Host, TLS: r.TLS, Header: r.Header}
}
