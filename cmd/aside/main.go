// Command aside is an operator's command line for what the aside library
// keeps in Redis: queues (counts, messages in each state, dead letters to
// requeue or purge), cache entries (decoded, with their expiry, lease and
// version, read without loading), locks and semaphores, pub/sub topics to
// tail, and a live view of queues.
//
//	aside queue ls
//	aside queue stats emails
//	aside queue peek emails --dead
//	aside queue requeue emails --dead --all
//	aside cache get aside:cache user:42
//	aside lock info billing-run
//	aside pubsub tail prices
//	aside top
//
// It connects to --redis-url, else $REDIS_URL, else redis://127.0.0.1:6379.
// A URL with master_name=NAME is a Sentinel deployment; the scheme
// redis+cluster:// (or --cluster) a Cluster. It reads Redis only through
// the library's public API, so it follows the library's key layout.
//
// Exit codes: 0 done, 1 failed (Redis, bad input), 2 bad usage, 3 not
// found, 4 a destructive command was not confirmed.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitNotFound    = 3
	exitNotApproved = 4
)

// run runs the command line args and returns the exit code; main and the
// tests call it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, out: stdout, errOut: stderr, getenv: getenv}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	return a.exitCode(err)
}
