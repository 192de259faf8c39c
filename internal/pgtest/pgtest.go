// Package pgtest gives tests a private PostgreSQL database on the server at
// $ASIDE_PG_URL, or postgres://postgres@127.0.0.1:5432/postgres (trust
// auth) when that is unset. Each call creates a new database with a random
// name and drops it at cleanup, so tests never see each other's rows and
// leave nothing behind. A server that does not answer fails the test loudly;
// it never skips. Nothing outside tests imports this package.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AdminURL returns the URL of the server's maintenance database.
func AdminURL() string {
	if u := os.Getenv("ASIDE_PG_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// NewDatabase creates a private database and returns its URL; it is dropped
// (with any connections still open to it) at tb's cleanup.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	u, drop, err := Create(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := drop(); err != nil {
			tb.Error(err)
		}
	})
	return u
}

// Create creates a private database and returns its URL and a func that
// drops it (with any connections still open to it). It is for a TestMain,
// which has no testing.TB; tests use [NewDatabase].
func Create(ctx context.Context) (dbURL string, drop func() error, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return "", nil, fmt.Errorf("pgtest: PostgreSQL at %s does not answer (bash .ci/run starts it): %w", AdminURL(), err)
	}
	defer admin.Close(context.Background())
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "aside_test_" + hex.EncodeToString(b[:])
	u, err := url.Parse(AdminURL())
	if err != nil {
		return "", nil, fmt.Errorf("pgtest: %w", err)
	}
	u.Path = "/" + name
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("pgtest: create database: %w", err)
	}
	drop = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			return fmt.Errorf("pgtest: drop %s: %w", name, err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("pgtest: drop %s: %w", name, err)
		}
		return nil
	}
	return u.String(), drop, nil
}

// NewPool creates a private database and returns a pool connected to it,
// closed at tb's cleanup (before the database is dropped).
func NewPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	dbURL := NewDatabase(tb)
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(pool.Close)
	if err := pool.Ping(context.Background()); err != nil {
		tb.Fatalf("pgtest: ping %s: %v", dbURL, err)
	}
	return pool
}
