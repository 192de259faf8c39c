package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// TestRun_RealRedis runs the whole demo against a private redis-server, as
// a user does with REDIS_URL, and checks that it leaves no key behind.
func TestRun_RealRedis(t *testing.T) {
	s := redistest.StartServer(t, redistest.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, "redis://"+s.Addr(), defaultLocal, ""); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	first, _, _ := strings.Cut(out.String(), "\n")
	if !strings.Contains(first, "from REDIS_URL") {
		t.Errorf("first line = %q, want it to name REDIS_URL", first)
	}
	if !strings.HasSuffix(strings.TrimSpace(out.String()), "done.") {
		t.Errorf("output does not end in done.:\n%s", out.String())
	}
	n, err := s.Client(t).DBSize(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("demo left %d keys behind", n)
	}
}

// TestRun_EmbeddedWhenNothingAnswers points the local probe at a port where
// nothing listens, so the demo falls back to miniredis.
func TestRun_EmbeddedWhenNothingAnswers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, "", "127.0.0.1:1", ""); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	first, _, _ := strings.Cut(out.String(), "\n")
	if !strings.Contains(first, "embedded") {
		t.Errorf("first line = %q, want it to say embedded", first)
	}
}

// An unknown -only name is an error naming the scenarios, before anything
// runs.
func TestRun_UnknownScenario(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), &out, "", "127.0.0.1:1", "cache,bogus")
	var unknown unknownScenarioError
	if !errors.As(err, &unknown) || !strings.Contains(err.Error(), "plumbing") {
		t.Fatalf("run -only cache,bogus: %v, want an unknown-scenario error listing the scenarios", err)
	}
	if out.Len() != 0 {
		t.Errorf("output before the error: %q", out.String())
	}
}

// A run cut short (Ctrl-C cancels its context) still deletes its keys.
func TestRun_InterruptedLeavesNoKeys(t *testing.T) {
	s := redistest.StartServer(t, redistest.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, "redis://"+s.Addr(), defaultLocal, ""); err == nil {
		t.Fatal("the demo finished within 1 s: nothing was interrupted")
	}
	n, err := s.Client(t).DBSize(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("interrupted demo left %d keys behind", n)
	}
}
