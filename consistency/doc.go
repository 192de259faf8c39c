// Package consistency implements keeping a cache-aside cache right while the
// database under it changes: delete after write, a durable delayed double
// delete, versioned fills (the strong mode) and the invalidation of every
// instance's in-process L1 tier.
//
// The classic answer, "update the database, then delete the cache key",
// leaves a race: a reader that loaded the OLD row before the write committed
// stores it in the cache AFTER the write's delete, and the stale value stays
// until its TTL. A [Keeper] offers three answers, chosen by [Options.Mode]:
//
//   - [DeleteAfterWrite]: the classic one, made reliable: the delete is
//     retried, broadcast to every instance's L1, and backed by a durable
//     intent recorded before the write, so a crash between the database
//     change and the delete does not skip it.
//   - [DoubleDelete]: a second delete, [Options.Delay] after the write (by
//     default twice the cache's p99 load time), scheduled in Redis sorted
//     sets and run by whichever instance is alive when it falls due.
//   - [Strong]: on a cache built with versioned fills, a delete voids every
//     fill whose read started before it, in the same script, so the race
//     cannot leave a stale value at all.
//
// Typical use, with a cache whose loader reads PostgreSQL:
//
//	users, _ := cache.New(rdb, &cache.Options[User]{Prefix: "users", Loader: load, VersionedFills: true})
//	keeper, _ := consistency.New(rdb, users, &consistency.Options{Mode: consistency.Strong})
//	defer keeper.Close()
//	err := consistency.WriteTx(ctx, keeper, pool.Begin, func(ctx context.Context, tx pgx.Tx) error {
//		_, err := tx.Exec(ctx, "UPDATE users SET name = $1 WHERE id = $2", name, id)
//		return err
//	}, id)
//
// A Keeper never closes the client it is given. See README.md for the
// measured stale reads and stale entries of each mode.
package consistency
