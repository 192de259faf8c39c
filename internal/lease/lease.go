// Package lease is the token lease with woken waiters that aside's
// packages share: cache fills, locks and semaphores, the HTTP response
// store and idempotency records.
//
// A lease is a Redis string holding its holder's token and expiring with
// the lease; the scripts that take, renew, release and pass it on are in
// internal/script (lib_lease.lua). A release leaves one message in the
// lease's wake list. Waiters wait for it without polling, in one of two
// ways:
//
//   - wake-all ([WaitAll]): every waiter rotates the list in place with
//     BLMOVE, so one message wakes them all and none can swallow it. For
//     fills, where every waiter wants the one result.
//   - wake-one ([Hub]): the message is popped by one blocked connection per
//     process and handed to that process's longest waiter. A wake-up that
//     reaches a waiter who cannot use it (its context ended, its client is
//     closing) is always passed on: to the next waiter of the process, else
//     back to Redis on a context of its own. For locks and semaphores.
//
// Waiters also retry when the holder's lease would end, so a holder that
// died wakes nobody and still costs them at most its lease.
package lease

import (
	"context"
	"crypto/rand"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Token returns a new lease token: 128 random bits from crypto/rand, as
// 26 base32 characters.
func Token() string { return rand.Text() }

// Ms returns d in whole milliseconds, at least 1, as scripts take it.
func Ms(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

// Left turns a PTTL reply (an int64 from a script) into the time left: -1
// for a key without expiry, 0 for a missing key or an unreadable reply.
func Left(v any) time.Duration {
	n, _ := v.(int64)
	switch {
	case n == -1:
		return -1
	case n < 0:
		return 0
	}
	return time.Duration(n) * time.Millisecond
}

// Processor is the part of a go-redis client that [WaitAll] uses; every
// go-redis client satisfies it.
type Processor interface {
	Process(ctx context.Context, cmd redis.Cmder) error
}

// WaitAll blocks for at most step on a wake-all list and returns the
// message found there, leaving it in place for the other waiters (BLMOVE
// from the list's head to its tail). ok is false when step passed without
// one. go-redis does not interrupt a blocking command when ctx ends, so
// callers wait in short steps and check their own state between them.
func WaitAll(ctx context.Context, rdb Processor, wake string, step time.Duration) (msg string, ok bool, err error) {
	step = max(step, 10*time.Millisecond)
	// BLMOVE with a fractional timeout: go-redis' BLMove rounds to seconds.
	cmd := redis.NewStringCmd(ctx, "blmove", wake, wake, "left", "right",
		strconv.FormatFloat(step.Seconds(), 'f', 3, 64))
	err = rdb.Process(ctx, cmd)
	if cerr := ctx.Err(); cerr != nil {
		return "", false, cerr
	}
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return cmd.Val(), true, nil
}
