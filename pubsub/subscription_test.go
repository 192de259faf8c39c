package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/pubsub"
	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
)

// gatedHandler records the values it handles and blocks each call until
// the gate is opened.
type gatedHandler struct {
	gate    chan struct{}
	started chan struct{} // a send per call (while there is room), before blocking
	active  atomic.Int64
	maxSeen atomic.Int64

	mu  sync.Mutex // guards got
	got []int
}

func newGatedHandler() *gatedHandler {
	return &gatedHandler{gate: make(chan struct{}), started: make(chan struct{}, 1000)}
}

func (h *gatedHandler) HandleMessage(_ context.Context, m *pubsub.Message) error {
	n := h.active.Add(1)
	defer h.active.Add(-1)
	for {
		old := h.maxSeen.Load()
		if n <= old || h.maxSeen.CompareAndSwap(old, n) {
			break
		}
	}
	select {
	case h.started <- struct{}{}:
	default:
	}
	<-h.gate
	var v int
	if err := m.Decode(&v); err != nil {
		return err
	}
	h.mu.Lock()
	h.got = append(h.got, v)
	h.mu.Unlock()
	return nil
}

func (h *gatedHandler) values() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.got...)
}

func publishInts(t *testing.T, p *pubsub.PubSub, topic string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if err := p.Publish(t.Context(), topic, i); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSubscription_concurrency_bounded(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		topic := redistest.Prefix(t) + ":conc"
		p := newPubSub(t, tp.Client(t), &pubsub.Options{Concurrency: 4})
		h := newGatedHandler()
		sub, err := p.Subscribe(t.Context(), []string{topic}, h)
		if err != nil {
			t.Fatal(err)
		}
		publishInts(t, p, topic, 1, 20)
		eventually(t, "4 handlers running, 20 received", func() bool {
			return h.active.Load() == 4 && sub.Stats().Received == 20
		})
		if got := sub.Stats().Buffered; got != 16 {
			t.Errorf("Buffered = %d with 4 handlers busy, want 16", got)
		}
		close(h.gate)
		eventually(t, "20 handled", func() bool { return sub.Stats().Handled == 20 })
		if got := h.maxSeen.Load(); got != 4 {
			t.Errorf("at most %d handlers ran at once, want 4", got)
		}
	})
}

func TestSubscription_overflow_dropPolicies(t *testing.T) {
	tests := []struct {
		name   string
		policy pubsub.Policy
		want   []int // handled values
	}{
		// 1 runs in the handler, the buffer of 2 holds two more, 17 drop.
		{"drop newest", pubsub.DropNewest, []int{1, 2, 3}},
		{"drop oldest", pubsub.DropOldest, []int{1, 19, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
				topic := redistest.Prefix(t) + ":drop"
				gaps := newGapRecorder()
				p := newPubSub(t, tp.Client(t), &pubsub.Options{Buffer: 2, Overflow: tt.policy, OnGap: gaps.onGap})
				h := newGatedHandler()
				sub, err := p.Subscribe(t.Context(), []string{topic}, h)
				if err != nil {
					t.Fatal(err)
				}
				publishInts(t, p, topic, 1, 1)
				<-h.started
				publishInts(t, p, topic, 2, 20)
				// The reader never blocks: it reads all 20 while the handler is stuck.
				eventually(t, "20 received", func() bool { return sub.Stats().Received == 20 })
				gap := gaps.next(t) // reported once the reader is idle
				if gap.Reason != pubsub.GapOverflow || gap.Dropped != 17 || gap.Until.Before(gap.Since) {
					t.Errorf("gap = %+v, want overflow with 17 dropped", gap)
				}
				close(h.gate)
				eventually(t, "3 handled", func() bool { return sub.Stats().Handled == 3 })
				if diff := cmp.Diff(tt.want, h.values()); diff != "" {
					t.Errorf("handled (-want +got):\n%s", diff)
				}
				st := sub.Stats()
				if st.Dropped != 17 || st.Gaps != 1 || st.Buffered != 0 {
					t.Errorf("Stats = %+v, want Dropped 17, Gaps 1, Buffered 0", st)
				}
			})
		})
	}
}

