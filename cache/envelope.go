package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	internalcodec "github.com/aside-go/aside/internal/codec"
	"unsafe"
)

// The envelope is a fixed 20-byte header in front of the codec's bytes:
//
//	offset size field
//	0      1    magic 0xA5
//	1      1    format version (1)
//	2      1    flags: bit 0 negative entry (no payload)
//	3      1    codec id
//	4      8    soft expiry, unix milliseconds, big endian; 0 = none
//	12     8    version marker read when the load started (versioned fills), else 0
//	20     -    payload
const (
	envMagic   byte = 0xA5
	envFormat  byte = 1
	envHeader       = 20
	flagNeg    byte = 1 << 0
	knownFlags      = flagNeg
)

// errCorrupt is wrapped by every envelope decode error. Such entries are
// treated as a miss, counted in [Stats.Corrupt] and overwritten.
var errCorrupt = errors.New("cache: corrupt entry")

// envelope is a decoded header.
type envelope struct {
	neg     bool
	codec   byte
	softMs  int64
	version uint64
}

// appendHeader appends a header to dst.
func appendHeader(dst []byte, e envelope) []byte {
	var flags byte
	if e.neg {
		flags |= flagNeg
	}
	dst = append(dst, envMagic, envFormat, flags, e.codec)
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.softMs))
	return binary.BigEndian.AppendUint64(dst, e.version)
}

// parseHeader reads the header of s and returns it with the payload.
func parseHeader(s string) (envelope, string, error) {
	var e envelope
	if len(s) < envHeader {
		return e, "", fmt.Errorf("%w: %d bytes, shorter than the header", errCorrupt, len(s))
	}
	if s[0] != envMagic {
		return e, "", fmt.Errorf("%w: bad magic byte 0x%02x", errCorrupt, s[0])
	}
	if s[1] != envFormat {
		return e, "", fmt.Errorf("%w: unknown format version %d", errCorrupt, s[1])
	}
	if s[2]&^knownFlags != 0 {
		return e, "", fmt.Errorf("%w: unknown flags 0x%02x", errCorrupt, s[2])
	}
	e.neg = s[2]&flagNeg != 0
	e.codec = s[3]
	e.softMs = int64(be64(s[4:12]))
	e.version = be64(s[12:20])
	if e.neg && len(s) != envHeader {
		return e, "", fmt.Errorf("%w: negative entry with a payload", errCorrupt)
	}
	return e, s[envHeader:], nil
}

func be64(s string) uint64 {
	_ = s[7]
	return uint64(s[7]) | uint64(s[6])<<8 | uint64(s[5])<<16 | uint64(s[4])<<24 |
		uint64(s[3])<<32 | uint64(s[2])<<40 | uint64(s[1])<<48 | uint64(s[0])<<56
}

// decodeEntry decodes a stored entry. A codec that panics on bad bytes
// yields an error, not a panic.
func decodeEntry[V any](codec Codec[V], s string) (envelope, V, error) {
	return newEntryDecoder(codec).decode(s)
}

// entryDecoder decodes stored entries for one codec. What it needs to know
// about the codec (its ID, whether it decodes strings without a copy) is
// asked once, not per entry: GetMany decodes a hundred entries a call.
type entryDecoder[V any] struct {
	codec Codec[V]
	id    byte
	str   internalcodec.StringDecoder[V] // the codec, if it is the built-in String codec
}

func newEntryDecoder[V any](codec Codec[V]) entryDecoder[V] {
	d := entryDecoder[V]{codec: codec, id: codec.ID()}
	d.str, _ = codec.(internalcodec.StringDecoder[V])
	return d
}

func (d entryDecoder[V]) decode(s string) (e envelope, v V, err error) {
	e, payload, err := parseHeader(s)
	if err != nil {
		return e, v, err
	}
	if e.neg {
		return e, v, nil
	}
	if e.codec != d.id {
		return e, v, fmt.Errorf("%w: written by codec %d, this cache uses codec %d", errCorrupt, e.codec, d.id)
	}
	if d.str != nil {
		// The built-in String codec: no copy (s is an immutable Redis
		// reply), and it cannot panic.
		v, err = d.str.DecodeString(payload)
		return e, v, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: codec panicked: %v", errCorrupt, r)
		}
	}()
	v, err = d.codec.Decode(unsafe.Slice(unsafe.StringData(payload), len(payload)))
	if err != nil {
		return e, v, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return e, v, nil
}

// encodeEntry encodes v (or a negative entry) with its header.
func encodeEntry[V any](codec Codec[V], e envelope, v V) ([]byte, error) {
	e.codec = codec.ID()
	buf := appendHeader(make([]byte, 0, envHeader+64), e)
	if e.neg {
		return buf, nil
	}
	return codec.Append(buf, v)
}
