package middleware

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/middleware/internal/httprule"
)

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
	bx.w, bx.stale, bx.fwd, bx.rd = nil, e, "stale", httprule.RequestDirectives{}
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
