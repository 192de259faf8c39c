package script

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/*.lua
var files embed.FS

// Script is one Lua script. It is safe for concurrent use.
type Script struct {
	name string
	src  string
	rs   *redis.Script
}

// load builds the script in lua/name with the libraries its "--! uses:"
// line names in front of it. It panics on a missing file: scripts are part
// of the binary, so that is a build mistake.
func load(name string) *Script {
	b, err := files.ReadFile("lua/" + name)
	if err != nil {
		panic(fmt.Sprintf("script: %v", err))
	}
	body := string(b)
	var src strings.Builder
	if first, _, _ := strings.Cut(body, "\n"); strings.HasPrefix(first, "--! uses:") {
		for _, lib := range strings.Fields(strings.TrimPrefix(first, "--! uses:")) {
			l, err := files.ReadFile("lua/lib_" + lib + ".lua")
			if err != nil {
				panic(fmt.Sprintf("script: %s: %v", name, err))
			}
			src.Write(l)
			src.WriteByte('\n')
		}
	}
	src.WriteString(body)
	return &Script{name: name, src: src.String(), rs: redis.NewScript(src.String())}
}

// Name returns the file the script came from.
func (s *Script) Name() string { return s.name }

// Source returns the script as sent to Redis, libraries included.
func (s *Script) Source() string { return s.src }

// Run runs the script with EVALSHA, loading it with EVAL when the server
// does not know it yet (NOSCRIPT).
func (s *Script) Run(ctx context.Context, c redis.Scripter, keys []string, args ...any) *redis.Cmd {
	return s.rs.Run(ctx, c, keys, args...)
}

// Call is one run of a script in a batch.
type Call struct {
	Script *Script
	Keys   []string
	Args   []any
}

// RunAll runs calls in one pipeline of EVALSHAs (go-redis splits it per
// node on a Cluster) and runs again, loading the script, each call that met
// NOSCRIPT. It returns one command per call, in order; each carries its own
// result or error.
func RunAll(ctx context.Context, rdb redis.Cmdable, calls []Call) []*redis.Cmd {
	cmds := make([]*redis.Cmd, len(calls))
	switch len(calls) {
	case 0:
		return cmds
	case 1:
		c := calls[0]
		cmds[0] = c.Script.Run(ctx, rdb, c.Keys, c.Args...)
		return cmds
	}
	_, _ = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range calls {
			cmds[i] = c.Script.rs.EvalSha(ctx, p, c.Keys, c.Args...)
		}
		return nil
	})
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			c := calls[i]
			cmds[i] = c.Script.Run(ctx, rdb, c.Keys, c.Args...)
		}
	}
	return cmds
}

// RunBehind sends first and then the script in one pipeline. Redis runs a
// connection's commands in order, so the script runs the moment first
// completes, even when first blocks (a BLPOP on a wake-up list): one round
// trip instead of two. first's reply is in first; the script's in the
// returned command. The script runs again on its own, loading it, when the
// pipelined EVALSHA met NOSCRIPT. On a Cluster, first's key and keys must
// share a slot.
func (s *Script) RunBehind(ctx context.Context, rdb redis.Cmdable, first redis.Cmder, keys []string, args ...any) *redis.Cmd {
	var cmd *redis.Cmd
	_, _ = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		_ = p.Process(ctx, first)
		cmd = s.rs.EvalSha(ctx, p, keys, args...)
		return nil
	})
	if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd = s.Run(ctx, rdb, keys, args...)
	}
	return cmd
}

// ErrNotReplicated is wrapped by the error [Script.RunWait] returns when
// fewer replicas than asked acknowledged the write in time. The write was
// applied on the master; a failover before it reaches a replica can lose
// it.
var ErrNotReplicated = errors.New("redis: write not acknowledged by enough replicas")

// RunWait runs the script like [Script.Run] and then, when replicas > 0,
// WAITs on the same connection until that many replicas acknowledged the
// write or timeout passes. The script's own result is in cmd; werr is
// ErrNotReplicated (wrapped) or the error of WAIT. On a Cluster the script
// and WAIT go to the master of keys[0].
func (s *Script) RunWait(ctx context.Context, rdb redis.UniversalClient, replicas int, timeout time.Duration, keys []string, args ...any) (cmd *redis.Cmd, werr error) {
	if replicas <= 0 {
		return s.Run(ctx, rdb, keys, args...), nil
	}
	var node *redis.Client
	switch c := rdb.(type) {
	case *redis.Client:
		node = c
	case *redis.ClusterClient:
		n, err := c.MasterForKey(ctx, keys[0])
		if err != nil {
			cmd = redis.NewCmd(ctx)
			cmd.SetErr(err)
			return cmd, nil
		}
		node = n
	default:
		cmd = redis.NewCmd(ctx)
		cmd.SetErr(fmt.Errorf("script: waiting for replicas needs a *redis.Client or *redis.ClusterClient, not %T", rdb))
		return cmd, nil
	}
	run := func(eval bool) (*redis.Cmd, *redis.IntCmd) {
		var c *redis.Cmd
		var w *redis.IntCmd
		_, _ = node.Pipelined(ctx, func(p redis.Pipeliner) error {
			if eval {
				c = s.rs.Eval(ctx, p, keys, args...)
			} else {
				c = s.rs.EvalSha(ctx, p, keys, args...)
			}
			w = redis.NewIntCmd(ctx, "wait", replicas, timeout.Milliseconds())
			_ = p.Process(ctx, w)
			return nil
		})
		return c, w
	}
	cmd, w := run(false)
	if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd, w = run(true)
	}
	if cmd.Err() != nil {
		return cmd, nil
	}
	n, err := w.Result()
	switch {
	case err != nil:
		return cmd, err
	case n < int64(replicas):
		return cmd, fmt.Errorf("%w: %d of %d within %v", ErrNotReplicated, n, replicas, timeout)
	}
	return cmd, nil
}
