// Package bench measures aside against the libraries its users would pick
// instead, side by side in one run. See README.md for how to run it and
// the numbers it printed.
package bench

import (
	"os"
	"testing"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// TestMain starts one private redis-server on a loopback TCP port for the
// whole run; every benchmark talks to it over TCP, as services do. The
// private PostgreSQL of the change-log benchmarks, if one started, is
// stopped at the end.
func TestMain(m *testing.M) {
	code := redistest.Run(m)
	if logicalPG != nil {
		logicalPG.Close()
	}
	os.Exit(code)
}

// client returns a go-redis client of the shared standalone server.
func client(tb testing.TB) *redis.Client {
	tb.Helper()
	return redistest.Standalone.Client(tb).(*redis.Client)
}

// prefix returns a key prefix unique to this benchmark.
func prefix(tb testing.TB) string { return redistest.Prefix(tb) }
