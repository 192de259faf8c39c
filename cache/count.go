package cache

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/keys"
)

// CountEntries returns how many entries (values and negative entries) the
// cache with this prefix holds in Redis. It walks the keyspace with SCAN,
// on every master of a Cluster: it is for operators and tools (the aside
// CLI's top), never for a request path.
func CountEntries(ctx context.Context, rdb redis.UniversalClient, prefix string) (int64, error) {
	if prefix == "" {
		prefix = defaultPrefix
	}
	if err := keys.CheckPrefix(prefix); err != nil {
		return 0, fmt.Errorf("%w: Prefix %q: %v", ErrInvalidOptions, prefix, err)
	}
	var n int64
	// Entries are the base keys themselves, "{prefix|key}"; their leases,
	// markers and the bloom filter carry a suffix after the brace.
	err := keys.Scan(ctx, rdb, keys.Pattern(prefix, ""), func(k string) {
		if p, _, ok := keys.Split(k); ok && p == prefix {
			n++
		}
	})
	if err != nil {
		return 0, fmt.Errorf("cache: count entries: %w", err)
	}
	return n, nil
}
