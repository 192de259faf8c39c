package queue

import (
	"bytes"
	"testing"
)

// FuzzStored: the stored "max:payload" record splits back into what was
// stored, whatever the payload holds (colons, digits, nothing), and any
// string read back from Redis splits without a panic.
func FuzzStored(f *testing.F) {
	f.Add(3, []byte("a:b:c"), "12:x")
	f.Add(0, []byte{}, ":")
	f.Add(1<<30, []byte("9:9"), "x")
	f.Fuzz(func(t *testing.T, maxD int, payload []byte, raw string) {
		if maxD < 0 {
			maxD = -maxD
		}
		if maxD < 0 {
			maxD = 0
		}
		m, p := splitStored(string(storedValue(maxD, payload)))
		if m != maxD || !bytes.Equal(p, payload) {
			t.Fatalf("split(stored(%d, %q)) = %d, %q", maxD, payload, m, p)
		}
		_, _ = splitStored(raw)
	})
}
