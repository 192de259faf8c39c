package queue

import (
	"errors"

	"github.com/aside-go/aside/internal/script"
)

var (
	// ErrInvalidOptions is wrapped by every error [New] and [Queue.Consume]
	// return for options that cannot work; the message names the field and
	// its value.
	ErrInvalidOptions = errors.New("queue: invalid options")

	// ErrStaleDelivery is returned by [Queue.Ack], [Queue.Nack] and
	// [Queue.Extend] when the delivery is no longer the current one: its
	// visibility deadline passed and the message was reclaimed (and maybe
	// given to another consumer), or it was already acked, nacked or purged.
	// Nothing was changed.
	ErrStaleDelivery = errors.New("queue: stale delivery")

	// ErrDuplicate is returned by [Queue.Enqueue] and [Queue.EnqueueMany]
	// when a message with the same caller-chosen ID is still queued, or a
	// message with the same dedupe ID was enqueued within the dedupe window.
	// The existing message's ID is returned alongside it.
	ErrDuplicate = errors.New("queue: duplicate message")

	// ErrNotReplicated is wrapped by the error of an enqueue whose messages
	// were stored on the master but not acknowledged by
	// [Options.WaitReplicas] replicas in time.
	ErrNotReplicated = script.ErrNotReplicated

	// ErrTooLarge is returned by [Queue.Enqueue] and [Queue.EnqueueMany]
	// for a payload over [Options.MaxPayloadSize]; nothing is stored.
	ErrTooLarge = errors.New("queue: payload too large")

	// ErrPermanent marks a handler error that no retry can fix: the message
	// goes to the dead-letter list at once. Return it wrapped, or wrap any
	// error with [Permanent].
	ErrPermanent = errors.New("queue: permanent failure")
)

// Permanent wraps err so that a handler returning it sends the message to
// the dead-letter list at once. errors.Is reports true for both err and
// [ErrPermanent]. Permanent(nil) returns nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

type permanentError struct{ err error }

func (e permanentError) Error() string        { return e.err.Error() }
func (e permanentError) Unwrap() error        { return e.err }
func (e permanentError) Is(target error) bool { return target == ErrPermanent }
