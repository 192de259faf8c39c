package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aside-go/aside/internal/script"
	"github.com/redis/go-redis/v9"
)

// Item is one message of [Queue.EnqueueMany].
type Item struct {
	Payload []byte          // the message's content; nil is stored as empty
	Options []EnqueueOption // as for [Queue.Enqueue]
}

// Enqueue adds a message and returns its ID. When it returns nil the
// message is stored in Redis (durable as far as the server's persistence
// settings make it). With [WithID] or [WithDedupeID] it may return the
// existing message's ID and [ErrDuplicate].
//
// Concurrent Enqueue calls on one Queue are merged into one script call
// when they meet (a call never waits for others to arrive), so many
// producers cost Redis far fewer round trips (the merging runs on at most
// 4 goroutines, which exit after 50ms without work). When ctx ends before the
// reply, Enqueue returns ctx's error and the message may or may not be
// stored, as with any Redis write that times out.
func (q *Queue) Enqueue(ctx context.Context, payload []byte, opts ...EnqueueOption) (string, error) {
	args, err := q.appendItemArgs(q.callArgs(1), Item{Payload: payload, Options: opts})
	if err != nil {
		return "", err
	}
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	if q.opt.WaitReplicas > 0 {
		// WAIT must follow the write on its connection: no merging.
		return oneResult(q.enqueueResults(nil, 1, q.runEnqueueWait(ctx, args))[0])
	}
	return q.enq.do(ctx, args)
}

// opCtx bounds an enqueue by Options.OpTimeout unless ctx ends sooner.
func (q *Queue) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if q.opt.OpTimeout < 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, q.opt.OpTimeout)
}

// maxBatch bounds one enqueue script call, so a huge batch does not block
// Redis for long; batches larger than that take several round trips.
const maxBatch = 1000

// EnqueueResult is what [Queue.EnqueueMany] did with one message.
type EnqueueResult struct {
	// ID is the message's ID; for a duplicate, the existing message's.
	ID string
	// Err is nil when the message was stored, [ErrDuplicate] when an
	// equal one is queued (nothing stored), or the error of the script call
	// that carried it (the message may or may not be stored, as with any
	// Redis write that fails).
	Err error
}

// EnqueueMany adds messages, each with its own options (IDs, dedupe IDs,
// delays, max deliveries), in one round trip: one script call per 1000
// messages, all sent in one pipeline. It returns one result per item, in
// order. Duplicates are reported in their results and do not make err
// non-nil; err is the first other failure. An item that fails validation
// (a bad option, a payload over MaxPayloadSize) fails the whole call
// before anything is sent, and the results are nil.
func (q *Queue) EnqueueMany(ctx context.Context, items []Item) ([]EnqueueResult, error) {
	if len(items) == 0 {
		return nil, nil
	}
	// One script call per maxBatch items.
	calls := make([]script.Call, 0, (len(items)+maxBatch-1)/maxBatch)
	for start := 0; start < len(items); start += maxBatch {
		end := min(start+maxBatch, len(items))
		args := q.callArgs(end - start)
		for _, it := range items[start:end] {
			var err error
			if args, err = q.appendItemArgs(args, it); err != nil {
				return nil, err
			}
		}
		calls = append(calls, q.enqueueCall(args))
	}
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	out := make([]EnqueueResult, 0, len(items))
	if q.opt.WaitReplicas > 0 {
		// WAIT must follow the writes on their connection: one call at a time.
		var first error
		for _, c := range calls {
			out = q.enqueueResults(out, len(c.Args)/argsPerItem, q.runEnqueueWait(ctx, c.Args))
		}
		for _, r := range out {
			if r.Err != nil && !errors.Is(r.Err, ErrDuplicate) && first == nil {
				first = r.Err
			}
		}
		return out, first
	}
	cmds := script.RunAll(ctx, q.rdb, calls)
	var first error
	for i, cmd := range cmds {
		n := len(calls[i].Args) / argsPerItem // the window argument rounds down
		out = q.enqueueResults(out, n, enqueueReply{cmd: cmd})
		if err := out[len(out)-1].Err; err != nil && !errors.Is(err, ErrDuplicate) && first == nil {
			first = err
		}
	}
	return out, first
}

