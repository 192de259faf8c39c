package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/aside-go/aside/internal/backoff"
	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/lease"
)

// Tracked L1 (LocalOptions.Tracking) asks Redis itself to say when a key
// of the cache changes, whoever changed it: server-assisted client-side
// caching (CLIENT TRACKING) in broadcast mode for the cache's key prefix,
// redirected to one subscriber connection per Redis node that listens on
// __redis__:invalidate. The shape, and why:
//
//   - Broadcast with a prefix, not the default mode: the default mode
//     tracks the keys each connection read, so every pooled connection of
//     the user's client would need tracking enabled and redirected; go-redis
//     pools connections freely. Broadcast needs one control connection per
//     node, whatever reads the keys.
//   - RESP2 with REDIRECT to a pub/sub connection, not RESP3 push messages:
//     it works on every Redis from 6.0 on, on clients of either protocol,
//     and on a Cluster per node. go-redis' own client-side cache needs
//     RESP3, DB 0 and a standalone server, and lives inside the client's
//     connections; ours sits beside the user's client (which it never
//     changes) on two connections of its own per node.
//   - Anything that may have lost a message (the subscriber or the control
//     connection dropped, a re-subscription, a topology change) flushes the
//     L1 before a stale read could be served, and is counted and reported.
//
// The cache's own fills are broadcast too: an entry this process just
// wrote to Redis is dropped from its L1 by the echo and comes back on the
// next read. A read racing an invalidation does not enter L1 (the epoch
// check of served).

// A server that cannot track (Redis before 6, or an ACL that refuses
// CLIENT TRACKING or CLIENT LIST) will never deliver invalidations: the
// tier then falls back, for the cache's lifetime, to what an untracked L1
// does (entries live for LocalOptions.TTL; InvalidateLocal and the
// consistency package's broadcasts drop them), reported once through
// OnError and counted in Stats.TrackingFallbacks.

// errNoTracking marks a node that cannot track keys.
var errNoTracking = errors.New("the server cannot track keys (CLIENT TRACKING needs Redis 6 or later, and the ACL permission)")

// cannotTrack reports whether err is a server's refusal of a command it
// does not have or does not allow.
func cannotTrack(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := strings.ToLower(re.Error())
	return strings.HasPrefix(msg, "noperm") || strings.Contains(msg, "unknown command") ||
		strings.Contains(msg, "unknown subcommand")
}

// invalidateChannel is where Redis sends tracking invalidations in RESP2.
const invalidateChannel = "__redis__:invalidate"

// versionSuffix ends the Redis key of an entry's version marker
// (keys.Sub(base, "ver")).
const versionSuffix = ":ver"

// tracker keeps the L1 tier of one cache right through CLIENT TRACKING.
type tracker struct {
	rdb        redis.UniversalClient
	prefix     string // "{prefix|": the tracked key prefix
	cachePfx   string
	invalidate func(keys ...string)
	flush      func(reason error)
	enable     func() // invalidations flow on every node: L1 may serve
	fallback   func(reason error)

	wg     sync.WaitGroup
	cancel context.CancelFunc
}

// startTracking starts tracking for c; stop it with tracker.close.
func startTracking[V any](c *Cache[V]) *tracker {
	ctx, cancel := context.WithCancel(context.Background())
	// Until every node's invalidations flow, and after any loss until they
	// flow again, L1 neither serves nor stores: what it held or would
	// store then may already be stale.
	c.local.off.Store(true)
	t := &tracker{
		rdb:        c.rdb,
		prefix:     "{" + c.opt.Prefix + string(keys.Sep),
		cachePfx:   c.opt.Prefix,
		invalidate: c.InvalidateLocal,
		flush: func(reason error) {
			c.local.off.Store(true)
			c.FlushLocal()
			c.ctr.trackingFlushes.Add(1)
			c.report(fmt.Errorf("cache: tracked L1 flushed: %w", reason))
		},
		enable: func() {
			c.epoch.Add(1) // reads begun before cannot store
			c.local.off.Store(false)
		},
		fallback: func(reason error) {
			c.FlushLocal()
			c.ctr.trackingFallbacks.Add(1)
			c.report(fmt.Errorf("cache: tracked L1 falls back to an untracked L1 (entries live for LocalOptions.TTL): %w", reason))
			c.epoch.Add(1)
			c.local.off.Store(false)
		},
		cancel: cancel,
	}
	t.wg.Go(func() { t.run(ctx, &c.ctr) })
	return t
}

