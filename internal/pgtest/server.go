package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a private PostgreSQL instance with wal_level=logical, for
// tests of logical replication: the machine's shared server does not have
// it. It runs from the installed server binaries (initdb, pg_ctl) in a
// temporary directory, on a free port, as the operating-system user
// "postgres" when the tests run as root (PostgreSQL refuses to run as
// root). Its superuser is "postgres" with trust authentication on
// 127.0.0.1.
type Server struct {
	dir, bin string
	port     int
	asUser   string // run the server as this user ("" for the current one)

	mu      sync.Mutex // guards stopped
	stopped bool
}

// StartLogical starts a private server, stopped and removed at tb's
// cleanup. A missing binary or a failed start fails the test loudly.
func StartLogical(tb testing.TB) *Server {
	tb.Helper()
	s, err := NewLogical()
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// NewLogical starts a private server that the caller closes.
func NewLogical() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			return nil, errors.New(`running as root needs the operating-system user "postgres" to run PostgreSQL (apt-get install postgresql makes it)`)
		}
		s.asUser = "postgres"
	}
	if s.dir, err = os.MkdirTemp("", "aside-pg-"); err != nil {
		return nil, err
	}
	if err := os.Chmod(s.dir, 0o777); err != nil {
		s.removeDir()
		return nil, err
	}
	if s.port, err = freePort(); err != nil {
		s.removeDir()
		return nil, err
	}
	data := filepath.Join(s.dir, "data")
	if out, err := s.command("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		s.removeDir()
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	opts := strings.Join([]string{
		"-p " + strconv.Itoa(s.port),
		"-c listen_addresses=127.0.0.1",
		"-c unix_socket_directories=" + s.dir,
		"-c wal_level=logical",
		"-c max_replication_slots=10",
		"-c max_wal_senders=10",
		"-c fsync=off",
		"-c wal_sender_timeout=5s",
	}, " ")
	logFile := filepath.Join(s.dir, "server.log")
	if out, err := s.command("pg_ctl", "-D", data, "-o", opts, "-l", logFile, "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(logFile)
		s.removeDir()
		return nil, fmt.Errorf("pg_ctl start: %v: %s %s", err, out, log)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		c, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			_ = c.Close(ctx)
			return s, nil
		}
		if ctx.Err() != nil {
			s.Close()
			return nil, fmt.Errorf("the private server does not answer: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL returns the URL of database db on the server, as its superuser.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// Port returns the server's TCP port.
func (s *Server) Port() int { return s.port }

// CreateDatabase creates database name.
func (s *Server) CreateDatabase(ctx context.Context, name string) error {
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

// Close stops the server at once and removes its files. It is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	_ = s.command("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop").Run()
	s.removeDir()
}

func (s *Server) removeDir() { _ = os.RemoveAll(s.dir) }

// command runs a server binary as the server's user.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, name)
	if s.asUser != "" {
		return exec.Command("runuser", append([]string{"-u", s.asUser, "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

// binDir finds the installed server binaries: $PG_BIN, else the newest
// /usr/lib/postgresql/*/bin with initdb.
func binDir() (string, error) {
	if b := os.Getenv("PG_BIN"); b != "" {
		return b, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL server binaries (initdb, pg_ctl): install postgresql, or set PG_BIN")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