// The buffer is bounded by payload bytes as well as by count: with room
// for 100 messages but 250 bytes, two 100-byte messages fill it, and the
// drop policies act as they do on a full count.
func TestSubscription_overflow_boundedByBytes(t *testing.T) {
	tests := []struct {
		name   string
		policy pubsub.Policy
		want   []int
	}{
		{"drop newest", pubsub.DropNewest, []int{1, 2, 3}},
		{"drop oldest", pubsub.DropOldest, []int{1, 19, 20}},
	}
	pad := func(i int) []byte { // JSON of i, padded with spaces to 100 bytes
		s := strconv.Itoa(i)
		return []byte(s + strings.Repeat(" ", 100-len(s)))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
				topic := redistest.Prefix(t) + ":bytes"
				p := newPubSub(t, tp.Client(t), &pubsub.Options{Buffer: 100, BufferBytes: 250, Overflow: tt.policy})
				h := newGatedHandler()
				sub, err := p.Subscribe(t.Context(), []string{topic}, h)
				if err != nil {
					t.Fatal(err)
				}
				if err := p.PublishRaw(t.Context(), topic, pad(1)); err != nil {
					t.Fatal(err)
				}
				<-h.started
				for i := 2; i <= 20; i++ {
					if err := p.PublishRaw(t.Context(), topic, pad(i)); err != nil {
						t.Fatal(err)
					}
				}
				eventually(t, "20 received", func() bool { return sub.Stats().Received == 20 })
				close(h.gate)
				eventually(t, "3 handled", func() bool { return sub.Stats().Handled == 3 })
				if diff := cmp.Diff(tt.want, h.values()); diff != "" {
					t.Errorf("handled (-want +got):\n%s", diff)
				}
				if st := sub.Stats(); st.Dropped != 17 || st.Buffered != 0 {
					t.Errorf("Stats = %+v, want Dropped 17, Buffered 0", st)
				}
			})
		})
	}
}

func TestNew_invalidOptionsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		opt  pubsub.Options
		want string
	}{
		{pubsub.Options{Buffer: -1}, "Buffer -1"},
		{pubsub.Options{BufferBytes: -5}, "BufferBytes -5"},
		{pubsub.Options{PingTimeout: -time.Second}, "PingTimeout -1s"},
	} {
		if _, err := pubsub.New(redistest.Standalone.Client(t), &tc.opt); !errors.Is(err, pubsub.ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error naming %q", tc.opt, err, tc.want)
		}
	}
}

func TestSubscription_overflow_blockAppliesBackpressure(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		topic := redistest.Prefix(t) + ":block"
		p := newPubSub(t, tp.Client(t), &pubsub.Options{Buffer: 2, Overflow: pubsub.Block})
		h := newGatedHandler()
		sub, err := p.Subscribe(t.Context(), []string{topic}, h)
		if err != nil {
			t.Fatal(err)
		}
		publishInts(t, p, topic, 1, 1)
		<-h.started
		publishInts(t, p, topic, 2, 50)
		// 1 in the handler, 2 buffered, 1 waiting for room: the reader stops
		// there and the other 46 wait in Redis and the socket.
		eventually(t, "4 received", func() bool { return sub.Stats().Received == 4 })
		if st := sub.Stats(); st.Received != 4 || st.Buffered != 3 {
			t.Errorf("Stats = %+v while the handler is stuck, want Received 4 (Buffered 3 counts the waiting one)", st)
		}
		close(h.gate)
		eventually(t, "50 handled", func() bool { return sub.Stats().Handled == 50 })
		want := make([]int, 50)
		for i := range want {
			want[i] = i + 1
		}
		if diff := cmp.Diff(want, h.values()); diff != "" {
			t.Errorf("handled (-want +got):\n%s", diff)
		}
		if st := sub.Stats(); st.Dropped != 0 || st.Gaps != 0 {
			t.Errorf("Stats = %+v, want nothing dropped, no gap", st)
		}
	})
}

