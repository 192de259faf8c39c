package consistency

import (
	"context"
	"fmt"
	"time"
)

// run is the schedule runner: it sleeps until the earliest of the next entry
// due in Redis, the next delete this instance scheduled, and PollInterval;
// then it claims what fell due, runs it and releases the claims. It never
// polls faster than entries fall due, except to drain a backlog.
func (k *Keeper) run() {
	defer k.wg.Done()
	timer := time.NewTimer(0) // first round at once: take over what crashed instances left
	defer timer.Stop()
	next := time.Now()
	for {
		select {
		case <-k.ctx.Done():
			return
		case <-k.wake:
			k.mu.Lock()
			s := k.soonest
			k.soonest = time.Time{}
			k.mu.Unlock()
			if !s.IsZero() && s.Before(next) {
				next = s
				timer.Reset(max(time.Until(next), 0))
			}
			continue
		case <-timer.C:
		}
		wait := k.round(k.ctx)
		next = time.Now().Add(wait)
		timer.Reset(wait)
	}
}

// round claims and runs the entries that fell due and returns how long to
// wait before the next round.
func (k *Keeper) round(ctx context.Context) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, k.opt.InvalidateTimeout)
	defer cancel()
	cs, next, more, err := k.sched.claim(ctx, k.opt.ClaimTimeout)
	if err != nil && ctx.Err() == nil {
		k.onError(fmt.Errorf("consistency: claim due deletes: %w", err))
	}
	if len(cs) > 0 {
		k.execute(ctx, cs)
	}
	if more {
		return 0
	}
	wait := k.opt.PollInterval
	if next >= 0 && next < wait {
		wait = next
	}
	return max(wait, time.Millisecond)
}

// execute invalidates the keys of claimed entries and releases the claims.
// If the invalidation fails, the claims stay and become visible again after
// ClaimTimeout, so the deletes are retried by some instance.
func (k *Keeper) execute(ctx context.Context, cs []claimed) {
	var ks []string
	seen := map[string]bool{}
	var scheduled, intents int64
	for _, c := range cs {
		for _, m := range c.members {
			key, intent, err := k.sched.parse(m)
			if err != nil {
				k.onError(err) // released below, so it does not come back
				continue
			}
			if intent {
				intents++
			} else {
				scheduled++
			}
			if !seen[key] {
				seen[key] = true
				ks = append(ks, key)
			}
		}
	}
	if len(ks) > 0 {
		if err := k.invalidate(ctx, ks); err != nil {
			if ctx.Err() == nil {
				k.onError(fmt.Errorf("consistency: run %d due deletes (retried after the claim timeout): %w", len(ks), err))
			}
			return
		}
	}
	if err := k.sched.done(ctx, cs); err != nil && ctx.Err() == nil {
		k.onError(fmt.Errorf("consistency: release claims: %w", err))
	}
	k.c.executed.Add(scheduled)
	k.c.recovered.Add(intents)
}