// close stops tracking and waits for its goroutines.
func (t *tracker) close() {
	t.cancel()
	t.wg.Wait()
}

// run keeps one node tracker per master running, rebuilding them all when
// one fails (a failover or a moved slot may have changed the masters).
func (t *tracker) run(ctx context.Context, ctr *counters) {
	wait := backoff.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for ctx.Err() == nil {
		nodes, err := t.nodes(ctx)
		if err != nil {
			t.flush(err)
			sleep(ctx, wait.Next())
			continue
		}
		nctx, stop := context.WithCancel(ctx)
		errs := make(chan error, len(nodes))
		ready := make(chan struct{}, len(nodes))
		var wg sync.WaitGroup
		for _, opt := range nodes {
			wg.Go(func() { errs <- t.node(nctx, opt, ctr, ready) })
		}
		var err1 error
		up := 0
	wait:
		for {
			select {
			case <-ready:
				if up++; up == len(nodes) {
					t.enable()
				}
			case err1 = <-errs:
				break wait
			case <-ctx.Done():
				break wait
			}
		}
		stop()
		wg.Wait()
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err1, errNoTracking) {
			t.fallback(err1)
			return
		}
		t.flush(err1)
		if up == len(nodes) {
			wait = backoff.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
		}
		sleep(ctx, wait.Next())
	}
}

// nodes returns the client options of every node to track: the client's
// own for a single server (or a Sentinel-managed master), each master's
// for a Cluster.
func (t *tracker) nodes(ctx context.Context) ([]*redis.Options, error) {
	switch c := t.rdb.(type) {
	case *redis.Client:
		o := *c.Options()
		return []*redis.Options{&o}, nil
	case *redis.ClusterClient:
		var mu sync.Mutex
		var out []*redis.Options
		err := c.ForEachMaster(ctx, func(_ context.Context, n *redis.Client) error {
			o := *n.Options()
			mu.Lock()
			out = append(out, &o)
			mu.Unlock()
			return nil
		})
		return out, err
	}
	return nil, fmt.Errorf("tracking needs a *redis.Client or *redis.ClusterClient, not %T", t.rdb)
}

