package consistency

import (
	"os"
	"testing"

	"github.com/aside-go/aside/internal/redistest"
)

// TestMain runs the tests against shared redis-servers, or, when the test
// binary is re-executed as a child "process" of a crash test, runs that
// child's part instead (see crash_test.go).
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	redistest.Main(m)
}
