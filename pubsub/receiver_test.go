package pubsub_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/pubsub"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// gapCount reads the aside.pubsub.gaps counter for reason from rd.
func gapCount(tb testing.TB, rd *sdkmetric.ManualReader, reason pubsub.GapReason) int64 {
	tb.Helper()
	var rm metricdata.ResourceMetrics
	if err := rd.Collect(context.Background(), &rm); err != nil {
		tb.Fatal(err)
	}
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "aside.pubsub.gaps" {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				tb.Fatalf("aside.pubsub.gaps is %T", m.Data)
			}
			for _, dp := range sum.DataPoints {
				if v, _ := dp.Attributes.Value(attribute.Key("reason")); v.AsString() == reason.String() {
					n += dp.Value
				}
			}
		}
	}
	return n
}

// faultSetup is a private server, a subscriber with a gap recorder and a
// metric reader, and a publisher on another client.
type faultSetup struct {
	srv   *redistest.Server
	sub   *pubsub.PubSub
	pub   *pubsub.PubSub
	gaps  *gapRecorder
	disc  chan pubsub.Disconnect
	rd    *sdkmetric.ManualReader
	msgs  *collector
	topic string
}

func newFaultSetup(t *testing.T) *faultSetup {
	t.Helper()
	f := &faultSetup{
		srv:   redistest.StartServer(t, redistest.Config{}),
		gaps:  newGapRecorder(),
		disc:  make(chan pubsub.Disconnect, 100),
		rd:    sdkmetric.NewManualReader(),
		msgs:  newCollector(),
		topic: redistest.Prefix(t) + ":fault",
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(f.rd))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	f.sub = newPubSub(t, f.srv.Client(t), &pubsub.Options{
		HealthCheck:   200 * time.Millisecond,
		OnGap:         f.gaps.onGap,
		OnDisconnect:  func(d pubsub.Disconnect) { f.disc <- d },
		MeterProvider: mp,
	})
	f.pub = newPubSub(t, f.srv.Client(t), nil)
	if _, err := f.sub.Subscribe(t.Context(), []string{f.topic}, f.msgs); err != nil {
		t.Fatal(err)
	}
	f.roundTrip(t, "before")
	return f
}

// roundTrip publishes v and checks that it is the next message handled.
func (f *faultSetup) roundTrip(t *testing.T, v string) {
	t.Helper()
	if err := f.pub.Publish(t.Context(), f.topic, v); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := f.msgs.next(t).Decode(&got); err != nil || got != v {
		t.Fatalf("next message = %q (%v), want %q", got, err, v)
	}
}

// checkGap checks the gap reported after a fault at time faultAt.
func (f *faultSetup) checkGap(t *testing.T, faultAt time.Time) {
	t.Helper()
	gap := f.gaps.next(t)
	if gap.Reason != pubsub.GapReconnect {
		t.Errorf("gap reason = %v, want reconnect", gap.Reason)
	}
	if len(gap.Topics) != 1 || gap.Topics[0] != f.topic {
		t.Errorf("gap topics = %q, want [%q]", gap.Topics, f.topic)
	}
	if gap.Since.After(faultAt) || !gap.Until.After(faultAt) {
		t.Errorf("gap [%v, %v] does not cover the fault at %v", gap.Since, gap.Until, faultAt)
	}
	if gap.Err == nil {
		t.Error("gap has no error")
	}
	select {
	case d := <-f.disc:
		if !d.Since.Equal(gap.Since) {
			t.Errorf("disconnect since %v, gap since %v", d.Since, gap.Since)
		}
	default:
		t.Error("no OnDisconnect before the gap")
	}
	if n := gapCount(t, f.rd, pubsub.GapReconnect); n != 1 {
		t.Errorf("aside.pubsub.gaps{reason=reconnect} = %d, want 1", n)
	}
	if st := f.sub.Stats(); st.Gaps != 1 {
		t.Errorf("Stats.Gaps = %d, want 1", st.Gaps)
	}
}

func TestSubscription_reconnect_clientKillReported(t *testing.T) {
	t.Parallel()
	f := newFaultSetup(t)
	admin := f.srv.Client(t).(*redis.Client)
	faultAt := time.Now()
	if n := killSubscribers(t, admin); n != 1 {
		t.Fatalf("killed %d subscriber connections, want 1", n)
	}
	f.checkGap(t, faultAt)
	f.roundTrip(t, "after") // the subscription resumed
}

func TestSubscription_reconnect_serverRestartReported(t *testing.T) {
	t.Parallel()
	f := newFaultSetup(t)
	faultAt := time.Now()
	if err := f.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	f.checkGap(t, faultAt)
	f.roundTrip(t, "after")
}

