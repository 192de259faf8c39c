package pgcdc

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// ErrSlotActive is returned when another connection streams from the slot
// (another follower is active); a [Follower] waits and tries again.
var ErrSlotActive = errors.New("pgcdc: replication slot is active in another connection")

// pgSource reads pgoutput from a logical replication slot. Progress is
// reported to the server (standby status) only up to the end of the last
// transaction marked done, so the slot keeps everything not yet applied.
type pgSource struct {
	conn      *pgconn.PgConn
	interval  time.Duration                         // between standby status updates
	relations map[uint32]*pglogrepl.RelationMessage // by relation id, as announced
	confirmed pglogrepl.LSN                         // end of the last done transaction
	pending   int                                   // transactions returned by Next, not yet done
	cur       *Tx                                   // the transaction being read
	lastSent  time.Time
}

// replicationURL adds replication=database to a connection URL or keyword
// string.
func replicationURL(conn string) string {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		u, err := url.Parse(conn)
		if err == nil {
			q := u.Query()
			q.Set("replication", "database")
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return conn + " replication=database"
}

// openPostgres connects for replication and starts streaming slot with
// publication from the slot's confirmed position.
func openPostgres(ctx context.Context, connString, slot, publication string, interval time.Duration) (*pgSource, error) {
	conn, err := pgconn.Connect(ctx, replicationURL(connString))
	if err != nil {
		return nil, fmt.Errorf("pgcdc: connect for replication: %w", err)
	}
	err = pglogrepl.StartReplication(ctx, conn, slot, 0, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names '" + strings.ReplaceAll(publication, "'", "''") + "'"},
	})
	if err != nil {
		_ = conn.Close(context.Background())
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "55006" {
			return nil, fmt.Errorf("%w: %s", ErrSlotActive, pe.Message)
		}
		return nil, fmt.Errorf("pgcdc: start replication from slot %q: %w", slot, err)
	}
	return &pgSource{conn: conn, interval: interval, relations: map[uint32]*pglogrepl.RelationMessage{}, lastSent: time.Now()}, nil
}

// Next reads until a transaction commits.
func (s *pgSource) Next(ctx context.Context) (*Tx, error) {
	for {
		if time.Since(s.lastSent) >= s.interval {
			if err := s.sendStatus(ctx); err != nil {
				return nil, err
			}
		}
		rctx, cancel := context.WithDeadline(ctx, s.lastSent.Add(s.interval))
		msg, err := s.conn.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && pgconn.Timeout(err) {
				continue
			}
			return nil, fmt.Errorf("pgcdc: receive: %w", err)
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			return nil, fmt.Errorf("pgcdc: replication: %w", pgconn.ErrorResponseToPgError(m))
		case *pgproto3.CopyData:
			tx, err := s.copyData(ctx, m.Data)
			if err != nil || tx != nil {
				return tx, err
			}
		}
	}
}

// copyData handles one message of the replication stream; it returns a
// transaction when one committed.
func (s *pgSource) copyData(ctx context.Context, data []byte) (*Tx, error) {
	if len(data) == 0 {
		return nil, nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		k, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return nil, fmt.Errorf("pgcdc: keepalive: %w", err)
		}
		// Nothing pending and no transaction open: everything before the
		// server's position was sent and applied, so the slot may move
		// there (it would otherwise keep WAL that other databases write).
		if s.pending == 0 && s.cur == nil && k.ServerWALEnd > s.confirmed {
			s.confirmed = k.ServerWALEnd
		}
		if k.ReplyRequested {
			return nil, s.sendStatus(ctx)
		}
		return nil, nil
	case pglogrepl.XLogDataByteID:
		x, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return nil, fmt.Errorf("pgcdc: xlog data: %w", err)
		}
		return s.logical(x.WALData)
	}
	return nil, nil
}

// logical decodes one pgoutput message.
func (s *pgSource) logical(data []byte) (*Tx, error) {
	msg, err := pglogrepl.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("pgcdc: decode pgoutput: %w", err)
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		s.relations[m.RelationID] = m
	case *pglogrepl.BeginMessage:
		s.cur = &Tx{Commit: m.CommitTime}
	case *pglogrepl.InsertMessage:
		return nil, s.add(m.RelationID, Insert, nil, m.Tuple)
	case *pglogrepl.UpdateMessage:
		return nil, s.add(m.RelationID, Update, m.OldTuple, m.NewTuple)
	case *pglogrepl.DeleteMessage:
		return nil, s.add(m.RelationID, Delete, m.OldTuple, nil)
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			if err := s.add(id, Truncate, nil, nil); err != nil {
				return nil, err
			}
		}
	case *pglogrepl.CommitMessage:
		tx := s.cur
		if tx == nil {
			return nil, errors.New("pgcdc: commit without begin")
		}
		s.cur = nil
		tx.Commit = m.CommitTime
		tx.Position = uint64(m.TransactionEndLSN)
		s.pending++
		return tx, nil
	}
	return nil, nil
}

// add appends a row change to the open transaction.
func (s *pgSource) add(relID uint32, op Op, old, new *pglogrepl.TupleData) error {
	rel, ok := s.relations[relID]
	if !ok {
		return fmt.Errorf("pgcdc: change of unknown relation %d", relID)
	}
	if s.cur == nil {
		return errors.New("pgcdc: change outside a transaction")
	}
	s.cur.Changes = append(s.cur.Changes, Change{
		Table: rel.Namespace + "." + rel.RelationName, Op: op,
		Old: row(rel, old), New: row(rel, new),
	})
	return nil
}

// row turns a tuple into column name -> text value; NULL and unchanged
// TOASTed values are left out.
func row(rel *pglogrepl.RelationMessage, t *pglogrepl.TupleData) map[string]string {
	if t == nil {
		return nil
	}
	r := make(map[string]string, len(t.Columns))
	for i, c := range t.Columns {
		if i >= len(rel.Columns) {
			break
		}
		if c.DataType == pglogrepl.TupleDataTypeText || c.DataType == pglogrepl.TupleDataTypeBinary {
			r[rel.Columns[i].Name] = string(c.Data)
		}
	}
	return r
}

// Done moves the confirmed position to the end of tx, and tells the
// server once no transaction returned by Next is left undone (once per
// batch).
func (s *pgSource) Done(ctx context.Context, tx *Tx) error {
	if lsn := pglogrepl.LSN(tx.Position); lsn > s.confirmed {
		s.confirmed = lsn
	}
	if s.pending > 0 {
		s.pending--
	}
	if s.pending > 0 {
		return nil
	}
	return s.sendStatus(ctx)
}

// sendStatus reports the confirmed position as written, flushed and
// applied: the server keeps everything after it.
func (s *pgSource) sendStatus(ctx context.Context) error {
	err := pglogrepl.SendStandbyStatusUpdate(ctx, s.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: s.confirmed, WALFlushPosition: s.confirmed, WALApplyPosition: s.confirmed,
	})
	if err != nil {
		return fmt.Errorf("pgcdc: standby status: %w", err)
	}
	s.lastSent = time.Now()
	return nil
}

// Close ends the replication connection.
func (s *pgSource) Close(ctx context.Context) error { return s.conn.Close(ctx) }
