package cache

import (
	"testing"
)

// FuzzEntry decodes arbitrary bytes as a stored entry (what a corrupt or
// foreign value in Redis looks like): an error or a value, never a panic;
// and a value that encodes decodes to itself.
func FuzzEntry(f *testing.F) {
	jc := JSON[user]()
	b, _ := encodeEntry(jc, envelope{softMs: 5, version: 7}, user{ID: "u1", Name: "x"})
	f.Add(string(b))
	nb, _ := encodeEntry(jc, envelope{neg: true}, user{})
	f.Add(string(nb))
	f.Add("")
	f.Add("\xa5\x01\x00")
	f.Fuzz(func(t *testing.T, s string) {
		if _, _, err := decodeEntry(jc, s); err != nil {
			return
		}
		if _, _, err := decodeEntry(Bytes(), s); err == nil {
			return
		}
		if _, _, err := decodeEntry(String(), s); err == nil {
			return
		}
	})
}

// FuzzEntryRoundTrip: what the cache writes, it reads back unchanged.
func FuzzEntryRoundTrip(f *testing.F) {
	f.Add([]byte("payload"), int64(0), uint64(0))
	f.Add([]byte{}, int64(-1), uint64(1<<63))
	f.Fuzz(func(t *testing.T, p []byte, soft int64, version uint64) {
		bc := Bytes()
		b, err := encodeEntry(bc, envelope{softMs: soft, version: version}, p)
		if err != nil {
			t.Fatal(err)
		}
		e, v, err := decodeEntry(bc, string(b))
		if err != nil || string(v) != string(p) || e.softMs != soft || e.version != version {
			t.Fatalf("round trip: %v, %q, %+v", err, v, e)
		}
	})
}