func TestSubscription_handler_errorsAndPanicsCounted(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		topic := redistest.Prefix(t) + ":panic"
		errs := make(chan error, 10)
		p := newPubSub(t, tp.Client(t), &pubsub.Options{OnError: func(err error) {
			var he *pubsub.HandlerError
			if !errors.As(err, &he) || he.Message == nil {
				t.Errorf("OnError got %v, want a *HandlerError with the message", err)
			}
			errs <- err
		}})
		errBad := errors.New("bad message")
		done := make(chan string, 10)
		sub, err := p.Subscribe(t.Context(), []string{topic}, pubsub.Typed(func(_ context.Context, _ *pubsub.Message, v string) error {
			switch v {
			case "panic":
				panic("boom")
			case "error":
				return errBad
			}
			done <- v
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []any{"panic", "error", 42, "ok"} { // 42 does not decode into a string
			if err := p.Publish(t.Context(), topic, v); err != nil {
				t.Fatal(err)
			}
		}
		if v := <-done; v != "ok" {
			t.Errorf("handled %q, want ok", v)
		}
		var got []string
		for range 3 {
			err := <-errs
			switch {
			case errors.Is(err, pubsub.ErrHandlerPanic):
				got = append(got, "panic")
			case errors.Is(err, errBad):
				got = append(got, "error")
			default:
				got = append(got, fmt.Sprintf("decode: %v", err != nil))
			}
		}
		if diff := cmp.Diff([]string{"panic", "error", "decode: true"}, got); diff != "" {
			t.Errorf("OnError calls (-want +got):\n%s", diff)
		}
		// The handler signals "ok" before it returns, and Handled counts
		// a return: wait (bounded) for the last count.
		st := sub.Stats()
		for deadline := time.Now().Add(10 * time.Second); st.Handled < 4 && time.Now().Before(deadline); st = sub.Stats() {
			time.Sleep(time.Millisecond)
		}
		if st.Panics != 1 || st.HandlerErrors != 2 || st.Handled != 4 {
			t.Errorf("Stats = %+v, want Panics 1, HandlerErrors 2, Handled 4", st)
		}
	})
}

func TestSubscription_Close_onlyThatSubscription(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		topic := redistest.Prefix(t) + ":two"
		p := newPubSub(t, tp.Client(t), nil)
		a, b := newCollector(), newCollector()
		subA, err := p.Subscribe(t.Context(), []string{topic}, a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Subscribe(t.Context(), []string{topic}, b); err != nil {
			t.Fatal(err)
		}
		if err := p.Publish(t.Context(), topic, 1); err != nil {
			t.Fatal(err)
		}
		a.next(t)
		b.next(t)
		if err := subA.Close(); err != nil {
			t.Fatal(err)
		}
		if err := subA.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if n := p.Stats().Subscriptions; n != 1 {
			t.Errorf("Subscriptions = %d after closing one of two, want 1", n)
		}
		if err := p.Publish(t.Context(), topic, 2); err != nil {
			t.Fatal(err)
		}
		b.next(t)
		if st := subA.Stats(); st.Received != 1 {
			t.Errorf("closed subscription received %d, want 1", st.Received)
		}
		if len(a.ch) != 0 {
			t.Errorf("closed subscription's handler got %d more messages", len(a.ch))
		}
	})
}

// TestSubscription_overflow_everyDropReported floods a stalled handler and
// checks the accounting: every message is handled or dropped, and the
// gaps reported add up to exactly the messages dropped.
func TestSubscription_overflow_everyDropReported(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		topic := redistest.Prefix(t) + ":flood"
		var mu sync.Mutex // guards reported, gapCount
		var reported, gapCount int64
		p := newPubSub(t, tp.Client(t), &pubsub.Options{
			Buffer: 8, Overflow: pubsub.DropNewest, HealthCheck: 50 * time.Millisecond,
			OnGap: func(g pubsub.Gap) {
				mu.Lock()
				reported += g.Dropped
				gapCount++
				mu.Unlock()
			},
		})
		h := newGatedHandler()
		sub, err := p.Subscribe(t.Context(), []string{topic}, h, pubsub.WithConcurrency(2))
		if err != nil {
			t.Fatal(err)
		}
		const total = 2000
		pubRDB := tp.Client(t)
		for i := 0; i < total; i += 100 {
			// Pipelined, so the flood outpaces the handlers.
			if _, err := pubRDB.Pipelined(t.Context(), func(pipe redis.Pipeliner) error {
				for j := range 100 {
					if p.Sharded() {
						pipe.SPublish(t.Context(), topic, i+j)
					} else {
						pipe.Publish(t.Context(), topic, i+j)
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		close(h.gate)
		eventually(t, "every message handled or dropped, every drop reported", func() bool {
			st := sub.Stats()
			mu.Lock()
			defer mu.Unlock()
			return st.Received == total && st.Handled+st.Dropped == total && reported == st.Dropped
		})
		st := sub.Stats()
		mu.Lock()
		defer mu.Unlock()
		if st.Dropped == 0 || st.Gaps != gapCount {
			t.Errorf("Stats = %+v, %d gaps reported: want drops, and Gaps equal to the gaps reported", st, gapCount)
		}
	})
}
