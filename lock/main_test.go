package lock_test

import (
	"testing"

	"github.com/aside-go/aside/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }
