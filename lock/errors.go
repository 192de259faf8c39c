package lock

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidOptions is wrapped by every error [New] returns for
	// options that cannot work; the message names the field and its value.
	ErrInvalidOptions = errors.New("lock: invalid options")

	// ErrNotObtained is returned by [Client.Obtain], [Client.TryObtain],
	// [Client.Do], [Semaphore.Acquire] and [Semaphore.TryAcquire] when the
	// lock (or a permit) is held by someone else. When a blocking call gives
	// up because its context ended, the error is ErrNotObtained joined with
	// ctx.Err().
	ErrNotObtained = errors.New("lock: not obtained")

	// ErrUnavailable is returned by [Client.Obtain], [Client.TryObtain],
	// [Client.Do], [Semaphore.Acquire] and [Semaphore.TryAcquire] when
	// Redis gave no answer (a network error or no reply within
	// [Options.OpTimeout]) for OpTimeout, so whether the lock is free is
	// unknown. The error from Redis is wrapped too. It never matches
	// [ErrNotObtained]: "held by someone else" and "Redis down" are told
	// apart.
	ErrUnavailable = errors.New("lock: redis unavailable")

	// ErrPermits is returned by [Semaphore.Acquire] and
	// [Semaphore.TryAcquire] when the semaphore's holders took their
	// permits with another number of permits than this handle's: the
	// number is kept with the semaphore while it has holders, and handles
	// that disagree are refused instead of each admitting its own number.
	ErrPermits = errors.New("lock: semaphore permits differ from its holders'")

	// ErrNotHeld is returned by [Lock.Refresh] and [Lock.TTL] on a lock that
	// its holder already released. It is also the cause
	// ([context.Cause]) of [Lock.Context] after [Lock.Release].
	ErrNotHeld = errors.New("lock: not held")

	// ErrLost means Redis no longer holds this lock's token although the
	// holder never released it: the lease expired (the holder stalled, or
	// renewal failed) or the key was deleted, and someone else may hold the
	// lock now. [Lock.Release], [Lock.Refresh] and [Lock.TTL] return it,
	// [Client.Do] returns it when the lock was lost while fn ran, and it is
	// the cause ([context.Cause]) of [Lock.Context] when the lock is lost or
	// its renewal could not be confirmed before the lease would end.
	ErrLost = errors.New("lock: lost")

	// ErrFailed marks an error returned by the fn given to [Client.Do]
	// while the lock was held throughout. The fn's own error is wrapped too,
	// so errors.Is works for both.
	ErrFailed = errors.New("lock: fn failed")

	// ErrStaleFence is returned by [Client.SetFenced] when the resource
	// already carries a newer fence than the write: the writer's lock was
	// lost and someone newer has written since.
	ErrStaleFence = errors.New("lock: stale fence")
)

// The two ways a lease is lost; both match [ErrLost] with errors.Is.
var (
	// errGone: a renewal (or release) found the token no longer in Redis.
	errGone = fmt.Errorf("%w: token no longer in Redis", ErrLost)
	// errUnconfirmed: no renewal was confirmed before the lease would end.
	errUnconfirmed = fmt.Errorf("%w: renewal not confirmed before the lease ended", ErrLost)
)
