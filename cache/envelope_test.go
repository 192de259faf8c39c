package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/aside-go/aside/internal/codec"
)

func TestEnvelope_RoundTrip(t *testing.T) {
	tests := []struct {
		name string
		e    envelope
		v    user
	}{
		{"value", envelope{softMs: 1700000000123, version: 42}, user{ID: "1", Name: "Ada"}},
		{"no soft expiry", envelope{}, user{ID: "2"}},
		{"negative", envelope{neg: true}, user{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodeEntry(JSON[user](), tt.e, tt.v)
			if err != nil {
				t.Fatal(err)
			}
			e, v, err := decodeEntry(JSON[user](), string(b))
			if err != nil {
				t.Fatal(err)
			}
			want := tt.e
			want.codec = codec.IDJSON
			if diff := cmp.Diff(want, e, cmp.AllowUnexported(envelope{})); diff != "" {
				t.Errorf("envelope (-want +got):\n%s", diff)
			}
			if v != tt.v {
				t.Errorf("value = %+v, want %+v", v, tt.v)
			}
		})
	}
}

// stamp is a type with its own binary encoding, for the Binary codec.
type stamp struct{ n uint64 }

func (s stamp) MarshalBinary() ([]byte, error) { return binary.BigEndian.AppendUint64(nil, s.n), nil }
func (s *stamp) UnmarshalBinary(b []byte) error {
	if len(b) != 8 {
		return fmt.Errorf("stamp: %d bytes", len(b))
	}
	s.n = binary.BigEndian.Uint64(b)
	return nil
}

// panicky panics on decode, like a careless hand-written decoder.
type panicky struct{}

func (panicky) MarshalBinary() ([]byte, error) { return []byte{1}, nil }
func (*panicky) UnmarshalBinary(b []byte) error {
	_ = b[10]
	return nil
}

func TestCodec_RoundTrips(t *testing.T) {
	b, err := encodeEntry(Bytes(), envelope{}, []byte("raw\x00bytes"))
	if err != nil {
		t.Fatal(err)
	}
	if _, v, err := decodeEntry(Bytes(), string(b)); err != nil || string(v) != "raw\x00bytes" {
		t.Errorf("Bytes = %q, %v", v, err)
	}
	b, _ = encodeEntry(String(), envelope{}, "text")
	if _, v, err := decodeEntry(String(), string(b)); err != nil || v != "text" {
		t.Errorf("String = %q, %v", v, err)
	}
	b, _ = encodeEntry(Binary[stamp](), envelope{}, stamp{n: 7})
	if _, v, err := decodeEntry(Binary[stamp](), string(b)); err != nil || v.n != 7 {
		t.Errorf("Binary = %+v, %v", v, err)
	}
}

func TestDecodeEntry_BadBytesAreCorruptNotPanics(t *testing.T) {
	good, _ := encodeEntry(JSON[user](), envelope{}, user{ID: "x"})
	tests := []struct {
		name  string
		raw   string
		codec Codec[user]
	}{
		{"empty", "", JSON[user]()},
		{"short", "\xa5\x01", JSON[user]()},
		{"magic", "x" + string(good[1:]), JSON[user]()},
		{"format", "\xa5\x02" + string(good[2:]), JSON[user]()},
		{"flags", "\xa5\x01\x80" + string(good[3:]), JSON[user]()},
		{"codec changed", string(good), Codec[user](codecWithID{JSON[user]()})},
		{"payload", string(good[:len(good)-2]), JSON[user]()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := decodeEntry(tt.codec, tt.raw); !errors.Is(err, errCorrupt) {
				t.Errorf("err = %v, want errCorrupt", err)
			}
		})
	}
	b, _ := encodeEntry(Binary[panicky](), envelope{}, panicky{})
	if _, _, err := decodeEntry(Binary[panicky](), string(b)); !errors.Is(err, errCorrupt) {
		t.Errorf("panicking decoder err = %v, want errCorrupt", err)
	}
}

// codecWithID is JSON under another id, as after a codec change.
type codecWithID struct{ Codec[user] }

func (codecWithID) ID() byte { return 200 }

func FuzzDecodeEntry(f *testing.F) {
	good, _ := encodeEntry(JSON[user](), envelope{softMs: 5}, user{ID: "x"})
	f.Add(string(good))
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		_, _, _ = decodeEntry(JSON[user](), raw)
		_, _, _ = decodeEntry(Bytes(), raw)
	})
}
