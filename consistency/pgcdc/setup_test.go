package pgcdc_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aside-go/aside/consistency/pgcdc"
	"github.com/aside-go/aside/internal/pgtest"
)

func TestSetup_createsIdempotentlyAndDrop(t *testing.T) {
	db := newDatabase(t)
	ctx := t.Context()
	opt := db.opt
	opt.Tables = []string{"users"}
	for range 2 {
		if err := pgcdc.Setup(ctx, db.url, &opt); err != nil {
			t.Fatal(err)
		}
	}
	var slots, pubs int
	_ = db.pool.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1 AND plugin = 'pgoutput'", opt.Slot).Scan(&slots)
	_ = db.pool.QueryRow(ctx, "SELECT count(*) FROM pg_publication_tables WHERE pubname = $1 AND tablename = 'users'", opt.Publication).Scan(&pubs)
	if slots != 1 || pubs != 1 {
		t.Fatalf("after Setup: %d slots, %d published tables; want 1 and 1", slots, pubs)
	}
	if err := pgcdc.Drop(ctx, db.url, &opt); err != nil {
		t.Fatal(err)
	}
	_ = db.pool.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", opt.Slot).Scan(&slots)
	_ = db.pool.QueryRow(ctx, "SELECT count(*) FROM pg_publication WHERE pubname = $1", opt.Publication).Scan(&pubs)
	if slots != 0 || pubs != 0 {
		t.Errorf("after Drop: %d slots, %d publications", slots, pubs)
	}
}

// The machine's shared server has wal_level=replica: a clear error says
// what to change.
func TestSetup_walLevelNotLogical(t *testing.T) {
	err := pgcdc.Setup(t.Context(), pgtest.AdminURL(), &pgcdc.Options{Slot: "never_created"})
	if !errors.Is(err, pgcdc.ErrWALLevel) || !strings.Contains(err.Error(), "wal_level = logical") {
		t.Errorf("Setup = %v, want ErrWALLevel saying how to fix it", err)
	}
}

func TestSetup_roleWithoutReplication(t *testing.T) {
	db := newDatabase(t)
	ctx := t.Context()
	role := "plain_" + db.opt.Slot
	db.exec(t, "CREATE ROLE "+role+" LOGIN")
	t.Cleanup(func() { _, _ = db.pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+role) })
	url := strings.Replace(db.url, "postgres@", role+"@", 1)
	if err := pgcdc.Setup(ctx, url, &db.opt); !errors.Is(err, pgcdc.ErrNoReplication) {
		t.Errorf("Setup = %v, want ErrNoReplication", err)
	}
}

func TestOptions_invalid(t *testing.T) {
	ok := invalidatorFunc(func(context.Context, ...string) error { return nil })
	for _, o := range []pgcdc.Options{
		{Slot: "Has-Caps"},
		{Slot: strings.Repeat("a", 64)},
		{StatusInterval: -1},
		{RetryInterval: -1},
		{RetainedWALWarning: -1},
	} {
		if _, err := pgcdc.NewFollower("postgres://x", ok, &o); !errors.Is(err, pgcdc.ErrInvalidOptions) {
			t.Errorf("NewFollower(%+v) = %v, want ErrInvalidOptions", o, err)
		}
	}
	m := func(pgcdc.Change) []string { return nil }
	if _, err := pgcdc.NewFollower("postgres://x", invalidatorFunc(nil), &pgcdc.Options{Mapper: m}); !errors.Is(err, pgcdc.ErrInvalidOptions) {
		t.Errorf("nil Invalidator: %v", err)
	}
	if _, err := pgcdc.NewFollower("postgres://x", ok, nil); !errors.Is(err, pgcdc.ErrInvalidOptions) {
		t.Errorf("nil Mapper: %v", err)
	}
}

// invalidatorFunc adapts a function to an Invalidator.
type invalidatorFunc func(ctx context.Context, keys ...string) error

func (f invalidatorFunc) Invalidate(ctx context.Context, keys ...string) error {
	return f(ctx, keys...)
}
