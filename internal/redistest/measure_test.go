package redistest_test

import (
	"context"
	"testing"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// A command alone is one round trip and one command; a pipeline of three
// is one round trip and three commands. A new connection's handshake
// counts too (HELLO alone and a pipeline of two CLIENT SETINFO), so the
// counts are compared on a connection already dialed.
func TestCounters(t *testing.T) {
	s := redistest.StartServer(t, redistest.Config{})
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), PoolSize: 1})
	defer c.Close()
	ctx := context.Background()
	rt, cmds := &redistest.RoundTrips{}, &redistest.Commands{}
	c.AddHook(rt)
	c.AddHook(cmds)
	run := func() {
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
	}
	run() // dials: the handshake is counted here
	rt0, cmds0 := rt.Load(), cmds.Load()
	if rt0 < 2 || cmds0 < 4 {
		t.Fatalf("first run counted %d round trips, %d commands; want at least 2 and 4", rt0, cmds0)
	}
	run()
	if got := rt.Load() - rt0; got != 2 {
		t.Errorf("RoundTrips counted %d, want 2", got)
	}
	if got := cmds.Load() - cmds0; got != 4 {
		t.Errorf("Commands counted %d, want 4", got)
	}
}