// enqueueReply is one enqueue script call's reply, with the error of a
// WAIT that followed it.
type enqueueReply struct {
	cmd  *redis.Cmd
	werr error
}

// enqueueResults appends the results of one script call carrying n messages.
func (q *Queue) enqueueResults(out []EnqueueResult, n int, r enqueueReply) []EnqueueResult {
	res, err := r.cmd.Slice()
	if err == nil && len(res) != 2*n {
		err = fmt.Errorf("%d replies for %d messages", len(res)/2, n)
	}
	if err != nil {
		err = fmt.Errorf("queue: enqueue: %w", err)
		for range n {
			out = append(out, EnqueueResult{Err: err})
		}
		return out
	}
	werr := r.werr
	if werr != nil {
		werr = fmt.Errorf("queue: enqueue: %w", werr)
	}
	for i := 0; i < len(res); i += 2 {
		e := EnqueueResult{ID: str(res[i]), Err: werr}
		if toInt(res[i+1]) == 1 {
			e.Err = ErrDuplicate
		}
		out = append(out, e)
	}
	return out
}

// argsPerItem is how many enqueue script arguments one message takes.
const argsPerItem = 5

// appendItemArgs appends the enqueue script arguments of one message to
// args.
func (q *Queue) appendItemArgs(args []any, it Item) ([]any, error) {
	var c enqueueConfig
	for _, o := range it.Options {
		o(&c)
	}
	if c.err != nil {
		return nil, c.err
	}
	if lim := q.opt.MaxPayloadSize; lim > 0 && len(it.Payload) > lim {
		return nil, fmt.Errorf("%w: payload of %d bytes, MaxPayloadSize is %d", ErrTooLarge, len(it.Payload), lim)
	}
	given := "1"
	if c.id == "" {
		c.id, given = newID(time.Now()), "0"
	}
	delay := c.delay
	if !c.at.IsZero() {
		delay = time.Until(c.at)
	}
	delayMs := ceilMs(delay)
	maxD := c.maxDeliveries
	if maxD == 0 {
		maxD = q.opt.MaxDeliveries
	}
	maxD = max(maxD, 0)
	return append(args, c.id, given, storedValue(maxD, it.Payload), delayMs, c.dedupeID), nil
}

// callArgs returns the arguments of an enqueue script call before its n
// messages' (argsPerItem each) are appended: the dedupe window.
func (q *Queue) callArgs(n int) []any {
	return append(make([]any, 0, 1+argsPerItem*n), q.opt.DedupeWindow.Milliseconds())
}

// enqueueCall is the enqueue script call for args: callArgs, then
// argsPerItem per message.
func (q *Queue) enqueueCall(args []any) script.Call {
	return script.Call{Script: script.QueueEnqueue, Keys: q.k.enqueue, Args: args}
}

// runEnqueueWait runs one enqueue script call followed, when WaitReplicas
// asks for it, by WAIT on the same connection.
func (q *Queue) runEnqueueWait(ctx context.Context, args []any) enqueueReply {
	c := q.enqueueCall(args)
	cmd, werr := c.Script.RunWait(ctx, q.rdb, q.opt.WaitReplicas, q.opt.WaitTimeout, c.Keys, c.Args...)
	return enqueueReply{cmd: cmd, werr: werr}
}

// combiner merges concurrent single-message enqueues. A call that finds no
// script call in flight sends its own; the others wait in reqs, where a
// flusher goroutine (up to maxFlushers) takes every request waiting at
// that moment into one script call. A flusher exits when it finds nothing to do for flusherIdle, so
// an unused Queue holds no goroutine.
type combiner struct {
	q *Queue

	mu       sync.Mutex // guards flushers and sending; sending on reqs happens under it too
	flushers int
	sending  int // script calls in flight, direct or by a flusher
	reqs     chan *enqReq
}

type enqReq struct {
	ctx  context.Context
	args []any       // a whole call's arguments: callArgs and one message's
	done chan enqRes // capacity 1
}

