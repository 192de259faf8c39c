package cache_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/cache"
)

type User struct {
	ID   string
	Name string
}

// db stands in for the user's database.
var db = map[string]User{"1": {ID: "1", Name: "Ada"}}

// The examples run against the Redis at $REDIS_ADDR; under go test that is
// a private server the test harness starts.

// A cache of users with negative caching, stale-while-revalidate and an
// L1 tier.
func ExampleNew() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer rdb.Close() // after the cache

	users, err := cache.New(rdb, &cache.Options[User]{
		Prefix:  "users",
		TTL:     time.Hour,
		SoftTTL: 10 * time.Minute, // past it: serve stale, refresh once in the background
		Local:   &cache.LocalOptions{Size: 10_000, TTL: 5 * time.Second},
		Loader: cache.LoaderFunc[User](func(ctx context.Context, id string) (User, error) {
			u, ok := db[id]
			if !ok {
				return User{}, cache.ErrNotFound // cached as a negative entry
			}
			return u, nil
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()

	for _, id := range []string{"1", "2", "1"} { // the second "1" is a hit
		u, err := users.Get(ctx, id)
		switch {
		case errors.Is(err, cache.ErrNotFound):
			fmt.Println(id, "no such user")
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Println(id, u.Name)
		}
	}
	// Output:
	// 1 Ada
	// 2 no such user
	// 1 Ada
}

// GetMany loads every miss with one batch call.
func ExampleCache_GetMany() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer rdb.Close()
	users, err := cache.New(rdb, &cache.Options[User]{
		Prefix: "users-batch",
		BatchLoader: cache.BatchLoaderFunc[User](func(ctx context.Context, ids []string) (map[string]User, error) {
			out := map[string]User{}
			for _, id := range ids { // one query: SELECT ... WHERE id = ANY($1)
				if u, ok := db[id]; ok {
					out[id] = u
				}
			}
			return out, nil
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()
	rs, err := users.GetMany(ctx, []string{"1", "2"})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range rs {
		fmt.Printf("found=%v name=%q\n", r.Found, r.Value.Name)
	}
	// Output:
	// found=true name="Ada"
	// found=false name=""
}

// A bloom filter guard in Redis, filled from the database's keys: lookups
// of ids that never existed stop before Redis's value keys and the loader.
func ExampleCache_RebuildBloom() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer rdb.Close()
	users, err := cache.New(rdb, &cache.Options[User]{
		Prefix: "users-bloom",
		Loader: cache.LoaderFunc[User](func(ctx context.Context, id string) (User, error) {
			u, ok := db[id]
			if !ok {
				return User{}, cache.ErrNotFound
			}
			return u, nil
		}),
		Bloom: &cache.BloomOptions{
			Expected: 1_000_000, FalsePositive: 0.001, Shared: true,
			Source: func(ctx context.Context, add func(string)) error {
				for id := range db { // SELECT id FROM users
					add(id)
				}
				return nil
			},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()
	if err := users.RebuildBloom(ctx); err != nil { // at start, then e.g. nightly
		log.Fatal(err)
	}
	_, err = users.Get(ctx, "no-such-id")
	fmt.Println(errors.Is(err, cache.ErrNotFound), users.Stats().BloomRejects)
	// Output: true 1
}

// What Redis holds for a few keys of a cache, read as an operator's tool
// would: without the value type, without loading, without changing
// anything.
func ExampleInspect() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer rdb.Close()
	users, err := cache.New(rdb, &cache.Options[User]{
		Prefix: "users-inspect",
		Loader: cache.LoaderFunc[User](func(ctx context.Context, id string) (User, error) {
			u, ok := db[id]
			if !ok {
				return User{}, cache.ErrNotFound
			}
			return u, nil
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()
	_, _ = users.Get(ctx, "1")
	_, _ = users.Get(ctx, "2") // not in db: a negative entry

	for _, id := range []string{"1", "2", "3"} {
		e, err := cache.Inspect(ctx, rdb, "users-inspect", id)
		switch {
		case err != nil:
			log.Fatal(err)
		case e.Corrupt != "":
			fmt.Println(e.RedisKey, "corrupt:", e.Corrupt)
		case !e.Exists:
			fmt.Println(e.RedisKey, "not cached; load in flight:", e.Lease.Held)
		case e.Negative:
			fmt.Println(e.RedisKey, "cached as not found")
		default:
			fmt.Printf("%s codec %d: %s\n", e.RedisKey, e.CodecID, e.Payload)
		}
	}
	// Output:
	// {users-inspect|1} codec 1: {"ID":"1","Name":"Ada"}
	// {users-inspect|2} cached as not found
	// {users-inspect|3} not cached; load in flight: false
}

func ExampleFailPolicy_String() {
	fmt.Println(cache.FailOpen, cache.FailClosed)
	// Output: fail-open fail-closed
}
