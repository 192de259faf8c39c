package pgtest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aside-go/aside/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

func TestNewPool_PrivateDatabaseDroppedAtCleanup(t *testing.T) {
	var name string
	t.Run("use", func(t *testing.T) {
		pool := pgtest.NewPool(t)
		ctx := context.Background()
		if err := pool.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(name, "aside_test_") {
			t.Errorf("database %q is not a private test database", name)
		}
		if _, err := pool.Exec(ctx, "CREATE TABLE t (id int primary key)"); err != nil {
			t.Fatal(err)
		}
	})
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var n int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after cleanup", name)
	}
}
