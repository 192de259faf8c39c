package middleware

import (
	"bytes"
	"net/http"
	"testing"
	"time"
)

// Fuzz targets for every parser of outside input in this package: header
// fields of requests and responses, the Idempotency-Key field, and the
// stored entries read back from Redis. .ci/run runs each briefly; a crasher
// it finds is saved under testdata/fuzz and then runs as a test.

func FuzzCacheControl(f *testing.F) {
	for _, s := range []string{"max-age=60", `no-cache="Set-Cookie, X-A", s-maxage=5`, "max-age=99999999999999999999",
		"max-stale, min-fresh=-1", `private, max-age="10"`, ",,=,", "max-age=0, must-revalidate"} {
		f.Add(s, "Mon, 02 Jan 2006 15:04:05 GMT", "Vary")
	}
	f.Fuzz(func(t *testing.T, cc, date, vary string) {
		h := http.Header{"Cache-Control": {cc}, "Expires": {date}, "Date": {date}, "Vary": {vary}, "Etag": {cc}}
		d := parseDirectives(h)
		rd := parseRequest(h)
		if rd.maxAge < 0 || rd.minFresh < 0 || rd.maxStale < -1 {
			t.Fatalf("negative request durations: %+v", rd)
		}
		for _, status := range []int{200, 206, 304, 404, 500} {
			p := freshness{defaultTTL: time.Minute}.policy(status, h, d, false)
			if p.lifetime < 0 || p.swr < 0 || p.sie < 0 {
				t.Fatalf("negative policy durations: %+v", p)
			}
			_ = storable(h, rd, status, h, d, p, storeRules{unkeyed: DefaultUnkeyedHeaders})
			_ = retention(p, time.Minute)
		}
		spec, _ := normalizeVary(h)
		if again, _ := normalizeVary(http.Header{"Vary": {spec}}); again != spec {
			t.Fatalf("normalizeVary not idempotent: %q then %q", spec, again)
		}
		_ = varyValues(spec, h)
		_ = notModified(http.Header{"If-None-Match": {cc}, "If-Modified-Since": {date}}, h)
	})
}

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
		_ = e.policy(freshness{defaultTTL: time.Minute, lmFraction: 0.1, targeted: []string{"Cdn-Cache-Control"}})
		again, err := decodeEntry(e.encode())
		if err != nil || again.status != e.status || !bytes.Equal(again.body, e.body) || len(again.header) != len(e.header) {
			t.Fatalf("re-encoded entry does not decode the same: %v", err)
		}
	})
}
