package middleware

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/aside-go/aside/middleware/internal/httprule"
)

// Fuzz targets for every parser of outside input in this package: the
// Idempotency-Key field and the stored entries read back from Redis (those
// of request and response header fields are in internal/httprule).
// .ci/run runs each briefly; a crasher it finds is saved under
// testdata/fuzz and then runs as a test.

func FuzzIdempotencyKey(f *testing.F) {
	for _, s := range []string{`"8e03978e-40d5-43e8-bc93-6894a57f9324"`, "abc", `"a\"b"`, `""`, `"`, `\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		k, ok := parseIdempotencyKey([]string{v})
		if ok && (k == "" || len(k) > maxKeyLen) {
			t.Fatalf("accepted %q as %q", v, k)
		}
	})
}

func FuzzStoredEntry(f *testing.F) {
	e := &entry{status: 200, header: http.Header{"Etag": {`"x"`}, "Age": {"7"}}, body: []byte("body"),
		reqTime: time.Unix(1, 0), respTime: time.Unix(2, 0), vary: "Accept", varyVals: "Accept=x\n"}
	f.Add(e.encode())
	f.Add([]byte{envelopeVersion})
	f.Add(bytes.Repeat([]byte{0xff}, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		_ = e.age(time.Now())
		_ = e.policy(httprule.Freshness{DefaultTTL: time.Minute, LMFraction: 0.1, Targeted: []string{"Cdn-Cache-Control"}})
		again, err := decodeEntry(e.encode())
		if err != nil || again.status != e.status || !bytes.Equal(again.body, e.body) || len(again.header) != len(e.header) {
			t.Fatalf("re-encoded entry does not decode the same: %v", err)
		}
	})
}
