package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
)

// app holds what every command shares: the streams, the global flags and
// the client, made on first use and closed when the command ends.
type app struct {
	stdin                io.Reader
	out, errOut          io.Writer
	getenv               func(string) string
	redisURL             string
	cluster, asJSON, yes bool

	rdb redis.UniversalClient
}

// Errors that choose an exit code.
var (
	errNotFound    = errors.New("not found")
	errNotApproved = errors.New("not confirmed")
	errUsage       = errors.New("usage")
)

func (a *app) exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errNotApproved):
		fmt.Fprintln(a.errOut, "aside: nothing changed:", err)
		return exitNotApproved
	case errors.Is(err, errNotFound):
		fmt.Fprintln(a.errOut, "aside:", err)
		return exitNotFound
	case errors.Is(err, errUsage) || isCobraUsage(err):
		fmt.Fprintln(a.errOut, "aside:", err)
		return exitUsage
	default:
		fmt.Fprintln(a.errOut, "aside:", err)
		return exitFailed
	}
}

// isCobraUsage reports whether err is cobra's complaint about the command
// line (unknown command or flag, wrong number of arguments).
func isCobraUsage(err error) bool {
	s := err.Error()
	return strings.HasPrefix(s, "unknown command") || strings.HasPrefix(s, "unknown flag") ||
		strings.HasPrefix(s, "unknown shorthand flag") || strings.Contains(s, "arg(s)") ||
		strings.HasPrefix(s, "invalid argument") || strings.HasPrefix(s, "flag needs an argument") ||
		strings.Contains(s, "required flag") || strings.Contains(s, "if any flags in the group")
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "aside",
		Short:         "Look at and repair what the aside library keeps in Redis",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPostRun: func(*cobra.Command, []string) {
			if a.rdb != nil {
				_ = a.rdb.Close()
			}
		},
		Long: `aside shows what the aside library keeps in Redis: queues, cache entries,
locks and semaphores, pub/sub topics, and a live view of queues.

It connects to --redis-url, else $REDIS_URL, else redis://127.0.0.1:6379.
A URL with ?master_name=NAME is a Sentinel deployment (the host is a
sentinel); redis+cluster://host:port (or --cluster) is a Cluster.

Exit codes: 0 done, 1 failed, 2 bad usage, 3 not found, 4 not confirmed.`,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.redisURL, "redis-url", "", "Redis to connect to (default $REDIS_URL, else redis://127.0.0.1:6379)")
	pf.BoolVar(&a.cluster, "cluster", false, "the URL names a Redis Cluster node")
	pf.BoolVar(&a.asJSON, "json", false, "print JSON instead of tables (read commands)")
	pf.BoolVarP(&a.yes, "yes", "y", false, "do not ask before destructive commands")
	root.AddCommand(a.queueCommand(), a.cacheCommand(), a.lockCommand(), a.pubsubCommand(), a.topCommand())
	return root
}

// client returns the Redis client, connecting on first use.
func (a *app) client(ctx context.Context) (redis.UniversalClient, error) {
	if a.rdb != nil {
		return a.rdb, nil
	}
	raw := a.redisURL
	if raw == "" {
		raw = a.getenv("REDIS_URL")
	}
	if raw == "" {
		raw = "redis://127.0.0.1:6379"
	}
	rdb, err := connect(raw, a.cluster)
	if err != nil {
		return nil, fmt.Errorf("%w: --redis-url: %v", errUsage, err)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("the Redis at %s does not answer: %w", redactURL(raw), err)
	}
	a.rdb = rdb
	return rdb, nil
}

// connect makes a client for a redis://, rediss:// or redis+cluster:// URL;
// master_name=NAME in the query makes it a Sentinel client.
func connect(raw string, cluster bool) (redis.UniversalClient, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "redis+cluster", "rediss+cluster":
		cluster = true
		raw = strings.Replace(raw, "+cluster", "", 1)
	case "redis", "rediss", "unix":
	default:
		return nil, fmt.Errorf("scheme %q: want redis, rediss, redis+cluster or rediss+cluster", u.Scheme)
	}
	switch {
	case u.Query().Has("master_name"):
		opt, err := redis.ParseFailoverURL(raw)
		if err != nil {
			return nil, err
		}
		return redis.NewFailoverClient(opt), nil
	case cluster:
		opt, err := redis.ParseClusterURL(raw)
		if err != nil {
			return nil, err
		}
		return redis.NewClusterClient(opt), nil
	}
	opt, err := redis.ParseURL(raw)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(opt), nil
}

// redactURL hides a password in raw.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// printJSON writes v as indented JSON.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table returns a tab-aligned writer on stdout; flush it when done.
func (a *app) table() *tabwriter.Writer {
	return tabwriter.NewWriter(a.out, 0, 0, 2, ' ', 0)
}

// confirm asks before a destructive action unless --yes was given.
func (a *app) confirm(what string) error {
	if a.yes {
		return nil
	}
	fmt.Fprintf(a.errOut, "%s? [y/N] ", what)
	line, _ := bufio.NewReader(a.stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return fmt.Errorf("%w: %s (answer y, or pass --yes)", errNotApproved, what)
}
