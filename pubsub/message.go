package pubsub

import (
	"context"
	"encoding"
	"encoding/json"
	"fmt"

	"github.com/aside-go/aside/internal/codec"
)

// A Codec turns values into bytes and back, for [TypedWith] and for
// publishing with [PubSub.PublishRaw]. Implementations must be safe for
// concurrent use; Decode must not modify data. It is the same type as
// [github.com/aside-go/aside/cache.Codec]: a codec written for one package
// works in the other. ID is not used by pubsub (no envelope is sent).
type Codec[V any] = codec.Codec[V]

// JSON returns the encoding/json codec, the one [PubSub.Publish],
// [Message.Decode] and [Typed] use.
func JSON[V any]() Codec[V] { return codec.JSON[V]() }

// Bytes returns a passthrough codec for []byte values. Decode copies them.
func Bytes() Codec[[]byte] { return codec.Bytes() }

// String returns a passthrough codec for string values.
func String() Codec[string] { return codec.String() }

// Binary returns a codec for types with their own binary encoding: V
// implements [encoding.BinaryMarshaler] and *V [encoding.BinaryUnmarshaler].
// Usage: pubsub.Binary[MyType]().
func Binary[V encoding.BinaryMarshaler, P interface {
	*V
	encoding.BinaryUnmarshaler
}]() Codec[V] {
	return codec.Binary[V, P]()
}

// Message is one received message. A handler may keep it after returning.
type Message struct {
	// Topic is the channel the message was published to.
	Topic string
	// Pattern is the pattern that matched Topic, for a pattern
	// subscription; empty otherwise.
	Pattern string
	// Payload is the message as published: the codec's encoding for
	// [PubSub.Publish], the bytes themselves for [PubSub.PublishRaw].
	Payload []byte
}

// Decode decodes a JSON payload (as [PubSub.Publish] sends) into v, a
// pointer. For another encoding, use [TypedWith] or decode m.Payload.
func (m *Message) Decode(v any) error {
	if err := json.Unmarshal(m.Payload, v); err != nil {
		return fmt.Errorf("pubsub: decode message on %q: %w", m.Topic, err)
	}
	return nil
}

// Handler handles the messages of a subscription. HandleMessage is called
// from as many goroutines at once as the subscription's concurrency. Its
// ctx is canceled when the subscription is closed; Close waits for it to
// return. A returned error or a panic is counted and passed to
// [Options.OnError]; the subscription goes on either way.
type Handler interface {
	HandleMessage(ctx context.Context, msg *Message) error
}

// HandlerFunc adapts a function to a [Handler].
type HandlerFunc func(ctx context.Context, msg *Message) error

// HandleMessage calls f(ctx, msg).
func (f HandlerFunc) HandleMessage(ctx context.Context, msg *Message) error { return f(ctx, msg) }

// Typed returns a [Handler] that decodes every message from JSON into a T
// before calling fn. A message that does not decode is a handler error
// (passed to [Options.OnError]); fn is not called for it.
func Typed[T any](fn func(ctx context.Context, msg *Message, v T) error) Handler {
	return TypedWith(JSON[T](), fn)
}

// TypedWith is [Typed] with another codec, for messages published with
// [PubSub.PublishRaw] of that codec's encoding.
func TypedWith[T any](c Codec[T], fn func(ctx context.Context, msg *Message, v T) error) Handler {
	return HandlerFunc(func(ctx context.Context, msg *Message) error {
		v, err := c.Decode(msg.Payload)
		if err != nil {
			return fmt.Errorf("pubsub: decode message on %q: %w", msg.Topic, err)
		}
		return fn(ctx, msg, v)
	})
}
