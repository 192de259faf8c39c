package pubsub_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/pubsub"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// waitTimeout bounds every wait for something that must happen.
const waitTimeout = 20 * time.Second

// newPubSub returns a PubSub closed at cleanup, checking that Close leaves
// no subscription open.
func newPubSub(tb testing.TB, rdb redis.UniversalClient, opt *pubsub.Options) *pubsub.PubSub {
	tb.Helper()
	p, err := pubsub.New(rdb, opt)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		_ = p.Close()
		if n := p.Stats().Subscriptions; n != 0 {
			tb.Errorf("after Close: %d subscriptions open", n)
		}
	})
	return p
}

// collector is a handler that sends every message to a channel.
type collector struct{ ch chan *pubsub.Message }

func newCollector() *collector { return &collector{ch: make(chan *pubsub.Message, 1000)} }

func (c *collector) HandleMessage(_ context.Context, m *pubsub.Message) error {
	c.ch <- m
	return nil
}

// next returns the next message or fails tb.
func (c *collector) next(tb testing.TB) *pubsub.Message {
	tb.Helper()
	select {
	case m := <-c.ch:
		return m
	case <-time.After(waitTimeout):
		tb.Fatal("no message within", waitTimeout)
		return nil
	}
}

// gapRecorder collects gaps reported through Options.OnGap.
type gapRecorder struct{ ch chan pubsub.Gap }

func newGapRecorder() *gapRecorder { return &gapRecorder{ch: make(chan pubsub.Gap, 100)} }

func (g *gapRecorder) onGap(gap pubsub.Gap) { g.ch <- gap }

func (g *gapRecorder) next(tb testing.TB) pubsub.Gap {
	tb.Helper()
	select {
	case gap := <-g.ch:
		return gap
	case <-time.After(waitTimeout):
		tb.Fatal("no gap reported within", waitTimeout)
		return pubsub.Gap{}
	}
}

// eventually polls cond every 5ms until it holds or waitTimeout passes.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// killSubscribers kills every Pub/Sub subscriber connection of the server
// behind rdb (flag P in CLIENT LIST). CLIENT KILL TYPE pubsub alone misses
// RESP3 subscribers, which Redis classifies as normal clients.
func killSubscribers(tb testing.TB, rdb *redis.Client) int {
	tb.Helper()
	ctx := context.Background()
	list, err := rdb.ClientList(ctx).Result()
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(list, "\n") {
		var id, flags string
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "id="); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(f, "flags="); ok {
				flags = v
			}
		}
		if id == "" || !strings.Contains(flags, "P") {
			continue
		}
		if _, err := strconv.Atoi(id); err != nil {
			tb.Fatalf("bad client id %q", id)
		}
		if err := rdb.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
			tb.Fatalf("client kill id %s: %v", id, err)
		}
		n++
	}
	return n
}

// topicInRange returns a topic under prefix whose hash slot is in [lo, hi].
func topicInRange(prefix string, lo, hi int) string {
	for i := 0; ; i++ {
		t := fmt.Sprintf("%s:t%d", prefix, i)
		if s := keys.Slot(t); s >= lo && s <= hi {
			return t
		}
	}
}
