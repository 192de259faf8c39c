package pgcdc

import (
	"context"
	"strconv"
	"time"
)

// Op is the kind of a row change.
type Op int

// The kinds of row changes.
const (
	Insert Op = iota + 1
	Update
	Delete
	Truncate
)

// String returns "insert", "update", "delete" or "truncate".
func (o Op) String() string {
	switch o {
	case Insert:
		return "insert"
	case Update:
		return "update"
	case Delete:
		return "delete"
	case Truncate:
		return "truncate"
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// Change is one committed row change.
type Change struct {
	// Table is "schema.table".
	Table string
	Op    Op
	// Old holds the row before an update or delete, as text: the replica
	// identity columns (the primary key by default; every column with
	// REPLICA IDENTITY FULL). Nil for inserts, and for updates that did
	// not change the key under the default identity.
	Old map[string]string
	// New holds the row after an insert or update, as text. Columns that
	// are NULL, or TOASTed and unchanged, are absent.
	New map[string]string
}

// Tx is one committed transaction's changes.
type Tx struct {
	Changes []Change
	// Commit is when the transaction committed, on the database's clock.
	Commit time.Time
	// Position is where the transaction ends in the source's log; a
	// source uses it to record progress.
	Position uint64
}

// Mapper returns the cache keys a change invalidates. Return nil for a
// change of no interest; empty keys are skipped. It is called from the follower's goroutine, one
// change at a time.
type Mapper func(Change) []string

// Invalidator invalidates cache keys. *consistency.Keeper satisfies it
// (Keeper.Invalidate); with Mode Strong over a cache with versioned fills,
// a fill that read a row before the change cannot store it afterwards.
type Invalidator interface {
	Invalidate(ctx context.Context, keys ...string) error
}

// Source is a database's log of committed transactions, read in order.
type Source interface {
	// Next blocks until the next committed transaction and returns it.
	Next(ctx context.Context) (*Tx, error)
	// Done records that tx's invalidations were applied, so that the
	// source's durable progress may move past it. Transactions are done
	// in the order Next returned them.
	Done(ctx context.Context, tx *Tx) error
	// Close ends the source's connection.
	Close(ctx context.Context) error
}
