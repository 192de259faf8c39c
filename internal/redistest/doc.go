// Package redistest starts real, throwaway redis-server processes for
// aside's tests: a standalone server, a Redis Cluster of masters (and
// replicas when a test needs failover), and a master with a replica and
// three Sentinels. It injects faults by acting on those processes: kill -9,
// SIGSTOP/SIGCONT, restart on the same data directory (with AOF, data
// survives), CLIENT PAUSE, Cluster and Sentinel failovers.
//
// Processes listen on free loopback ports chosen at random and die with the
// test binary (Pdeathsig), so no server outlives a run; their temporary
// directories are removed on Close. A missing redis-server fails the test
// loudly, it never skips; REDIS_SERVER overrides the binary.
//
// Integration tests of a package share one standalone server and one
// 3-master Cluster, started on first use from TestMain:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
//
//	func TestCache_Get(t *testing.T) {
//		redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
//			rdb := tp.Client(t)
//			prefix := redistest.Prefix(t)
//			...
//		})
//	}
//
// Nothing outside tests imports this package.
package redistest
