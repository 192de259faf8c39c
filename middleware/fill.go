package middleware

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aside-go/aside/middleware/internal/httprule"
)

// forward sends the request to the handler, collapsing identical misses:
// in process through a flight, across instances through a Redis lease.
func (x *exchange) forward() {
	c := x.c
	collapse := x.r.Method == http.MethodGet && x.fwd != "request" && !x.rd.NoStore
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
	if o.revalidated && !httprule.Validates(x.stale.header, o.rec.header) {
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
	if !o.storable && o.rec.status != 0 && x.r.Method == http.MethodGet && !x.rd.NoStore && x.r.Header.Get("Authorization") == "" {
		c.passes.set(x.base+"|"+x.vid, c.now().Add(passMemory).UnixNano())
	}
	return nil
}

func (x *exchange) serveStaleOnError(status int) {
	x.c.ctr.staleOnError.Add(1)
	e := x.stale
	age := e.age(x.c.now())
	ttl := e.policy(x.c.fr).Lifetime - age
	x.serve(e, age, "fwd=stale; fwd-status="+strconv.Itoa(status)+"; ttl="+secs(ttl))
}

// run calls the handler once through a recorder, with the client's
// conditional fields replaced by the cache's own, and reports the outcome.
// A panic is recovered into the outcome; the caller re-panics.
func (x *exchange) run() (o outcome) {
	c := x.c
	req := x.r.Clone(x.r.Context())
	var stored http.Header
	if x.stale != nil {
		stored = x.stale.header
	}
	revalidating := httprule.Conditional(req.Header, stored)
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
		if sieOK && httprule.StaleErrorStatus(status) || downOK && originDownStatus(status) {
			o.failed = true
			return modeHold, false
		}
		d, p := c.fr.Of(status, h)
		o.storable = x.r.Method == http.MethodGet &&
			httprule.Storable(x.r.Header, x.rd, status, h, d, p, c.rules) == "" &&
			httprule.Retention(p, c.staleKeep) > 0
		ownStatus = slices.Clone(h.Values("Cache-Status"))
		params := "fwd=" + x.fwd + "; fwd-status=" + strconv.Itoa(status)
		if status == http.StatusOK && x.w != nil && httprule.NotModified(x.r.Header, h) {
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
	httprule.StripForStorage(h, c.opt.AllowSetCookie)
	vary, _ := httprule.NormalizeVary(h)
	o.entry = &entry{
		status: o.rec.status, header: h, body: o.rec.body,
		reqTime: o.reqTime, respTime: o.respTime,
		vary: vary, varyVals: httprule.VaryValues(vary, x.r.Header),
	}
	return o
}

// refreshed is the stale response with its header fields updated from the
// handler's 304 (RFC 9111 section 3.2).
func (x *exchange) refreshed(o outcome) *entry {
	e := *x.stale
	upd := o.rec.header.Clone()
	upd.Del("Cache-Status")
	e.header = httprule.UpdateStored(x.stale.header, upd)
	e.reqTime, e.respTime = o.reqTime, o.respTime
	return &e
}

// save stores e under the exchange's URL unless a purge intervened.
func (x *exchange) save(e *entry, tags []string) bool {
	c := x.c
	d, p := c.fr.Of(e.status, e.header)
	keep := httprule.Retention(p, c.staleKeep)
	if keep <= 0 || httprule.Storable(x.r.Header, x.rd, e.status, e.header, d, p, c.rules) != "" {
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
