package consistency

import "context"

// Tx is a database transaction that commits and rolls back with a context,
// as pgx.Tx does.
type Tx interface {
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// WriteTx runs fn in a transaction begun with begin (for pgx,
// pool.Begin or conn.Begin) through [Keeper.Write]: it commits when fn
// returns nil, rolls back otherwise, and invalidates keys after the commit.
//
//	err := consistency.WriteTx(ctx, keeper, pool.Begin, func(ctx context.Context, tx pgx.Tx) error {
//		_, err := tx.Exec(ctx, "UPDATE users SET name = $1 WHERE id = $2", name, id)
//		return err
//	}, "user:"+id)
func WriteTx[T Tx](ctx context.Context, k *Keeper, begin func(context.Context) (T, error), fn func(context.Context, T) error, keys ...string) error {
	return k.Write(ctx, func(ctx context.Context) error {
		tx, err := begin(ctx)
		if err != nil {
			return err
		}
		if err := fn(ctx, tx); err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		return tx.Commit(ctx)
	}, keys...)
}
