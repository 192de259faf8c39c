package redistest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Topology is one kind of Redis deployment that a package's integration
// tests run against. The servers behind it are started on first use and
// shared by every test of the package; tests keep apart through [Prefix].
type Topology struct {
	// Name is "standalone" or "cluster".
	Name string

	once   sync.Once
	start  func() (func(), func() redis.UniversalClient, error)
	stop   func()
	client func() redis.UniversalClient
	err    error
}

// Client returns a new client for the topology, closed at tb's cleanup.
// Each call makes a new client, so a test can act as several processes.
func (tp *Topology) Client(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	tp.ensure(tb)
	c := tp.client()
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// NewClient returns a new client that the caller closes.
func (tp *Topology) NewClient(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	tp.ensure(tb)
	return tp.client()
}

// IsCluster reports whether the topology is a Redis Cluster.
func (tp *Topology) IsCluster() bool { return tp.Name == "cluster" }

func (tp *Topology) ensure(tb testing.TB) {
	tb.Helper()
	mainMu.Lock()
	inMain := mainActive
	mainMu.Unlock()
	if !inMain {
		tb.Fatal("redistest: shared topologies need TestMain to call redistest.Main(m)")
	}
	tp.once.Do(func() {
		tp.stop, tp.client, tp.err = tp.start()
	})
	if tp.err != nil {
		tb.Fatalf("redistest: start %s: %v", tp.Name, tp.err)
	}
}

var (
	// Standalone is one shared redis-server.
	Standalone = &Topology{Name: "standalone", start: func() (func(), func() redis.UniversalClient, error) {
		s, err := NewServer(Config{})
		if err != nil {
			return nil, nil, err
		}
		return s.Close, func() redis.UniversalClient { return s.NewClient() }, nil
	}}
	// ClusterTopology is one shared Redis Cluster of 3 masters.
	ClusterTopology = &Topology{Name: "cluster", start: func() (func(), func() redis.UniversalClient, error) {
		c, err := NewCluster(ClusterConfig{})
		if err != nil {
			return nil, nil, err
		}
		return c.Close, func() redis.UniversalClient { return c.NewClient() }, nil
	}}

	mainMu     sync.Mutex // guards mainActive
	mainActive bool
)

// Topologies returns the topologies integration tests run against:
// standalone and a 3-master Cluster. The environment variable
// ASIDE_TOPOLOGIES (a comma-separated list of names) narrows it for a
// quick local run; CI leaves it unset.
func Topologies() []*Topology {
	all := []*Topology{Standalone, ClusterTopology}
	only := os.Getenv("ASIDE_TOPOLOGIES")
	if only == "" {
		return all
	}
	var out []*Topology
	for _, tp := range all {
		for _, name := range strings.Split(only, ",") {
			if strings.TrimSpace(name) == tp.Name {
				out = append(out, tp)
			}
		}
	}
	return out
}

// ExampleAddrEnv is the environment variable the packages' runnable
// examples read their Redis address from. [Main] points it at a private
// redis-server of its own, so examples never reach a server on the
// developer's machine and never share keys with the tests.
const ExampleAddrEnv = "REDIS_ADDR"

// Main runs the package's tests with [Run] and exits with its code. Call it
// from TestMain:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run runs the package's tests and then stops every shared server; it
// returns m.Run's exit code, for a TestMain that has its own tear-down.
// Before the tests it starts one more redis-server for the package's
// examples and sets $REDIS_ADDR to it ([ExampleAddrEnv]); a failure to start
// it fails the run, like any harness failure.
func Run(m *testing.M) int {
	mainMu.Lock()
	mainActive = true
	mainMu.Unlock()
	ex, err := NewServer(Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "redistest: start the examples' server:", err)
		return 1
	}
	defer ex.Close()
	if err := os.Setenv(ExampleAddrEnv, ex.Addr()); err != nil {
		fmt.Fprintln(os.Stderr, "redistest:", err)
		return 1
	}
	code := m.Run()
	for _, tp := range []*Topology{Standalone, ClusterTopology} {
		if tp.stop != nil {
			tp.stop()
		}
	}
	return code
}

// EachTopology runs f as a subtest for every topology of [Topologies]. The
// subtests run in parallel with each other.
func EachTopology(t *testing.T, f func(t *testing.T, tp *Topology)) {
	t.Helper()
	for _, tp := range Topologies() {
		t.Run(tp.Name, func(t *testing.T) {
			t.Parallel()
			f(t, tp)
		})
	}
}

// Prefix returns a key prefix unique to this test and call, so tests can
// share a server and run in parallel. It contains no hash-tag braces.
func Prefix(tb testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		switch r {
		case '{', '}', ' ', '/':
			return '_'
		}
		return r
	}, tb.Name())
	if len(name) > 48 {
		name = name[len(name)-48:]
	}
	return fmt.Sprintf("t:%s:%s", name, hex.EncodeToString(b[:]))
}
