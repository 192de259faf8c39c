package pubsub_test

import (
	"context"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/pubsub"
	"github.com/redis/go-redis/v9"
)

// Publish without a caller deadline is bounded by OpTimeout: a Redis that
// stopped answering costs that long, not forever.
func TestPubSub_Publish_OpTimeoutBoundsAStalledRedis(t *testing.T) {
	t.Parallel()
	s := redistest.StartServer(t, redistest.Config{})
	// No read timeout of the client's own: only OpTimeout can end the wait.
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr(), ContextTimeoutEnabled: true, ReadTimeout: -1})
	t.Cleanup(func() { rdb.Close() })
	p := newPubSub(t, rdb, &pubsub.Options{OpTimeout: 200 * time.Millisecond})
	if err := p.Publish(t.Context(), "warm", 1); err != nil { // dial first
		t.Fatal(err)
	}
	s.Pause()
	defer s.Resume()
	done := make(chan error, 1)
	go func() { done <- p.Publish(context.Background(), "t", 1) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Publish to a stalled Redis succeeded")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Publish without a deadline hung on a stalled Redis")
	}
}
