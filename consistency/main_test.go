package consistency

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/aside-go/aside/internal/pgtest"
	"github.com/aside-go/aside/internal/redistest"
)

// TestMain runs the tests against shared redis-servers, or, when the test
// binary is re-executed as a child "process" of a crash test, runs that
// child's part instead (see crash_test.go). The examples get a private
// PostgreSQL database at $DATABASE_URL and a private Redis at $REDIS_ADDR.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	dbURL, drop, err := pgtest.Create(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := os.Setenv("DATABASE_URL", dbURL); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = redistest.Run(m)
	}
	if err := drop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}
