package queue

import (
	"context"
	"time"
)

// maxAcks is the most acks one script call carries.
const maxAcks = 500

// ackLinger is how long a finished delivery's ack waits for a fetch to
// carry it before the acker sends it on its own.
const ackLinger = 5 * time.Millisecond

// takeAcks removes and returns up to maxAcks pending acks.
func (w *Worker) takeAcks() []*Message {
	w.ackMu.Lock()
	defer w.ackMu.Unlock()
	n := min(len(w.ackPending), maxAcks)
	if n == 0 {
		return nil
	}
	out := make([]*Message, n)
	copy(out, w.ackPending)
	w.ackPending = append(w.ackPending[:0], w.ackPending[n:]...)
	return out
}

// returnAcks puts acks that could not be sent back in front of the
// pending ones. After Shutdown's final flush nobody sends them: their
// messages are redelivered after their deadline.
func (w *Worker) returnAcks(acks []*Message) {
	w.ackMu.Lock()
	w.ackPending = append(acks, w.ackPending...)
	w.ackMu.Unlock()
}

func (w *Worker) countAcks(n, stale int) {
	w.stats.acked.Add(int64(n - stale))
	w.stats.stale.Add(int64(stale))
	if w.opt.OnError != nil {
		for range stale {
			w.opt.OnError(ErrStaleDelivery)
		}
	}
}

// ackLoop sends the acks no fetch carried within ackLinger, and at
// shutdown all that are left.
func (w *Worker) ackLoop() {
	defer close(w.ackDone)
	t := time.NewTimer(ackLinger)
	t.Stop()
	for {
		select {
		case <-w.ackSignal:
		case <-w.ackStop:
			for w.flushAcks() {
			}
			return
		}
		t.Reset(ackLinger)
		select {
		case <-t.C:
		case <-w.ackStop:
			t.Stop()
		}
		for w.flushAcks() {
		}
	}
}

// flushAcks sends up to maxAcks pending acks and reports whether it sent
// any.
func (w *Worker) flushAcks() bool {
	acks := w.takeAcks()
	if len(acks) == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	r, err := w.q.fetch(ctx, fetchArgs{acks: acks})
	if err != nil {
		// Keep them for the next fetch (which retries with backoff); stop
		// this flush so an unreachable Redis does not make it spin.
		w.report(err)
		w.returnAcks(acks)
		return false
	}
	w.countAcks(len(acks), r.stale)
	return true
}

// every calls f each d until background work stops; it runs as one of
// the worker's background goroutines.
func (w *Worker) every(d time.Duration, f func()) {
	defer w.bgDone.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-w.bgStop:
			return
		case <-t.C:
			f()
		}
	}
}

// heartbeat extends the deadlines of running deliveries and cancels the
// handlers of deliveries that were reclaimed meanwhile.
func (w *Worker) heartbeat() {
	w.mu.Lock()
	ms := make([]*Message, 0, len(w.running))
	for _, e := range w.running {
		ms = append(ms, e.m)
	}
	w.mu.Unlock()
	if len(ms) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	res, err := w.q.extendBatch(ctx, ms, w.opt.VisibilityTimeout)
	cancel()
	if err != nil {
		w.report(err)
		return
	}
	for i, ok := range res {
		if ok {
			continue
		}
		w.mu.Lock()
		e := w.running[ms[i].Token]
		w.mu.Unlock()
		if e != nil {
			w.stats.lost.Add(1)
			e.cancel()
		}
	}
}

// reap returns expired deliveries and due delayed messages to the ready
// list when the fetcher has not done so lately (all handlers busy or Redis
// unreachable).
func (w *Worker) reap() {
	if time.Since(time.Unix(0, w.lastReap.Load())) < w.opt.ReapInterval {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	_, err := w.q.fetch(ctx, fetchArgs{reap: true})
	cancel()
	if err != nil {
		w.report(err)
		return
	}
	w.lastReap.Store(time.Now().UnixNano())
}
