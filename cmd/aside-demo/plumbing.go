package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

func init() {
	register(scenario{order: 0, name: "plumbing", title: "one shared client, a round trip", run: demoPlumbing})
}

func demoPlumbing(ctx context.Context, env *demoEnv) error {
	key := "{" + env.prefix + "}:hello"
	start := time.Now()
	if err := env.rdb.Set(ctx, key, "world", time.Minute).Err(); err != nil {
		return err
	}
	got, err := env.rdb.Get(ctx, key).Result()
	if err != nil {
		return err
	}
	env.say("SET then GET %s returned %q in %v.", key, got, time.Since(start).Round(time.Microsecond))
	version := "unknown"
	if info, err := env.rdb.Info(ctx, "server").Result(); err == nil {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
				version = v
			}
		}
	}
	env.say("Redis version %s. Every aside package takes this one client; none of them closes it.", version)
	if got != "world" {
		return fmt.Errorf("round trip returned %q", got)
	}
	return nil
}
