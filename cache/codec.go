package cache

import (
	"encoding"

	"github.com/aside-go/aside/internal/codec"
)

// A Codec turns values into bytes and back. Implementations must be safe
// for concurrent use. Decode must not modify data (it may alias the
// immutable string a Redis reply arrived in). It is the same type as
// [github.com/aside-go/aside/pubsub.Codec]: a codec written for one package
// works in the other.
//
// The codec's ID is stored in every entry's envelope. An entry written by
// a codec with another ID is treated like corrupt bytes: a miss that is
// reloaded, overwritten and counted, never a panic. So changing the codec
// of a live cache costs one reload per key, not an outage. IDs 1-127 are
// aside's codecs, 128-255 are for users' own.
type Codec[V any] = codec.Codec[V]

// JSON returns the default codec, encoding/json. It works for every V
// that encoding/json handles.
func JSON[V any]() Codec[V] { return codec.JSON[V]() }

// Bytes returns a passthrough codec for []byte values: the bytes are stored
// as they are, after the envelope header. Decode copies them.
func Bytes() Codec[[]byte] { return codec.Bytes() }

// String returns a passthrough codec for string values.
func String() Codec[string] { return codec.String() }

// Binary returns a codec for types with their own binary encoding: V
// implements [encoding.BinaryMarshaler] and *V [encoding.BinaryUnmarshaler]
// (protobuf-style generated code, hand-written encoders). If V also
// implements [encoding.BinaryAppender], encoding appends without an extra
// copy. As [encoding.BinaryUnmarshaler] requires, UnmarshalBinary must
// copy the data it keeps (here it aliases the Redis reply). Usage:
// cache.Binary[MyType]().
func Binary[V encoding.BinaryMarshaler, P interface {
	*V
	encoding.BinaryUnmarshaler
}]() Codec[V] {
	return codec.Binary[V, P]()
}
