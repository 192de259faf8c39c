// Command aside-demo shows what aside does, one scenario after another, in
// plain words. It connects to $REDIS_URL if set, else to 127.0.0.1:6379 if a
// Redis answers there, else it starts an embedded in-process Redis
// (miniredis) and says so in its first line.
//
//	go run ./cmd/aside-demo
//
// Every key it writes lives under a prefix unique to the run and is deleted
// at the end, so pointing it at a shared Redis leaves nothing behind.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// scenario is one part of the demo. Each package adds its own in a file of
// this directory, registered from init.
type scenario struct {
	order int    // position in the run, ascending
	name  string // short name, for -only
	title string // one line saying what it shows
	run   func(ctx context.Context, env *demoEnv) error
}

// defaultLocal is where the demo looks for a Redis when REDIS_URL is unset.
const defaultLocal = "127.0.0.1:6379"

var scenarios []scenario

func register(s scenario) { scenarios = append(scenarios, s) }

// demoEnv is what every scenario gets.
type demoEnv struct {
	rdb      redis.UniversalClient
	prefix   string // unique to this run; every key lives under it
	embedded bool   // true when running on miniredis
	out      io.Writer
}

func (e *demoEnv) say(format string, args ...any) {
	fmt.Fprintf(e.out, "  "+format+"\n", args...)
}

// quiet drops go-redis' own log lines (a refused dial while probing for
// a local Redis): the demo says in words what happened.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func main() {
	only := flag.String("only", "", "run only the scenarios with these comma-separated names")
	flag.Usage = func() {
		w := flag.CommandLine.Output()
		fmt.Fprintf(w, "Usage: aside-demo [-only NAME,...]\n\n")
		fmt.Fprintf(w, "Shows what aside does, one scenario after another. It uses the Redis at $REDIS_URL\n")
		fmt.Fprintf(w, "(redis://host:port/db), else %s if a Redis answers there, else an embedded one.\n\n", defaultLocal)
		fmt.Fprintf(w, "Scenarios, in order:\n")
		for _, s := range sortedScenarios() {
			fmt.Fprintf(w, "  %-12s %s\n", s.name, s.title)
		}
		fmt.Fprintln(w)
		flag.PrintDefaults()
	}
	flag.Parse()
	redis.SetLogger(quiet{})
	// Ctrl-C or SIGTERM ends the run early; its keys are still deleted.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, os.Getenv("REDIS_URL"), defaultLocal, *only); err != nil {
		fmt.Fprintln(os.Stderr, "aside-demo:", err)
		var unknown unknownScenarioError
		if errors.As(err, &unknown) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// unknownScenarioError names a -only scenario that does not exist.
type unknownScenarioError struct{ name string }

func (e unknownScenarioError) Error() string {
	names := make([]string, 0, len(scenarios))
	for _, s := range sortedScenarios() {
		names = append(names, s.name)
	}
	return fmt.Sprintf("no scenario %q (scenarios: %s)", e.name, strings.Join(names, ", "))
}

// sortedScenarios returns the scenarios in the order they run.
func sortedScenarios() []scenario {
	sort.SliceStable(scenarios, func(i, j int) bool { return scenarios[i].order < scenarios[j].order })
	return scenarios
}

// selected parses -only: the names it lists, each of which must exist.
func selected(only string) (map[string]bool, error) {
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		found := false
		for _, s := range scenarios {
			found = found || s.name == n
		}
		if !found {
			return nil, unknownScenarioError{n}
		}
		want[n] = true
	}
	return want, nil
}

func run(ctx context.Context, out io.Writer, url, local, only string) error {
	want, err := selected(only)
	if err != nil {
		return err
	}
	rdb, how, stop, err := connect(ctx, url, local)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintln(out, how)

	var b [4]byte
	_, _ = rand.Read(b[:])
	env := &demoEnv{rdb: rdb, prefix: "aside-demo:" + hex.EncodeToString(b[:]), embedded: strings.Contains(how, "embedded"), out: out}
	defer cleanup(context.WithoutCancel(ctx), env)

	for _, s := range sortedScenarios() {
		if len(want) > 0 && !want[s.name] {
			continue
		}
		fmt.Fprintf(out, "\n== %s: %s\n", s.name, s.title)
		if err := s.run(ctx, env); err != nil {
			return fmt.Errorf("scenario %s: %w", s.name, err)
		}
	}
	fmt.Fprintln(out, "\ndone.")
	return nil
}

// connect picks the Redis to use and returns a line saying which.
func connect(ctx context.Context, url, local string) (redis.UniversalClient, string, func(), error) {
	if url != "" {
		opt, err := redis.ParseURL(url)
		if err != nil {
			return nil, "", nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		opt.ContextTimeoutEnabled = true
		rdb := redis.NewClient(opt)
		if err := rdb.Ping(ctx).Err(); err != nil {
			rdb.Close()
			return nil, "", nil, fmt.Errorf("REDIS_URL %s does not answer: %w", opt.Addr, err)
		}
		return rdb, fmt.Sprintf("Using the Redis at %s (from REDIS_URL).", opt.Addr), func() { rdb.Close() }, nil
	}
	rdb := redis.NewClient(&redis.Options{Addr: local, ContextTimeoutEnabled: true, MaxRetries: -1})
	pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err := rdb.Ping(pctx).Err()
	cancel()
	if err == nil {
		return rdb, "Using the Redis at " + local + " (set REDIS_URL to use another).", func() { rdb.Close() }, nil
	}
	rdb.Close()
	mr, err := miniredis.Run()
	if err != nil {
		return nil, "", nil, fmt.Errorf("start embedded Redis: %w", err)
	}
	rdb = redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	return rdb, "Using an embedded in-process Redis (miniredis): no Redis answered at " + local + " and REDIS_URL is not set.",
		func() { rdb.Close(); mr.Close() }, nil
}

// cleanup deletes every key of this run. It scans only the run's own
// prefix, and only once, at exit.
func cleanup(ctx context.Context, env *demoEnv) {
	match := "*" + env.prefix + "*"
	del := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, match, 500).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		return iter.Err()
	}
	var err error
	if cc, ok := env.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return del(ctx, c) })
	} else {
		err = del(ctx, env.rdb)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(env.out, "cleanup:", err)
	}
}
