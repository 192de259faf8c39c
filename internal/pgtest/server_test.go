package pgtest

import (
	"testing"

	"github.com/jackc/pgx/v5"
)

// The private server runs with wal_level=logical and goes away at cleanup.
func TestStartLogical(t *testing.T) {
	s := StartLogical(t)
	c, err := pgx.Connect(t.Context(), s.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(t.Context())
	var level string
	if err := c.QueryRow(t.Context(), "SHOW wal_level").Scan(&level); err != nil || level != "logical" {
		t.Fatalf("wal_level = %q, %v", level, err)
	}
	s.Close()
	if c2, err := pgx.Connect(t.Context(), s.URL("postgres")); err == nil {
		c2.Close(t.Context())
		t.Error("the server still answers after Close")
	}
}
