package redistest_test

import (
	"context"
	"testing"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// A command alone is one round trip and one command; a pipeline of three
// is one round trip and three commands. (One connection: a new one's
// handshake would count too, HELLO alone and a pipeline of two CLIENT
// SETINFO.)
func TestCounters(t *testing.T) {
	s := redistest.StartServer(t, redistest.Config{})
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), PoolSize: 1})
	defer c.Close()
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil { // the handshake happens here, uncounted
		t.Fatal(err)
	}
	rt, cmds := &redistest.RoundTrips{}, &redistest.Commands{}
	c.AddHook(rt)
	c.AddHook(cmds)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, "k")
		p.Get(ctx, "k")
		p.Get(ctx, "k")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := rt.Load(); got != 2 {
		t.Errorf("RoundTrips = %d, want 2", got)
	}
	if got := cmds.Load(); got != 4 {
		t.Errorf("Commands = %d, want 4", got)
	}
}
