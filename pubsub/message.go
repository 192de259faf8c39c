package pubsub

import (
	"context"
	"encoding/json"
	"fmt"
)

// Codec turns published values into bytes and back. Implementations must
// be safe for concurrent use.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSON is the default [Codec], encoding/json.
var JSON Codec = jsonCodec{}

type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

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

	codec Codec
}

// Decode decodes the payload into v with the PubSub's [Codec].
func (m *Message) Decode(v any) error {
	c := m.codec
	if c == nil {
		c = JSON
	}
	if err := c.Unmarshal(m.Payload, v); err != nil {
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

// Typed returns a [Handler] that decodes every message into a T with the
// PubSub's codec before calling fn. A message that does not decode is a
// handler error (passed to [Options.OnError]); fn is not called for it.
func Typed[T any](fn func(ctx context.Context, msg *Message, v T) error) Handler {
	return HandlerFunc(func(ctx context.Context, msg *Message) error {
		var v T
		if err := msg.Decode(&v); err != nil {
			return err
		}
		return fn(ctx, msg, v)
	})
}
