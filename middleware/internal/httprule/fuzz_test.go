package httprule

import (
	"net/http"
	"testing"
	"time"
)

// Fuzz targets for the parsers of request and response header fields
// (FuzzParseHTTPDate is in date_test.go). .ci/run runs each briefly; a
// crasher it finds is saved under testdata/fuzz and then runs as a test.

func FuzzCacheControl(f *testing.F) {
	for _, s := range []string{"max-age=60", `no-cache="Set-Cookie, X-A", s-maxage=5`, "max-age=99999999999999999999",
		"max-stale, min-fresh=-1", `private, max-age="10"`, ",,=,", "max-age=0, must-revalidate"} {
		f.Add(s, "Mon, 02 Jan 2006 15:04:05 GMT", "Vary")
	}
	f.Fuzz(func(t *testing.T, cc, date, vary string) {
		h := http.Header{"Cache-Control": {cc}, "Expires": {date}, "Date": {date}, "Vary": {vary}, "Etag": {cc}}
		d := ParseDirectives(h)
		rd := ParseRequest(h)
		if rd.MaxAge < 0 || rd.MinFresh < 0 || rd.MaxStale < -1 {
			t.Fatalf("negative request durations: %+v", rd)
		}
		for _, status := range []int{200, 206, 304, 404, 500} {
			p := Freshness{DefaultTTL: time.Minute}.Policy(status, h, d, false)
			if p.Lifetime < 0 || p.StaleWhileRevalidate < 0 || p.StaleIfError < 0 {
				t.Fatalf("negative policy durations: %+v", p)
			}
			_ = Storable(h, rd, status, h, d, p, StoreRules{Unkeyed: unkeyed})
			_ = Retention(p, time.Minute)
		}
		spec, _ := NormalizeVary(h)
		if again, _ := NormalizeVary(http.Header{"Vary": {spec}}); again != spec {
			t.Fatalf("NormalizeVary not idempotent: %q then %q", spec, again)
		}
		_ = VaryValues(spec, h)
		_ = NotModified(http.Header{"If-None-Match": {cc}, "If-Modified-Since": {date}}, h)
	})
}
