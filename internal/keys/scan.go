package keys

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Pattern returns the SCAN pattern of every base key under prefix followed
// by suffix: "{prefix|*}" + suffix, with the glob characters of prefix
// escaped.
func Pattern(prefix, suffix string) string {
	var b strings.Builder
	b.WriteByte('{')
	for _, r := range prefix {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte(Sep)
	b.WriteString("*}")
	b.WriteString(suffix)
	return b.String()
}

// Scan calls fn with every key matching pattern, walking the keyspace with
// SCAN on a single server or on every master of a Cluster (fn may then be
// called from several goroutines, never at once). It is for operators and
// tools: never call it on a request path.
func Scan(ctx context.Context, rdb redis.UniversalClient, pattern string, fn func(key string)) error {
	var mu sync.Mutex // serialises fn across masters
	scan := func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for it.Next(ctx) {
			mu.Lock()
			fn(it.Val())
			mu.Unlock()
		}
		return it.Err()
	}
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, scan)
	case *redis.Client:
		return scan(ctx, c)
	}
	return fmt.Errorf("keys: Scan needs a *redis.Client or *redis.ClusterClient, not %T", rdb)
}
