// Package codec holds the one codec shape of aside, Codec[V], and its
// built-in codecs. The public packages re-export them under their own names
// (cache.Codec, cache.JSON, pubsub.Codec, pubsub.JSON ...) as type aliases
// and thin functions, so a user sees one style in every package.
package codec

import (
	"encoding"
	"encoding/json"
	"fmt"
)

// A Codec turns values into bytes and back. Implementations must be safe
// for concurrent use. Decode must not modify data (it may alias the
// immutable string a Redis reply arrived in).
type Codec[V any] interface {
	// ID identifies the encoding, 1-127 for aside's codecs, 128-255 for
	// users' own.
	ID() byte
	// Append appends the encoding of v to dst and returns the result.
	Append(dst []byte, v V) ([]byte, error)
	// Decode decodes data into a value.
	Decode(data []byte) (V, error)
}

// IDs of the codecs in this package.
const (
	IDJSON   byte = 1
	IDBytes  byte = 2
	IDString byte = 3
	IDBinary byte = 4
)

// JSON returns the default codec, encoding/json. It works for every V
// that encoding/json handles.
func JSON[V any]() Codec[V] { return jsonCodec[V]{} }

type jsonCodec[V any] struct{}

func (jsonCodec[V]) ID() byte { return IDJSON }

func (jsonCodec[V]) Append(dst []byte, v V) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func (jsonCodec[V]) Decode(data []byte) (V, error) {
	var v V
	err := json.Unmarshal(data, &v)
	return v, err
}

// Bytes returns a passthrough codec for []byte values: the bytes are stored
// as they are, after the envelope header. Decode copies them.
func Bytes() Codec[[]byte] { return bytesCodec{} }

type bytesCodec struct{}

func (bytesCodec) ID() byte                                    { return IDBytes }
func (bytesCodec) Append(dst []byte, v []byte) ([]byte, error) { return append(dst, v...), nil }
func (bytesCodec) Decode(data []byte) ([]byte, error) {
	return append(make([]byte, 0, len(data)), data...), nil
}

// String returns a passthrough codec for string values.
func String() Codec[string] { return stringCodec{} }

type stringCodec struct{}

func (stringCodec) ID() byte                                    { return IDString }
func (stringCodec) Append(dst []byte, v string) ([]byte, error) { return append(dst, v...), nil }
func (stringCodec) Decode(data []byte) (string, error)          { return string(data), nil }

// DecodeString returns s itself: a caller holding the stored bytes as an
// immutable string (a Redis reply) decodes without a copy.
func (stringCodec) DecodeString(s string) (string, error) { return s, nil }

// StringDecoder is implemented by codecs that can decode from a string
// without copying it (the String codec).
type StringDecoder[V any] interface {
	DecodeString(s string) (V, error)
}

// Default returns the codec a cache uses when none is given: the
// passthrough codec for string and []byte values (no encoding work, no
// quoting), JSON for everything else.
func Default[V any]() Codec[V] {
	var zero V
	switch any(zero).(type) {
	case string:
		return any(String()).(Codec[V])
	case []byte:
		return any(Bytes()).(Codec[V])
	}
	return JSON[V]()
}

// Binary returns a codec for types with their own binary encoding: V
// implements [encoding.BinaryMarshaler] and *V [encoding.BinaryUnmarshaler]
// (protobuf-style generated code, hand-written encoders). If V also
// implements [encoding.BinaryAppender], encoding appends without an extra
// copy. As [encoding.BinaryUnmarshaler] requires, UnmarshalBinary must
// copy the data it keeps (here it aliases the Redis reply). Usage:
// Binary[MyType]().
func Binary[V encoding.BinaryMarshaler, P interface {
	*V
	encoding.BinaryUnmarshaler
}]() Codec[V] {
	return binaryCodec[V, P]{}
}

type binaryCodec[V encoding.BinaryMarshaler, P interface {
	*V
	encoding.BinaryUnmarshaler
}] struct{}

func (binaryCodec[V, P]) ID() byte { return IDBinary }

func (binaryCodec[V, P]) Append(dst []byte, v V) ([]byte, error) {
	if a, ok := any(v).(encoding.BinaryAppender); ok {
		return a.AppendBinary(dst)
	}
	b, err := v.MarshalBinary()
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func (binaryCodec[V, P]) Decode(data []byte) (V, error) {
	var v V
	if err := P(&v).UnmarshalBinary(data); err != nil {
		return v, fmt.Errorf("binary decode: %w", err)
	}
	return v, nil
}
