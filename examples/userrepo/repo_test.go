package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/pgtest"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func newRepo(t *testing.T, pool *pgxpool.Pool, rdb redis.UniversalClient, prefix string) *UserRepo {
	t.Helper()
	r, err := NewUserRepo(pool, rdb, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// TestUserRepo_Rename_SeenByOtherInstance runs two "processes" (own Redis
// clients, own L1) on one database: once A's rename has returned and B got
// the invalidation, B reads the new name although it had the old one in L1.
func TestUserRepo_Rename_SeenByOtherInstance(t *testing.T) {
	pool := pgtest.NewPool(t)
	if _, err := pool.Exec(context.Background(), Schema); err != nil {
		t.Fatal(err)
	}
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := context.Background()
		prefix := redistest.Prefix(t)
		a := newRepo(t, pool, tp.Client(t), prefix)
		b := newRepo(t, pool, tp.Client(t), prefix)
		u, err := a.Create(ctx, prefix+"@example.com", "Ada")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := b.Get(ctx, u.ID); err != nil || got.Name != "Ada" {
			t.Fatalf("B.Get = %+v, %v", got, err)
		}
		if got, _ := b.Get(ctx, u.ID); got.Name != "Ada" {
			t.Fatalf("B.Get (L1) = %+v", got)
		}
		if err := a.Rename(ctx, u.ID, "Ada Lovelace"); err != nil {
			t.Fatal(err)
		}
		if got, err := a.Get(ctx, u.ID); err != nil || got.Name != "Ada Lovelace" || got.Version != 2 {
			t.Errorf("A.Get after its own rename = %+v, %v; want the new row (read-your-writes)", got, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for _, ks := b.Stats(); ks.Received == 0; _, ks = b.Stats() {
			if time.Now().After(deadline) {
				t.Fatal("B never received the invalidation")
			}
			time.Sleep(5 * time.Millisecond)
		}
		if got, err := b.Get(ctx, u.ID); err != nil || got.Name != "Ada Lovelace" {
			t.Errorf("B.Get after the invalidation = %+v, %v; want the new name", got, err)
		}
		if err := a.Delete(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Get(ctx, u.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get after Delete = %v, want ErrNotFound", err)
		}
	})
}

// TestUserRepo_Create_AfterNotFoundLookup checks that creating a user
// clears the negative entry a lookup of its id left.
func TestUserRepo_Create_AfterNotFoundLookup(t *testing.T) {
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, Schema); err != nil {
		t.Fatal(err)
	}
	r := newRepo(t, pool, redistest.Standalone.Client(t), redistest.Prefix(t))
	if _, err := r.Get(ctx, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(1) on an empty table = %v", err)
	}
	u, err := r.Create(ctx, "x@example.com", "X")
	if err != nil || u.ID != 1 {
		t.Fatalf("Create = %+v, %v; want id 1", u, err)
	}
	if got, err := r.Get(ctx, 1); err != nil || got.Name != "X" {
		t.Errorf("Get after Create = %+v, %v", got, err)
	}
	if err := r.Rename(ctx, 99, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Rename of a missing user = %v, want ErrNotFound", err)
	}
}

// TestRun_Example runs the command as a user would, with DATABASE_URL and
// REDIS_URL.
func TestRun_Example(t *testing.T) {
	s := redistest.StartServer(t, redistest.Config{})
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, &out, pgtest.NewDatabase(t), "redis://"+s.Addr()); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"created user", "after rename: Ada Lovelace, version 2", "after delete: not found"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := run(ctx, &out, "", ""); err == nil {
		t.Errorf("run without URLs succeeded")
	}
}
