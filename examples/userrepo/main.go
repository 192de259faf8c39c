// Command userrepo is the example a service would copy: users in
// PostgreSQL, read through aside's cache, written through aside's
// consistency keeper in strong mode.
//
//	DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 go run ./examples/userrepo
//
// It creates the table aside_example_users if missing, creates one user,
// reads, renames and deletes it, printing what each step did. The user it
// creates is deleted at the end; the table stays.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, os.Getenv("DATABASE_URL"), os.Getenv("REDIS_URL")); err != nil {
		fmt.Fprintln(os.Stderr, "userrepo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, dbURL, redisURL string) error {
	if dbURL == "" || redisURL == "" {
		return errors.New("set DATABASE_URL (postgres://...) and REDIS_URL (redis://...)")
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, Schema); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return err
	}
	opt.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opt)
	defer rdb.Close()

	repo, err := NewUserRepo(pool, rdb, "example-users")
	if err != nil {
		return err
	}
	defer repo.Close()

	email := fmt.Sprintf("ada-%d@example.com", time.Now().UnixNano())
	u, err := repo.Create(ctx, email, "Ada")
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	fmt.Fprintf(out, "created user %d (%s)\n", u.ID, u.Name)
	defer func() { _ = repo.Delete(context.WithoutCancel(ctx), u.ID) }()

	for i := range 2 {
		start := time.Now()
		got, err := repo.Get(ctx, u.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "read %d: %s, version %d, in %v\n", i+1, got.Name, got.Version, time.Since(start).Round(time.Microsecond))
	}
	if err := repo.Rename(ctx, u.ID, "Ada Lovelace"); err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	got, err := repo.Get(ctx, u.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "after rename: %s, version %d (the write dropped the cached row; this read loaded the new one)\n", got.Name, got.Version)
	if got.Name != "Ada Lovelace" {
		return fmt.Errorf("read %q after the rename", got.Name)
	}
	if err := repo.Delete(ctx, u.ID); err != nil {
		return err
	}
	if _, err := repo.Get(ctx, u.ID); !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("read after delete: %v, want not found", err)
	}
	fmt.Fprintln(out, "after delete: not found")
	cs, ks := repo.Stats()
	fmt.Fprintf(out, "cache: %d loads; keeper: %d writes, %d keys invalidated\n", cs.Loads, ks.Writes, ks.Invalidated)
	return nil
}
