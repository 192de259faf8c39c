package lock_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/lock"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// newClient returns a lock client over rdb under a prefix unique to t,
// closed at cleanup.
func newClient(t testing.TB, rdb redis.UniversalClient, prefix string) *lock.Client {
	t.Helper()
	c, err := lock.New(rdb, &lock.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// clients returns n lock clients, each over its own Redis client (as n
// processes would have), sharing one prefix.
func clients(t *testing.T, tp *redistest.Topology, n int) []*lock.Client {
	t.Helper()
	prefix := redistest.Prefix(t)
	cs := make([]*lock.Client, n)
	for i := range cs {
		cs[i] = newClient(t, tp.Client(t), prefix)
	}
	return cs
}

// waitDone waits for ctx to end, failing t after limit (a bound for a hung
// test, far above the expected wait).
func waitDone(t *testing.T, ctx context.Context, limit time.Duration, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(limit):
		t.Fatalf("%s: context still not canceled after %v", what, limit)
	}
}

// pauser is a go-redis hook that stalls every command while paused, as a
// holder whose process or network stalls: commands wait until resumed or
// their context ends.
type pauser struct {
	mu     sync.Mutex // guards paused
	paused chan struct{}
}

func (p *pauser) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused == nil {
		p.paused = make(chan struct{})
	}
}

func (p *pauser) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused != nil {
		close(p.paused)
		p.paused = nil
	}
}

func (p *pauser) wait(ctx context.Context) error {
	p.mu.Lock()
	ch := p.paused
	p.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pauser) DialHook(next redis.DialHook) redis.DialHook { return next }

func (p *pauser) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := p.wait(ctx); err != nil {
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (p *pauser) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if err := p.wait(ctx); err != nil {
			return err
		}
		return next(ctx, cmds)
	}
}

// checkLeaks fails t at cleanup if goroutines started during t are still
// running then. Only for tests that do not call t.Parallel (and whose
// subtests finish before cleanup).
func checkLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// nopRedis is a RedisClient for tests that never reach Redis.
type nopRedis struct{ redis.UniversalClient }

// dropReplies is a go-redis hook that runs the obtain script (EVAL or
// EVALSHA with 3 keys) and then reports a lost connection, as when the
// reply never arrives, for the next n such calls. Other commands pass.
type dropReplies struct{ n atomic.Int64 }

func (*dropReplies) DialHook(next redis.DialHook) redis.DialHook { return next }

func (d *dropReplies) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		args := cmd.Args()
		obtain := len(args) > 4 && (cmd.Name() == "evalsha" || cmd.Name() == "eval") && fmt.Sprint(args[2]) == "3"
		if obtain && err == nil && d.n.Add(-1) >= 0 {
			cmd.SetErr(io.ErrUnexpectedEOF)
			return io.ErrUnexpectedEOF
		}
		return err
	}
}

func (*dropReplies) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