type enqRes struct {
	id  string
	err error
}

const (
	maxFlushers  = 1
	flusherIdle  = 50 * time.Millisecond
	combineQueue = 4096
	// combineMax bounds how many single enqueues one script call carries.
	combineMax = 256
)

func (c *combiner) do(ctx context.Context, args []any) (string, error) {
	c.mu.Lock()
	if c.sending == 0 && len(c.reqs) == 0 {
		// Nothing in flight: send it from this goroutine, no hand-off.
		c.sending++
		c.mu.Unlock()
		r := c.q.enqueueResults(nil, 1, c.q.runEnqueueWait(ctx, args))[0]
		c.mu.Lock()
		c.sending--
		c.mu.Unlock()
		return oneResult(r)
	}
	r := &enqReq{ctx: ctx, args: args, done: make(chan enqRes, 1)}
	if c.reqs == nil {
		c.reqs = make(chan *enqReq, combineQueue)
	}
	// Start a flusher when none runs, or when requests pile up.
	if c.flushers == 0 || (c.flushers < maxFlushers && len(c.reqs) > 0) {
		c.flushers++
		go c.flush()
	}
	select {
	case c.reqs <- r:
		c.mu.Unlock()
	default:
		// The buffer is full: send this one alone rather than block.
		c.mu.Unlock()
		return oneResult(c.q.enqueueResults(nil, 1, c.q.runEnqueueWait(ctx, args))[0])
	}
	select {
	case res := <-r.done:
		return res.id, res.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func oneResult(r EnqueueResult) (string, error) {
	if r.Err != nil && !errors.Is(r.Err, ErrDuplicate) && !errors.Is(r.Err, ErrNotReplicated) {
		return "", r.Err
	}
	return r.ID, r.Err
}

// flush sends waiting requests until none come for flusherIdle.
func (c *combiner) flush() {
	idle := time.NewTimer(flusherIdle)
	defer idle.Stop()
	batch := make([]*enqReq, 0, combineMax)
	for {
		var first *enqReq
		select {
		case first = <-c.reqs:
		case <-idle.C:
			c.mu.Lock()
			if len(c.reqs) == 0 {
				c.flushers--
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
			idle.Reset(flusherIdle)
			continue
		}
		batch = append(batch[:0], first)
	more:
		for len(batch) < combineMax {
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		c.send(batch)
		if !idle.Stop() {
			select {
			case <-idle.C:
			default:
			}
		}
		idle.Reset(flusherIdle)
	}
}

// send runs one script call for batch, skipping callers that gave up.
func (c *combiner) send(batch []*enqReq) {
	live := batch[:0]
	for _, r := range batch {
		if r.ctx.Err() == nil {
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		return
	}
	args := c.q.callArgs(len(live))
	for _, r := range live {
		args = append(args, r.args[1:]...) // the message, without its own dedupe window
	}
	c.mu.Lock()
	c.sending++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.sending--
		c.mu.Unlock()
	}()
	// One caller's cancel must not fail the others: run detached, bounded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(live[0].ctx), opTimeout)
	defer cancel()
	call := c.q.enqueueCall(args)
	res, err := call.Script.Run(ctx, c.q.rdb, call.Keys, call.Args...).Slice()
	if err == nil && len(res) != 2*len(live) {
		err = fmt.Errorf("%d replies for %d messages", len(res)/2, len(live))
	}
	for i, r := range live {
		if err != nil {
			r.done <- enqRes{err: fmt.Errorf("queue: enqueue: %w", err)}
			continue
		}
		out := enqRes{id: str(res[2*i])}
		if toInt(res[2*i+1]) == 1 {
			out.err = ErrDuplicate
		}
		r.done <- out
	}
}

// ceilMs is d in whole milliseconds rounded up (never early), 0 for d <= 0,
// without overflow: WithDelay(math.MaxInt64) or WithAt(year 9999) is a
// delay of about 292 years, never an immediate delivery.
func ceilMs(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	ms := int64(d / time.Millisecond)
	if d%time.Millisecond != 0 {
		ms++
	}
	return ms
}
