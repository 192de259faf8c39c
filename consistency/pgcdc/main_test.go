package pgcdc_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aside-go/aside/consistency/pgcdc"
	"github.com/aside-go/aside/internal/pgtest"
	"github.com/aside-go/aside/internal/redistest"
)

// pg is the package's private PostgreSQL server with wal_level=logical.
var pg *pgtest.Server

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	var err error
	if pg, err = pgtest.NewLogical(); err != nil {
		fmt.Fprintln(os.Stderr, "pgcdc tests:", err)
		os.Exit(1)
	}
	code := redistest.Run(m)
	pg.Close()
	os.Exit(code)
}

// database is one test's database with a users table, and options with a
// slot and publication of its own, dropped at cleanup.
type database struct {
	url  string
	pool *pgxpool.Pool
	opt  pgcdc.Options
}

func newDatabase(t testing.TB) *database {
	t.Helper()
	ctx := context.Background()
	name := "t_" + strings.ToLower(rand.Text()[:12])
	if err := pg.CreateDatabase(ctx, name); err != nil {
		t.Fatal(err)
	}
	db := &database{url: pg.URL(name), opt: pgcdc.Options{Slot: name, Publication: name + "_pub",
		StatusInterval: 200 * time.Millisecond, RetryInterval: 200 * time.Millisecond}}
	pool, err := pgxpool.New(ctx, db.url)
	if err != nil {
		t.Fatal(err)
	}
	db.pool = pool
	if _, err := pool.Exec(ctx, `CREATE TABLE users (id text PRIMARY KEY, name text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// A slot outlives its database; a follower may still hold it for
		// a moment after its Run returned.
		for i := 0; ; i++ {
			err := pgcdc.Drop(ctx, db.url, &db.opt)
			if err == nil || i == 50 {
				if err != nil {
					t.Errorf("drop slot: %v", err)
				}
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		c, err := pgx.Connect(ctx, pg.URL("postgres"))
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database: %v", err)
		}
	})
	return db
}

func (db *database) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := db.pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond until it holds or 15 s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
