package redistest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startTimeout bounds how long one redis-server may take to answer PING.
const startTimeout = 15 * time.Second

// Config describes one redis-server process. The zero value is a plain
// standalone server with no persistence.
type Config struct {
	// AOF turns on "appendonly yes" with "appendfsync always", so that every
	// acknowledged write survives a kill -9 and a [Server.Restart].
	AOF bool
	// Cluster starts the server with cluster mode enabled.
	Cluster bool
	// Args are extra "--name value" arguments passed to redis-server.
	Args []string
}

// Server is one redis-server process owned by a test or by a package's
// TestMain. Its methods are safe for concurrent use.
type Server struct {
	cfg  Config
	dir  string
	ownD bool // dir was made by us and is removed on Close
	port int

	mu     sync.Mutex // guards argv, cmd, exited and closed
	argv   []string   // the arguments of the last start
	cmd    *exec.Cmd
	exited chan struct{}
	closed bool
}

// Binary returns the redis-server binary the harness runs: $REDIS_SERVER if
// set, else "redis-server" from PATH.
func Binary() string {
	if b := os.Getenv("REDIS_SERVER"); b != "" {
		return b
	}
	return "redis-server"
}

func lookBinary() (string, error) {
	p, err := exec.LookPath(Binary())
	if err != nil {
		return "", fmt.Errorf("redistest: %s not found (install redis-server or set REDIS_SERVER): %w", Binary(), err)
	}
	return p, nil
}

// StartServer starts a redis-server owned by tb: it is killed and its data
// directory removed at cleanup. It fails tb (never skips) when redis-server
// cannot be started.
func StartServer(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// NewServer starts a redis-server in a new temporary directory on a free
// loopback port. The caller must call [Server.Close].
func NewServer(cfg Config) (*Server, error) {
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, dir: dir, ownD: true}
	for attempt := 0; ; attempt++ {
		s.port = freePort(cfg.Cluster)
		err = s.start()
		if err == nil {
			return s, nil
		}
		if attempt >= 5 || !errors.Is(err, errAddrInUse) {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

var errAddrInUse = errors.New("address in use")

// Addr returns the server's "127.0.0.1:port" address.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port returns the server's TCP port.
func (s *Server) Port() int { return s.port }

// Dir returns the server's data directory.
func (s *Server) Dir() string { return s.dir }

func (s *Server) args() []string {
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log"),
		"--save", "",
		"--daemonize", "no",
		"--protected-mode", "no",
	}
	if s.cfg.AOF {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	if s.cfg.Cluster {
		args = append(args,
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(s.dir, "nodes.conf"),
			"--cluster-node-timeout", "1000",
			"--cluster-require-full-coverage", "no",
			"--cluster-allow-reads-when-down", "no",
		)
	}
	return append(args, s.cfg.Args...)
}

func (s *Server) start() error { return s.startWith(s.args()) }

func (s *Server) startWith(args []string) error {
	bin, err := lookBinary()
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	// The server dies with the test binary even when the test binary is
	// killed, so no redis-server outlives a test run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()

	s.mu.Lock()
	s.argv, s.cmd, s.exited = args, cmd, exited
	s.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			log := s.logTail()
			if strings.Contains(log, "Address already in use") {
				return errAddrInUse
			}
			return fmt.Errorf("redistest: redis-server on port %d exited at start:\n%s", s.port, log)
		default:
		}
		if pingRaw(s.Addr()) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redistest: redis-server on port %d did not answer PING within %v:\n%s", s.port, startTimeout, s.logTail())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logTail returns the last lines of the server's log, for error messages.
func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// pingRaw sends an inline PING on a fresh connection and waits for +PONG.
func pingRaw(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(string(buf[:n]), "+PONG") {
		// -LOADING while the AOF is replayed, for example.
		return fmt.Errorf("redistest: ping: %q", strings.TrimSpace(string(buf[:n])))
	}
	return nil
}

// Kill sends SIGKILL to the server and waits until it has exited. Data not
// yet in the AOF is lost, as on a crash.
func (s *Server) Kill() { s.signal(syscall.SIGKILL, true) }

// Pause stops the server with SIGSTOP: connections stay open but nothing
// answers until [Server.Resume].
func (s *Server) Pause() { s.signal(syscall.SIGSTOP, false) }

// Resume continues a server stopped by [Server.Pause].
func (s *Server) Resume() { s.signal(syscall.SIGCONT, false) }

func (s *Server) signal(sig syscall.Signal, wait bool) {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	if wait {
		<-exited
	}
}

// Running reports whether the server process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exited == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// Restart kills the server if it runs and starts it again on the same port
// and data directory, so an AOF server comes back with its data.
func (s *Server) Restart() error {
	s.Kill()
	s.mu.Lock()
	args := s.argv
	s.mu.Unlock()
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		if err = s.startWith(args); !errors.Is(err, errAddrInUse) {
			return err
		}
		time.Sleep(100 * time.Millisecond) // the old socket may linger briefly
	}
	return err
}

// ClientPause runs CLIENT PAUSE for d on the server: every client command
// blocks until the pause ends, as with a slow or stalled Redis.
func (s *Server) ClientPause(ctx context.Context, d time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), ContextTimeoutEnabled: true})
	defer c.Close()
	return c.Do(ctx, "CLIENT", "PAUSE", d.Milliseconds(), "ALL").Err()
}

// NewClient returns a new standalone client for the server, with
// ContextTimeoutEnabled so a context deadline cuts a blocked read, as
// aside's README recommends for every client. The caller closes it.
func (s *Server) NewClient() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr(), ContextTimeoutEnabled: true})
}

// Client returns a client for the server that is closed at tb's cleanup.
func (s *Server) Client(tb testing.TB) redis.UniversalClient {
	c := s.NewClient()
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Close kills the server and removes its data directory. It is idempotent.
func (s *Server) Close() {
	s.Kill()
	s.mu.Lock()
	done := s.closed
	s.closed = true
	s.mu.Unlock()
	if !done && s.ownD {
		_ = os.RemoveAll(s.dir)
	}
}

// freePort picks a random loopback port that is free now; for cluster nodes
// the bus port (port+10000) must be free too. The server itself retries on
// a lost race (errAddrInUse).
func freePort(cluster bool) int {
	for {
		p := 20000 + rand.IntN(25000)
		if !portFree(p) || (cluster && !portFree(p+10000)) {
			continue
		}
		return p
	}
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}
