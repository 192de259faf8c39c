package consistency

import (
	"context"
	"fmt"
	"time"

	"github.com/aside-go/aside/pubsub"
)

// invalidation is the message one instance publishes after a write so the
// others drop the keys from their L1.
type invalidation struct {
	Origin string   `json:"o"`
	Keys   []string `json:"k"`
}

// subscribeTimeout bounds New's subscription round trip.
const subscribeTimeout = 5 * time.Second

// subscribe starts the Keeper's own PubSub and its subscription to Topic.
// A gap in delivery (reconnect, slot move, overflow) flushes this instance's
// L1: invalidations may have been missed.
func (k *Keeper) subscribe() error {
	ps, err := pubsub.New(k.rdb, &pubsub.Options{
		Overflow:     pubsub.DropOldest, // a drop reports a gap, which flushes
		OnGap:        func(pubsub.Gap) { k.flush() },
		OnDisconnect: func(pubsub.Disconnect) { k.flush() },
		OnError:      k.onError,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), subscribeTimeout)
	defer cancel()
	sub, err := ps.Subscribe(ctx, []string{k.opt.Topic}, pubsub.HandlerFunc(k.receive))
	if err != nil {
		_ = ps.Close()
		return fmt.Errorf("consistency: subscribe to %s: %w", k.opt.Topic, err)
	}
	k.ps, k.sub = ps, sub
	return nil
}

func (k *Keeper) publish(ctx context.Context, keys []string) error {
	return k.ps.Publish(ctx, k.opt.Topic, invalidation{Origin: k.id, Keys: keys})
}

// receive drops the keys another instance invalidated from this one's L1.
func (k *Keeper) receive(_ context.Context, msg *pubsub.Message) error {
	var inv invalidation
	if err := msg.Decode(&inv); err != nil {
		// Something was invalidated and we cannot tell what: drop it all.
		k.flush()
		return fmt.Errorf("consistency: decode invalidation: %w", err)
	}
	if inv.Origin == k.id {
		return nil // Delete already dropped them here
	}
	k.cache.InvalidateLocal(inv.Keys...)
	k.c.received.Add(1)
	return nil
}

func (k *Keeper) flush() {
	k.cache.FlushLocal()
	k.c.flushes.Add(1)
}