func TestSubscription_reconnect_frozenServerDetectedByPing(t *testing.T) {
	t.Parallel()
	f := newFaultSetup(t)
	faultAt := time.Now()
	f.srv.Pause() // no error, no FIN: only the health check can notice
	select {
	case d := <-f.disc:
		if d.Err == nil {
			t.Errorf("disconnect without error")
		}
		f.disc <- d // checkGap wants it too
	case <-time.After(waitTimeout):
		t.Fatal("frozen server not noticed")
	}
	f.srv.Resume()
	f.checkGap(t, faultAt)
	f.roundTrip(t, "after")
}

// TestSubscription_block_outputBufferLimitReported stalls a Block-policy
// handler while a flood arrives: the reader stops, Redis buffers for the
// subscriber until its pubsub output buffer limit closes the connection.
// Those messages are lost, and the gap must be reported.
func TestSubscription_block_outputBufferLimitReported(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.Config{Args: []string{"--client-output-buffer-limit", "pubsub 256kb 128kb 1"}})
	topic := redistest.Prefix(t) + ":flood"
	gaps := newGapRecorder()
	sub := newPubSub(t, srv.Client(t), &pubsub.Options{Buffer: 1, Overflow: pubsub.Block, OnGap: gaps.onGap})
	h := newGatedHandler()
	s, err := sub.Subscribe(t.Context(), []string{topic}, h)
	if err != nil {
		t.Fatal(err)
	}
	pub := srv.Client(t)
	payload := make([]byte, 1024)
	const total = 20000 // 20 MB: more than the socket buffers and the limit
	for i := 0; i < total; i += 1000 {
		if _, err := pub.Pipelined(t.Context(), func(p redis.Pipeliner) error {
			for range 1000 {
				p.Publish(t.Context(), topic, payload)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case g := <-gaps.ch:
		t.Fatalf("gap %+v reported while the reader was blocked", g)
	default:
	}
	<-h.started   // the handler holds the first message...
	close(h.gate) // ...until now; then 1 KiB of zeros fails to decode as an int: counted, fine
	gap := gaps.next(t)
	if gap.Reason != pubsub.GapReconnect {
		t.Errorf("gap reason = %v, want reconnect", gap.Reason)
	}
	st := s.Stats()
	if st.Dropped != 0 || st.Received >= total {
		t.Errorf("Stats = %+v: want no drop by the policy and fewer than %d received (Redis cut the rest)", st, total)
	}
	t.Logf("received %d of %d before Redis closed the connection", st.Received, total)
	if err := pub.Publish(t.Context(), topic, "42").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the message after the gap", func() bool {
		vs := h.values()
		return len(vs) > 0 && vs[len(vs)-1] == 42
	})
}

// TestSubscription_reconnect_resp2ClientKillTypePubsub runs on a RESP2
// connection, where Redis counts subscribers as type pubsub (so CLIENT
// KILL TYPE pubsub reaches them) and answers PING with a ["pong", ""]
// array; a short health check exercises that reply too.
func TestSubscription_reconnect_resp2ClientKillTypePubsub(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.Config{})
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), Protocol: 2, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	gaps := newGapRecorder()
	p := newPubSub(t, rdb, &pubsub.Options{HealthCheck: 20 * time.Millisecond, OnGap: gaps.onGap})
	topic := redistest.Prefix(t) + ":resp2"
	c := newCollector()
	sub, err := p.Subscribe(t.Context(), []string{topic}, c)
	if err != nil {
		t.Fatal(err)
	}
	// Several health checks pass without a gap (PONGs are understood).
	admin := srv.Client(t)
	var pings int64
	eventually(t, "health-check pings", func() bool {
		info, err := admin.Info(t.Context(), "commandstats").Result()
		if err != nil {
			return false
		}
		_, after, ok := strings.Cut(info, "cmdstat_ping:calls=")
		if !ok {
			return false
		}
		n, _ := strconv.ParseInt(after[:strings.IndexByte(after, ',')], 10, 64)
		pings = n
		return n >= 5
	})
	if st := sub.Stats(); st.Gaps != 0 {
		t.Fatalf("%d gaps after %d health-check pings on an idle connection", st.Gaps, pings)
	}
	n, err := admin.ClientKillByFilter(t.Context(), "TYPE", "pubsub").Result()
	if err != nil || n != 1 {
		t.Fatalf("CLIENT KILL TYPE pubsub killed %d (%v), want 1", n, err)
	}
	if gap := gaps.next(t); gap.Reason != pubsub.GapReconnect {
		t.Errorf("gap reason = %v, want reconnect", gap.Reason)
	}
	if err := p.Publish(t.Context(), topic, "after"); err != nil {
		t.Fatal(err)
	}
	if m := c.next(t); string(m.Payload) != `"after"` {
		t.Errorf("payload after reconnect = %s", m.Payload)
	}
}
