package main

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aside-go/aside/cache"
	"github.com/aside-go/aside/consistency"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// User is one row of the users table.
type User struct {
	ID      int64  `json:"id"`
	Email   string `json:"email"`
	Name    string `json:"name"`
	Version int64  `json:"version"` // incremented by every update
}

// ErrNotFound is returned for a user that does not exist.
var ErrNotFound = errors.New("userrepo: user not found")

// Schema creates the table the repository uses.
const Schema = `CREATE TABLE IF NOT EXISTS aside_example_users (
	id      bigserial PRIMARY KEY,
	email   text UNIQUE NOT NULL,
	name    text NOT NULL,
	version bigint NOT NULL DEFAULT 1
)`

// UserRepo reads users through a Redis cache (with a small L1 tier in each
// process) and writes them through a consistency.Keeper in strong mode: a
// reader never puts an old row back in the cache after a write, and every
// process drops the written user from its L1.
//
// Create one UserRepo per process; it is safe for concurrent use.
type UserRepo struct {
	pool   *pgxpool.Pool
	users  *cache.Cache[User]
	keeper *consistency.Keeper
}

// NewUserRepo returns a repository on pool, caching in rdb under prefix.
// Call Close when done; it closes neither pool nor rdb.
func NewUserRepo(pool *pgxpool.Pool, rdb redis.UniversalClient, prefix string) (*UserRepo, error) {
	r := &UserRepo{pool: pool}
	users, err := cache.New(rdb, &cache.Options[User]{
		Prefix:         prefix,
		TTL:            10 * time.Minute,
		Loader:         cache.LoaderFunc[User](r.load),
		VersionedFills: true, // the strong mode of consistency
		Local:          &cache.LocalOptions{Size: 10000, TTL: 5 * time.Second},
	})
	if err != nil {
		return nil, err
	}
	keeper, err := consistency.New(rdb, users, &consistency.Options{Mode: consistency.Strong})
	if err != nil {
		_ = users.Close()
		return nil, err
	}
	r.users, r.keeper = users, keeper
	return r, nil
}

// Close stops the keeper, then the cache.
func (r *UserRepo) Close() error {
	return errors.Join(r.keeper.Close(), r.users.Close())
}

func key(id int64) string { return strconv.FormatInt(id, 10) }

// load is the cache's loader: one SELECT by primary key.
func (r *UserRepo) load(ctx context.Context, k string) (User, error) {
	id, err := strconv.ParseInt(k, 10, 64)
	if err != nil {
		return User{}, cache.ErrNotFound
	}
	u := User{ID: id}
	err = r.pool.QueryRow(ctx, "SELECT email, name, version FROM aside_example_users WHERE id = $1", id).
		Scan(&u.Email, &u.Name, &u.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, cache.ErrNotFound // cached as a short negative entry
	}
	return u, err
}

// Get returns a user, from L1, Redis or PostgreSQL.
func (r *UserRepo) Get(ctx context.Context, id int64) (User, error) {
	u, err := r.users.Get(ctx, key(id))
	if errors.Is(err, cache.ErrNotFound) {
		return User{}, ErrNotFound
	}
	return u, err
}

// Create inserts a user. The id is taken from the sequence first, so the
// write knows its cache key before it runs (a lookup of that id may have
// cached "not found").
func (r *UserRepo) Create(ctx context.Context, email, name string) (User, error) {
	u := User{Email: email, Name: name, Version: 1}
	if err := r.pool.QueryRow(ctx, "SELECT nextval(pg_get_serial_sequence('aside_example_users', 'id'))").Scan(&u.ID); err != nil {
		return User{}, err
	}
	err := r.write(ctx, u.ID, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO aside_example_users (id, email, name) VALUES ($1, $2, $3)", u.ID, email, name)
		return err
	})
	return u, err
}

// Rename changes a user's name.
func (r *UserRepo) Rename(ctx context.Context, id int64, name string) error {
	return r.write(ctx, id, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "UPDATE aside_example_users SET name = $1, version = version + 1 WHERE id = $2", name, id)
		if err == nil && tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return err
	})
}

// Delete removes a user.
func (r *UserRepo) Delete(ctx context.Context, id int64) error {
	return r.write(ctx, id, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "DELETE FROM aside_example_users WHERE id = $1", id)
		return err
	})
}

// write runs fn in a transaction and invalidates the user's cache entry
// after the commit. ErrPending means the row changed but the cache will be
// invalidated a little later by the keeper's durable intent: the write
// itself succeeded, so it is not reported as a failure.
func (r *UserRepo) write(ctx context.Context, id int64, fn func(context.Context, pgx.Tx) error) error {
	err := consistency.WriteTx(ctx, r.keeper, r.pool.Begin, fn, key(id))
	if errors.Is(err, consistency.ErrPending) {
		return nil
	}
	return err
}

// Stats returns the cache's and the keeper's counters.
func (r *UserRepo) Stats() (cache.Stats, consistency.Stats) {
	return r.users.Stats(), r.keeper.Stats()
}
