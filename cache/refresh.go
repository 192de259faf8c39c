package cache

import (
	"context"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/lease"
	"github.com/aside-go/aside/internal/script"
)

// refresh starts a background refresh of key, unless one is running in
// this process already or the cache is closed. Across processes the lease
// makes it one refresh for the whole fleet: a process that finds the lease
// taken does nothing and keeps serving the stale value until the fill
// lands. old is the stale entry being replaced (a negative outcome may
// replace exactly it, never a newer value).
func (c *Cache[V]) refresh(key, old string, l Loader[V]) {
	if l == nil {
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if _, ok := c.refreshing[key]; ok {
		c.mu.Unlock()
		return
	}
	c.refreshing[key] = struct{}{}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		defer func() {
			c.mu.Lock()
			delete(c.refreshing, key)
			c.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(c.base, c.opt.LoadTimeout)
		defer cancel()
		c.refreshNow(ctx, key, old, l)
	}()
}

// refreshNow takes the lease (even though a value exists) and reloads.
func (c *Cache[V]) refreshNow(ctx context.Context, key, old string, l Loader[V]) {
	epoch := c.epoch.Load()
	token := ""
	marker := ""
	if !c.opt.DisableLease {
		base := keys.Base(c.opt.Prefix, key)
		ks := []string{base, keys.Sub(base, "lease"), keys.Sub(base, "wake"), keys.Sub(base, "ver")}
		token = lease.Token()
		versioned := "0"
		if c.opt.VersionedFills {
			versioned = "1"
		}
		res, err := script.CacheAcquire.Run(ctx, c.rdb, ks, token, c.opt.LeaseTTL.Milliseconds(), versioned, "1", old).Slice()
		if err != nil {
			c.ctr.redisErrors.Add(1)
			return
		}
		if kind, _ := res[0].(int64); kind != 2 {
			return // refreshed already, or another process refreshes
		}
		marker, _ = res[1].(string)
	}
	c.ctr.refreshes.Add(1)
	// A panic is recovered by callLoader and counted; nobody waits on it.
	_, _ = c.loadAndFill(ctx, key, l, epoch, token, marker, old)
}
