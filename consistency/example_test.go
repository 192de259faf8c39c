package consistency_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/aside-go/aside/cache"
	"github.com/aside-go/aside/consistency"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

type User struct {
	ID   string
	Name string
}

// The examples run against the Redis at $REDIS_ADDR and the PostgreSQL
// database at $DATABASE_URL; under go test those are private ones the test
// harness makes.

// The strong mode: a cache with versioned fills and a Keeper for it, one of
// each per process. Writes go through the Keeper.
func ExampleNew() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer rdb.Close() // after the keeper and the cache
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	_, err = pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS users (id text PRIMARY KEY, name text NOT NULL);
		INSERT INTO users VALUES ('42', 'Ada L.') ON CONFLICT (id) DO UPDATE SET name = 'Ada L.'`)
	if err != nil {
		log.Fatal(err)
	}

	users, err := cache.New(rdb, &cache.Options[User]{
		Prefix:         "users",
		VersionedFills: true,
		Loader: cache.LoaderFunc[User](func(ctx context.Context, id string) (User, error) {
			u := User{ID: id}
			err := pool.QueryRow(ctx, "SELECT name FROM users WHERE id = $1", id).Scan(&u.Name)
			if errors.Is(err, pgx.ErrNoRows) {
				return u, cache.ErrNotFound
			}
			return u, err
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()
	keeper, err := consistency.New(rdb, users, &consistency.Options{Mode: consistency.Strong})
	if err != nil {
		log.Fatal(err)
	}
	defer keeper.Close()

	u, err := users.Get(ctx, "42") // cached
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.Name)

	err = consistency.WriteTx(ctx, keeper, pool.Begin, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE users SET name = $1 WHERE id = $2", "Ada", "42")
		return err
	}, "42")
	if errors.Is(err, consistency.ErrPending) {
		// The row is updated; the cache is invalidated later by the durable
		// intent. Not an error for the user of this write.
		err = nil
	}
	if err != nil {
		log.Fatal(err)
	}
	u, err = users.Get(ctx, "42") // read-your-writes: loads the new row
	fmt.Println(u.Name, err)
	// Output:
	// Ada L.
	// Ada <nil>
}

// Delayed double delete for a cache without versioned fills: the second
// delete runs twice the cache's p99 load time after the write, on whichever
// instance is alive then.
func ExampleKeeper_Write() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer rdb.Close()
	prices, err := cache.New(rdb, &cache.Options[int]{Prefix: "prices",
		Loader: cache.LoaderFunc[int](func(ctx context.Context, sku string) (int, error) { return 100, nil })})
	if err != nil {
		log.Fatal(err)
	}
	defer prices.Close()
	keeper, err := consistency.New(rdb, prices, &consistency.Options{Mode: consistency.DoubleDelete})
	if err != nil {
		log.Fatal(err)
	}
	defer keeper.Close()
	err = keeper.Write(ctx, func(ctx context.Context) error {
		return nil // change the price in the database here
	}, "sku-1", "sku-2")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("written; sku-1 and sku-2 deleted now and once more later")
	// Output: written; sku-1 and sku-2 deleted now and once more later
}

func ExampleMode_String() {
	for _, m := range []consistency.Mode{consistency.DeleteAfterWrite, consistency.DoubleDelete, consistency.Strong} {
		fmt.Println(m)
	}
	// Output:
	// delete-after-write
	// double-delete
	// strong
}
