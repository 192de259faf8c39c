package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the output")

// syncBuffer is a bytes.Buffer safe for a command writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// cli runs the command line against url with stdin and returns its output
// and exit code.
func cli(t testing.TB, url, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut syncBuffer
	env := func(k string) string {
		if k == "REDIS_URL" {
			return url
		}
		return ""
	}
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, env)
	return out.String(), errOut.String(), code
}

// urlOf returns the URL of a test client's server: redis:// for one
// server, redis+cluster:// for a Cluster.
func urlOf(t testing.TB, rdb redis.UniversalClient) string {
	t.Helper()
	switch c := rdb.(type) {
	case *redis.Client:
		return "redis://" + c.Options().Addr
	case *redis.ClusterClient:
		addrs := c.Options().Addrs
		u := "redis+cluster://" + addrs[0]
		for i, a := range addrs[1:] {
			if i == 0 {
				u += "?addr=" + a
			} else {
				u += "&addr=" + a
			}
		}
		return u
	}
	t.Fatalf("unknown client %T", rdb)
	return ""
}

// normalize replaces what changes from run to run (durations, times,
// random IDs and tokens, prefixes) so output can be compared to a golden
// file.
func normalize(s, prefix string) string {
	s = strings.ReplaceAll(s, prefix, "<prefix>")
	for _, r := range []struct {
		re   *regexp.Regexp
		with string
	}{
		{regexp.MustCompile(`\b[A-Z2-7]{26}\b`), "<id>"},
		{regexp.MustCompile(`\b[0-9a-zA-Z_-]{22,}\b`), "<token>"},
		{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`), "<time>"},
		{regexp.MustCompile(`"(ttl_ms|[a-z_]*_ms)": \d+`), `"$1": <n>`},
		{regexp.MustCompile(`\b\d{13,}\b`), "<clock>"}, // fences restart from the server clock in µs
		{regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|ms|s|m|h)(\d+(\.\d+)?(ms|s|m))*\b`), "<dur>"},
	} {
		s = r.re.ReplaceAllString(s, r.with)
	}
	// Column widths follow the lengths of what was replaced: compare the
	// cells, not the padding.
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
		if strings.HasPrefix(l, " ") {
			lines[i] = "  " + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s: output differs from %s\n--- got ---\n%s--- want ---\n%s", name, path, got, want)
	}
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
