package staleness_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/aside-go/aside/internal/staleness"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Measure the strong mode with two cache instances for 5 seconds.
func ExampleRun() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	a := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	b := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer a.Close()
	defer b.Close()
	res, err := staleness.Run(ctx, staleness.Config{DB: pool, Clients: []redis.UniversalClient{a, b},
		Prefix: "staleness-example", Scenario: staleness.Strong, Duration: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(staleness.Table([]staleness.Result{res}))
}
