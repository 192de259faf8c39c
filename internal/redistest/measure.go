package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// counter is what Commands and RoundTrips share: a count, dials passed
// through (a connection's handshake goes through ProcessHook, and counts
// there), and one per command sent alone (a blocking command counts one
// however long it blocks). They differ in what a pipeline counts.
type counter struct{ n atomic.Int64 }

// Load returns the count so far.
func (c *counter) Load() int64 { return c.n.Load() }

// DialHook passes dials through.
func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook counts one command.
func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *counter) pipelineHook(next redis.ProcessPipelineHook, each bool) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if each {
			c.n.Add(int64(len(cmds)))
		} else {
			c.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// Commands is a go-redis hook that counts the commands a client sends (or
// tries to: a command that fails to reach Redis counts too): a pipeline or
// transaction counts as its length. Add it with AddHook; it is safe for
// concurrent use.
type Commands struct{ counter }

// ProcessPipelineHook counts every command of the pipeline.
func (c *Commands) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return c.pipelineHook(next, true)
}

// RoundTrips is a go-redis hook that counts round trips to Redis: one per
// command sent alone, one per pipeline or transaction whatever its length.
// Add it with AddHook; it is safe for concurrent use.
type RoundTrips struct{ counter }

// ProcessPipelineHook counts one pipeline.
func (c *RoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return c.pipelineHook(next, false)
}

// ServerCPU returns the CPU time the main thread of rdb's server used so
// far (INFO cpu: used_cpu_user_main_thread + used_cpu_sys_main_thread;
// Redis 7 or later).
func ServerCPU(ctx context.Context, rdb redis.UniversalClient) (time.Duration, error) {
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, err
	}
	var sec float64
	found := 0
	for line := range strings.SplitSeq(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if k == "used_cpu_user_main_thread" || k == "used_cpu_sys_main_thread" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("redistest: INFO cpu %s: %w", k, err)
			}
			sec += f
			found++
		}
	}
	if found != 2 {
		return 0, fmt.Errorf("redistest: INFO cpu has no main-thread times (Redis 7 or later is needed)")
	}
	return time.Duration(sec * float64(time.Second)), nil
}

// ProcessCPU returns the CPU time this process used so far, user and
// system (getrusage).
func ProcessCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// CPU returns ServerCPU of rdb's server and ProcessCPU, failing tb on an
// error: take it before and after a measured run.
func CPU(tb testing.TB, rdb redis.UniversalClient) (server, process time.Duration) {
	tb.Helper()
	server, err := ServerCPU(context.Background(), rdb)
	if err != nil {
		tb.Fatal(err)
	}
	process, err = ProcessCPU()
	if err != nil {
		tb.Fatal(err)
	}
	return server, process
}