// node tracks one Redis node until ctx ends or a connection fails; it
// signals ready once invalidations flow.
func (t *tracker) node(ctx context.Context, base *redis.Options, ctr *counters, ready chan<- struct{}) error {
	opt := *base
	opt.Protocol = 2
	opt.PoolSize = 2
	opt.MinIdleConns = 0
	opt.MaxIdleConns = 0
	opt.ClientName = "aside-track-" + lease.Token()
	opt.OnConnect = nil
	// Our own config, not a pointer shared with the user's client: its
	// connections write the shared one's Mode while NewClient copies it
	// (a data race). Maintenance notifications need RESP3; these
	// connections speak RESP2.
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opt.ContextTimeoutEnabled = true
	rc := redis.NewClient(&opt)
	defer rc.Close()

	ps := rc.Subscribe(ctx, invalidateChannel)
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the subscription confirmed
		return fmt.Errorf("subscribe to %s: %w", invalidateChannel, err)
	}
	ctl := rc.Conn()
	defer ctl.Close()
	if err := t.redirect(ctx, ctl, opt.ClientName); err != nil {
		return err
	}
	ready <- struct{}{}

	// Two helpers, stopped and waited for before node returns: one checks
	// that the control connection (which holds the tracking) is alive, one
	// receives the subscriber's messages.
	hctx, hstop := context.WithCancel(ctx)
	var helpers sync.WaitGroup
	defer func() {
		hstop()
		_ = ps.Close() // unblocks Receive
		helpers.Wait()
	}()
	ctlErr := make(chan error, 1)
	helpers.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-hctx.Done():
				return
			case <-tick.C:
			}
			pctx, cancel := context.WithTimeout(hctx, 2*time.Second)
			err := ctl.Ping(pctx).Err()
			cancel()
			if err != nil && hctx.Err() == nil {
				ctlErr <- fmt.Errorf("tracking control connection: %w", err)
				return
			}
		}
	})
	msgs := make(chan any)
	recvErr := make(chan error, 1)
	helpers.Go(func() {
		for {
			m, err := ps.Receive(hctx)
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case msgs <- m:
			case <-hctx.Done():
				return
			}
		}
	})
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-ctlErr:
			return err
		case err := <-recvErr:
			return fmt.Errorf("tracking subscriber: %w", err)
		case m := <-msgs:
			switch m := m.(type) {
			case *redis.Subscription:
				// A re-subscription after a reconnect: the new connection
				// has another id and messages may have been lost.
				return errors.New("tracking subscriber reconnected")
			case *redis.Message:
				t.handle(m, ctr)
			}
		}
	}
}

// redirect finds the subscriber's connection id by its name and turns on
// broadcast tracking of the prefix, redirected to it, on ctl.
func (t *tracker) redirect(ctx context.Context, ctl *redis.Conn, name string) error {
	list, err := ctl.ClientList(ctx).Result()
	if err != nil {
		if cannotTrack(err) {
			return fmt.Errorf("%w: client list: %w", errNoTracking, err)
		}
		return fmt.Errorf("client list: %w", err)
	}
	id := ""
	for line := range strings.SplitSeq(list, "\n") {
		if !strings.Contains(" "+line+" ", " name="+name+" ") || !strings.Contains(line, "sub=1") {
			continue
		}
		for f := range strings.FieldsSeq(line) {
			if v, ok := strings.CutPrefix(f, "id="); ok {
				id = v
			}
		}
	}
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		return errors.New("tracking: the subscriber connection is not in CLIENT LIST")
	}
	if err := ctl.Do(ctx, "CLIENT", "TRACKING", "ON", "REDIRECT", id, "BCAST", "PREFIX", t.prefix).Err(); err != nil {
		if cannotTrack(err) {
			return fmt.Errorf("%w: %w", errNoTracking, err)
		}
		return fmt.Errorf("client tracking: %w", err)
	}
	return nil
}

// handle applies one invalidation message: a list of changed keys, or
// none when Redis flushed its data (FLUSHALL, FLUSHDB).
func (t *tracker) handle(m *redis.Message, ctr *counters) {
	if m.Channel != invalidateChannel {
		return
	}
	list := m.PayloadSlice
	if len(list) == 0 && m.Payload != "" {
		list = []string{m.Payload}
	}
	if len(list) == 0 {
		t.flush(errors.New("the server flushed its data (FLUSHALL or FLUSHDB)"))
		return
	}
	var changed []string
	for _, k := range list {
		// The entries themselves ({prefix|key}), and their version markers
		// ({prefix|key}:ver): a versioned delete of a key that Redis did
		// not hold changes only the marker, yet a load racing it must not
		// enter L1. Leases, wake lists and the bloom filter say nothing
		// about a value.
		k = strings.TrimSuffix(k, versionSuffix)
		if p, key, ok := keys.Split(k); ok && p == t.cachePfx {
			changed = append(changed, key)
		}
	}
	if len(changed) > 0 {
		ctr.trackingInvalidations.Add(int64(len(changed)))
		t.invalidate(changed...)
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
