package consistency_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aside-go/aside/cache"
	"github.com/aside-go/aside/consistency"
	"github.com/aside-go/aside/internal/pgtest"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/jackc/pgx/v5"
)

func TestWriteTx_CommitThenInvalidate(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	if _, err := pool.Exec(ctx, "CREATE TABLE kv (k text PRIMARY KEY, v text NOT NULL); INSERT INTO kv VALUES ('a', 'old')"); err != nil {
		t.Fatal(err)
	}
	rdb := redistest.Standalone.Client(t)
	c, err := cache.New(rdb, &cache.Options[string]{Prefix: redistest.Prefix(t), VersionedFills: true,
		Loader: cache.LoaderFunc[string](func(ctx context.Context, k string) (v string, err error) {
			err = pool.QueryRow(ctx, "SELECT v FROM kv WHERE k = $1", k).Scan(&v)
			return v, err
		})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	k, err := consistency.New(rdb, c, &consistency.Options{Mode: consistency.Strong})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	if v, err := c.Get(ctx, "a"); err != nil || v != "old" {
		t.Fatalf("Get = %q, %v", v, err)
	}

	boom := errors.New("boom")
	err = consistency.WriteTx(ctx, k, pool.Begin, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE kv SET v = 'rolled back' WHERE k = 'a'"); err != nil {
			return err
		}
		return boom
	}, "a")
	if !errors.Is(err, boom) {
		t.Errorf("WriteTx with a failing fn = %v, want its error", err)
	}
	var v string
	if err := pool.QueryRow(ctx, "SELECT v FROM kv WHERE k = 'a'").Scan(&v); err != nil || v != "old" {
		t.Errorf("row after a failed WriteTx = %q, %v; want the rollback to keep old", v, err)
	}

	err = consistency.WriteTx(ctx, k, pool.Begin, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE kv SET v = 'new' WHERE k = 'a'")
		return err
	}, "a")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "a"); err != nil || v != "new" {
		t.Errorf("Get after WriteTx = %q, %v; want new", v, err)
	}
}
