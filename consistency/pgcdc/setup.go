package pgcdc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	// ErrWALLevel is returned when the server's wal_level is not logical.
	ErrWALLevel = errors.New("pgcdc: wal_level is not logical")
	// ErrNoReplication is returned when the role may not replicate.
	ErrNoReplication = errors.New("pgcdc: the role lacks the REPLICATION attribute")
)

// Setup checks that the server can feed a follower (wal_level=logical, a
// role with REPLICATION) and creates the publication and the slot of opt
// if they do not exist. It is idempotent. connString is an ordinary
// connection (not a replication one). Creating a publication FOR ALL
// TABLES (opt.Tables nil) needs a superuser.
func Setup(ctx context.Context, connString string, opt *Options) error {
	o, conn, err := connect(ctx, connString, opt)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var level string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil {
		return fmt.Errorf("pgcdc: read wal_level: %w", err)
	}
	if level != "logical" {
		return fmt.Errorf("%w: it is %q; set wal_level = logical (ALTER SYSTEM SET wal_level = logical) and restart the server", ErrWALLevel, level)
	}
	var canReplicate bool
	if err := conn.QueryRow(ctx, "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&canReplicate); err != nil {
		return fmt.Errorf("pgcdc: read the role's attributes: %w", err)
	}
	if !canReplicate {
		return fmt.Errorf("%w: ALTER ROLE ... WITH REPLICATION, or connect as a role that has it", ErrNoReplication)
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", o.Publication).Scan(&exists); err != nil {
		return fmt.Errorf("pgcdc: read publications: %w", err)
	}
	if !exists {
		target := "FOR ALL TABLES"
		if len(o.Tables) > 0 {
			quoted := make([]string, len(o.Tables))
			for i, t := range o.Tables {
				quoted[i] = pgx.Identifier(strings.Split(t, ".")).Sanitize()
			}
			target = "FOR TABLE " + strings.Join(quoted, ", ")
		}
		if _, err := conn.Exec(ctx, "CREATE PUBLICATION "+pgx.Identifier{o.Publication}.Sanitize()+" "+target); err != nil {
			return fmt.Errorf("pgcdc: create publication %q: %w", o.Publication, err)
		}
	}
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", o.Slot).Scan(&exists); err != nil {
		return fmt.Errorf("pgcdc: read replication slots: %w", err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", o.Slot); err != nil {
			return fmt.Errorf("pgcdc: create replication slot %q: %w", o.Slot, err)
		}
	}
	return nil
}

// Drop removes the slot and the publication of opt, if they exist. A slot
// keeps WAL on the server until it is dropped: drop it when the cache it
// fed is gone. It fails while a follower streams from the slot.
func Drop(ctx context.Context, connString string, opt *Options) error {
	o, conn, err := connect(ctx, connString, opt)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", o.Slot); err != nil {
		return fmt.Errorf("pgcdc: drop replication slot %q: %w", o.Slot, err)
	}
	if _, err := conn.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pgx.Identifier{o.Publication}.Sanitize()); err != nil {
		return fmt.Errorf("pgcdc: drop publication %q: %w", o.Publication, err)
	}
	return nil
}

// retainedWAL returns how many bytes of WAL the slot keeps on the server.
func retainedWAL(ctx context.Context, conn *pgx.Conn, slot string) (int64, error) {
	var n int64
	err := conn.QueryRow(ctx,
		"SELECT COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint FROM pg_replication_slots WHERE slot_name = $1",
		slot).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("pgcdc: replication slot %q does not exist (Setup creates it)", slot)
	}
	return n, err
}

// WaitCaughtUp blocks until the slot of opt has confirmed everything the
// server had written when it was called: every change committed before
// the call is invalidated. For tests, migrations and deploy scripts; it
// polls every 50 ms until ctx ends.
func WaitCaughtUp(ctx context.Context, connString string, opt *Options) error {
	o, conn, err := connect(ctx, connString, opt)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var target string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&target); err != nil {
		return fmt.Errorf("pgcdc: read the WAL position: %w", err)
	}
	for {
		var done bool
		err := conn.QueryRow(ctx,
			"SELECT COALESCE(confirmed_flush_lsn >= $2::pg_lsn, false) FROM pg_replication_slots WHERE slot_name = $1",
			o.Slot, target).Scan(&done)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("pgcdc: replication slot %q does not exist (Setup creates it)", o.Slot)
		}
		if err != nil {
			return fmt.Errorf("pgcdc: read the slot: %w", err)
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgcdc: slot %q not caught up with %s: %w", o.Slot, target, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// connect validates opt and opens an ordinary connection, which the caller
// closes.
func connect(ctx context.Context, connString string, opt *Options) (Options, *pgx.Conn, error) {
	o, err := opt.withDefaults()
	if err != nil {
		return o, nil, err
	}
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return o, nil, fmt.Errorf("pgcdc: connect: %w", err)
	}
	return o, conn, nil
}
