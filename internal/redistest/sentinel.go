package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name under which the Sentinels monitor the master.
const MasterName = "asidemaster"

// Sentinel is a master, one replica and three Sentinels monitoring them, all
// real processes. Its methods are safe for concurrent use, except
// [Sentinel.Failover], which swaps Master and Replica.
type Sentinel struct {
	Master    *Server
	Replica   *Server
	Sentinels []*Server
}

// StartSentinel starts a Sentinel setup owned by tb, torn down at cleanup.
func StartSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	s, err := NewSentinel()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// NewSentinel starts the master, its replica (waiting until it is in sync)
// and three Sentinels (waiting until each has seen the replica and the other
// Sentinels). The caller must call [Sentinel.Close].
func NewSentinel() (st *Sentinel, err error) {
	st = &Sentinel{}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if st.Master, err = NewServer(Config{}); err != nil {
		return nil, err
	}
	if st.Replica, err = NewServer(Config{Args: []string{"--replicaof", "127.0.0.1", fmt.Sprint(st.Master.Port())}}); err != nil {
		return nil, err
	}
	if err := retry(ctx, func() error {
		rc := st.Replica.NewClient()
		defer rc.Close()
		role, err := rc.Do(ctx, "ROLE").Slice()
		if err != nil {
			return err
		}
		if len(role) < 4 || role[3] != "connected" {
			return errors.New("redistest: replica not in sync yet")
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for i := 0; i < 3; i++ {
		s, err := newSentinelServer(st.Master.Port())
		if err != nil {
			return nil, err
		}
		st.Sentinels = append(st.Sentinels, s)
	}
	if err := retry(ctx, func() error {
		for _, s := range st.Sentinels {
			sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr()})
			m, err := sc.Master(ctx, MasterName).Result()
			sc.Close()
			if err != nil {
				return err
			}
			if m["num-other-sentinels"] != "2" || m["num-slaves"] != "1" {
				return fmt.Errorf("redistest: sentinel %s sees %s sentinels, %s replicas", s.Addr(), m["num-other-sentinels"], m["num-slaves"])
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return st, nil
}

func newSentinelServer(masterPort int) (*Server, error) {
	dir, err := os.MkdirTemp("", "redistest-sentinel-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, ownD: true}
	for attempt := 0; ; attempt++ {
		s.port = freePort(false)
		conf := fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
logfile %s
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %s 1000
sentinel failover-timeout %s 5000
sentinel parallel-syncs %s 1
`, s.port, dir, filepath.Join(dir, "redis.log"), MasterName, masterPort, MasterName, MasterName, MasterName)
		file := filepath.Join(dir, "sentinel.conf")
		if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
			return nil, err
		}
		err = s.startWith([]string{file, "--sentinel"})
		if err == nil {
			return s, nil
		}
		if attempt >= 5 || !errors.Is(err, errAddrInUse) {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
}

// SentinelAddrs returns the Sentinels' addresses.
func (st *Sentinel) SentinelAddrs() []string {
	addrs := make([]string, len(st.Sentinels))
	for i, s := range st.Sentinels {
		addrs[i] = s.Addr()
	}
	return addrs
}

// NewClient returns a new failover client that follows the Sentinels; the
// caller closes it.
func (st *Sentinel) NewClient() *redis.Client {
	return redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            MasterName,
		SentinelAddrs:         st.SentinelAddrs(),
		ContextTimeoutEnabled: true,
	})
}

// Client returns a failover client that is closed at tb's cleanup.
func (st *Sentinel) Client(tb testing.TB) redis.UniversalClient {
	c := st.NewClient()
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// MasterAddr asks the first reachable Sentinel for the current master.
func (st *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	var last error
	for _, s := range st.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr()})
		addr, err := sc.GetMasterAddrByName(ctx, MasterName).Result()
		sc.Close()
		if err == nil {
			return addr[0] + ":" + addr[1], nil
		}
		last = err
	}
	return "", last
}

// Failover runs SENTINEL FAILOVER and waits until the Sentinels name the
// former replica as master, it answers as one, and the former master has
// become its replica. Master and Replica are swapped.
func (st *Sentinel) Failover(ctx context.Context) error {
	sc := redis.NewSentinelClient(&redis.Options{Addr: st.Sentinels[0].Addr()})
	defer sc.Close()
	if err := sc.Failover(ctx, MasterName).Err(); err != nil {
		return fmt.Errorf("redistest: sentinel failover: %w", err)
	}
	want := st.Replica.Addr()
	if err := retry(ctx, func() error {
		addr, err := st.MasterAddr(ctx)
		if err != nil {
			return err
		}
		if addr != want {
			return fmt.Errorf("redistest: master still %s", addr)
		}
		rc := st.Replica.NewClient()
		defer rc.Close()
		role, err := rc.Do(ctx, "ROLE").Slice()
		if err != nil {
			return err
		}
		if role[0] != "master" {
			return errors.New("redistest: promoted replica not master yet")
		}
		// Wait for the old master to be turned into a replica too, so no
		// write acknowledged after Failover returns can land on it and be
		// lost.
		oc := st.Master.NewClient()
		defer oc.Close()
		if role, err = oc.Do(ctx, "ROLE").Slice(); err != nil {
			return err
		}
		if role[0] != "slave" {
			return errors.New("redistest: old master not demoted yet")
		}
		return nil
	}); err != nil {
		return err
	}
	st.Master, st.Replica = st.Replica, st.Master
	return nil
}

// Close kills every process and removes their directories. Idempotent.
func (st *Sentinel) Close() {
	for _, s := range st.Sentinels {
		s.Close()
	}
	if st.Replica != nil {
		st.Replica.Close()
	}
	if st.Master != nil {
		st.Master.Close()
	}
}
