package middleware

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseDirectives(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		want  directives
	}{
		{"simple", []string{"max-age=60, public"}, directives{"max-age": "60", "public": ""}},
		{"case and spaces", []string{" Max-Age = 5 ,NO-CACHE"}, directives{"max-age": "5", "no-cache": ""}},
		{"quoted comma", []string{`no-cache="Set-Cookie, X-A", s-maxage=9`}, directives{"no-cache": "Set-Cookie, X-A", "s-maxage": "9"}},
		{"first occurrence wins", []string{"max-age=1", "max-age=2"}, directives{"max-age": "1"}},
		{"empty items", []string{",,private,"}, directives{"private": ""}},
		{"quoted number", []string{`max-age="7"`}, directives{"max-age": "7"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseDirectives(http.Header{"Cache-Control": tc.lines})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseDirectives(%q) (-want +got):\n%s", tc.lines, diff)
			}
		})
	}
}

func TestDirectives_seconds(t *testing.T) {
	d := directives{"a": "10", "b": "x", "c": "-1", "d": "99999999999999999999", "e": ""}
	for _, tc := range []struct {
		name    string
		want    time.Duration
		present bool
	}{
		{"a", 10 * time.Second, true},
		{"b", 0, true},
		{"c", 0, true},
		{"d", (1 << 31) * time.Second, true},
		{"e", 0, true},
		{"z", 0, false},
	} {
		got, ok := d.seconds(tc.name)
		if got != tc.want || ok != tc.present {
			t.Errorf("seconds(%s) = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.present)
		}
	}
}

func TestParseRequest(t *testing.T) {
	got := parseRequest(hdr("Cache-Control", "max-stale, min-fresh=5, only-if-cached, no-store"))
	want := requestDirectives{noStore: true, onlyIfCached: true, maxStale: -1, hasMaxStale: true, minFresh: 5 * time.Second}
	if got != want {
		t.Errorf("parseRequest = %+v, want %+v", got, want)
	}
	if got := parseRequest(hdr("Pragma", "no-cache")); !got.noCache {
		t.Error("Pragma: no-cache without Cache-Control is not no-cache")
	}
	if got := parseRequest(hdr("Pragma", "no-cache", "Cache-Control", "max-age=5")); got.noCache {
		t.Error("Pragma counted although Cache-Control is present")
	}
}

func TestResponsePolicy(t *testing.T) {
	date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		status int
		h      http.Header
		ttl    time.Duration
		want   policy
	}{
		{"s-maxage first", 200, hdr("Cache-Control", "max-age=5, s-maxage=9"), 0,
			policy{lifetime: 9 * time.Second, explicit: true, mustReval: true}},
		{"expires", 200, hdr("Date", date.Format(http.TimeFormat), "Expires", date.Add(time.Hour).Format(http.TimeFormat)), 0,
			policy{lifetime: time.Hour, explicit: true}},
		{"invalid expires is expired", 200, hdr("Expires", "0"), 0, policy{explicit: true}},
		{"heuristic off", 200, hdr("ETag", `"x"`), 0, policy{hasValidator: true}},
		{"default ttl", 404, http.Header{}, time.Minute, policy{lifetime: time.Minute}},
		{"default ttl not for 500", 500, http.Header{}, time.Minute, policy{}},
		{"stale windows", 200, hdr("Cache-Control", "max-age=1, stale-while-revalidate=2, stale-if-error=3, must-revalidate"), 0,
			policy{lifetime: time.Second, explicit: true, swr: 2 * time.Second, sie: 3 * time.Second, mustReval: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := freshness{defaultTTL: tc.ttl}.policy(tc.status, tc.h, parseDirectives(tc.h), false)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(policy{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestStorable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		req    http.Header
		status int
		h      http.Header
		cookie bool
		want   string
	}{
		{"fresh 200", nil, 200, hdr("Cache-Control", "max-age=5"), false, ""},
		{"no-store", nil, 200, hdr("Cache-Control", "max-age=5, no-store"), false, "no-store"},
		{"request no-store", hdr("Cache-Control", "no-store"), 200, hdr("Cache-Control", "max-age=5"), false, "request no-store"},
		{"private", nil, 200, hdr("Cache-Control", "private, max-age=5"), false, "private"},
		{"206", nil, 206, hdr("Cache-Control", "max-age=5"), false, "status"},
		{"vary star", nil, 200, hdr("Cache-Control", "max-age=5", "Vary", "Accept, *"), false, "vary *"},
		{"auth", hdr("Authorization", "x"), 200, hdr("Cache-Control", "max-age=5"), false, "authorization"},
		{"auth s-maxage", hdr("Authorization", "x"), 200, hdr("Cache-Control", "s-maxage=5"), false, ""},
		{"auth must-revalidate", hdr("Authorization", "x"), 200, hdr("Cache-Control", "max-age=5, must-revalidate"), false, ""},
		{"cookie", nil, 200, hdr("Cache-Control", "max-age=5", "Set-Cookie", "a=b"), false, "set-cookie"},
		{"cookie allowed", nil, 200, hdr("Cache-Control", "max-age=5", "Set-Cookie", "a=b"), true, ""},
		{"no freshness", nil, 200, http.Header{}, false, "no freshness"},
		{"no-cache with validator", nil, 200, hdr("Cache-Control", "no-cache", "ETag", `"a"`), false, ""},
		{"max-age=0 with validator", nil, 200, hdr("Cache-Control", "max-age=0", "Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"), false, ""},
		{"max-age=0 without validator", nil, 200, hdr("Cache-Control", "max-age=0"), false, "no freshness"},
		{"forwarded host", hdr("X-Forwarded-Host", "evil"), 200, hdr("Cache-Control", "max-age=5"), false, "unkeyed X-Forwarded-Host"},
		{"forwarded host in Vary", hdr("X-Forwarded-Host", "evil"), 200, hdr("Cache-Control", "max-age=5", "Vary", "x-forwarded-host"), false, ""},
		{"method override", hdr("X-HTTP-Method-Override", "DELETE"), 200, hdr("Cache-Control", "max-age=5"), false, "unkeyed X-Http-Method-Override"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.req == nil {
				tc.req = http.Header{}
			}
			d := parseDirectives(tc.h)
			p := freshness{}.policy(tc.status, tc.h, d, false)
			if got := storable(tc.req, parseRequest(tc.req), tc.status, tc.h, d, p, storeRules{allowCookies: tc.cookie, unkeyed: DefaultUnkeyedHeaders}); got != tc.want {
				t.Errorf("storable = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestStorable_heuristicCredentials: a default TTL never makes a response
// to a request with credentials shareable, unless the response says public
// or varies on the credential.
func TestStorable_heuristicCredentials(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  http.Header
		h    http.Header
		want string
	}{
		{"anonymous", http.Header{}, http.Header{}, ""},
		{"cookie", hdr("Cookie", "s=1"), http.Header{}, "credentials"},
		{"authorization (RFC 9111 section 3.5)", hdr("Authorization", "Bearer x"), http.Header{}, "authorization"},
		{"authorization, must-revalidate", hdr("Authorization", "Bearer x"), hdr("Cache-Control", "must-revalidate"), "credentials"},
		{"cookie, public", hdr("Cookie", "s=1"), hdr("Cache-Control", "public"), ""},
		{"cookie, Vary: Cookie", hdr("Cookie", "s=1"), hdr("Vary", "Cookie"), ""},
		{"cookie, explicit max-age", hdr("Cookie", "s=1"), hdr("Cache-Control", "max-age=5"), ""},
		{"cookie, no-cache with validator", hdr("Cookie", "s=1"), hdr("Cache-Control", "no-cache", "ETag", `"e"`), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := parseDirectives(tc.h)
			p := freshness{defaultTTL: time.Minute}.policy(200, tc.h, d, false)
			if got := storable(tc.req, parseRequest(tc.req), 200, tc.h, d, p, storeRules{}); got != tc.want {
				t.Errorf("storable = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNormalizeVary(t *testing.T) {
	spec, star := normalizeVary(http.Header{"Vary": {"accept-encoding, Accept", " ACCEPT-ENCODING", "x-b"}})
	if spec != "Accept,Accept-Encoding,X-B" || star {
		t.Errorf("normalizeVary = %q, %v", spec, star)
	}
	if _, star := normalizeVary(hdr("Vary", "Accept, *")); !star {
		t.Error("Vary with * not reported")
	}
}

func TestVaryValues(t *testing.T) {
	spec := "Accept-Encoding,X-Lang"
	a := varyValues(spec, http.Header{"Accept-Encoding": {"gzip,  BR"}})
	b := varyValues(spec, http.Header{"Accept-Encoding": {"GZIP", "br"}})
	c := varyValues(spec, http.Header{"Accept-Encoding": {"gzip, br"}, "X-Lang": {""}})
	if a != b {
		t.Errorf("equivalent requests differ: %q vs %q", a, b)
	}
	if a == c {
		t.Errorf("an absent field equals an empty one: %q", a)
	}
	if varyValues("", http.Header{"X": {"y"}}) != "" {
		t.Error("no Vary, yet values")
	}
}

func TestNotModified(t *testing.T) {
	stored := hdr("ETag", `W/"v1"`, "Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
	for _, tc := range []struct {
		req  http.Header
		want bool
	}{
		{hdr("If-None-Match", `"v1"`), true},
		{hdr("If-None-Match", `"v0", "v1"`), true},
		{hdr("If-None-Match", `*`), true},
		{hdr("If-None-Match", `"v2"`, "If-Modified-Since", "Tue, 02 Jan 2024 00:00:00 GMT"), false},
		{hdr("If-Modified-Since", "Tue, 02 Jan 2024 00:00:00 GMT"), true},
		{hdr("If-Modified-Since", "Mon, 01 Jan 2024 00:00:00 GMT"), true},
		{hdr("If-Modified-Since", "Sun, 31 Dec 2023 00:00:00 GMT"), false},
		{hdr("If-Modified-Since", "garbage"), false},
		{http.Header{}, false},
	} {
		if got := notModified(tc.req, stored); got != tc.want {
			t.Errorf("notModified(%v) = %v, want %v", tc.req, got, tc.want)
		}
	}
}

func TestEntry_encodeDecode(t *testing.T) {
	e := &entry{
		status: 203, header: http.Header{"A": {"1", "2"}, "Content-Type": {"text/plain"}},
		body:    []byte("hello"),
		reqTime: time.Unix(100, 5), respTime: time.Unix(101, 7),
		vary: "Accept", varyVals: "Accept=x\n",
	}
	got, err := decodeEntry(e.encode())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e, got, cmp.AllowUnexported(entry{})); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	enc := e.encode()
	for _, bad := range [][]byte{nil, enc[:10], append([]byte{0}, enc[1:]...), enc[:25]} {
		if _, err := decodeEntry(bad); err == nil {
			t.Errorf("decodeEntry(%q) accepted a corrupt envelope", bad)
		}
	}
}

func TestEntry_age(t *testing.T) {
	resp := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	e := &entry{
		header:  hdr("Date", resp.Add(-3*time.Second).Format(http.TimeFormat), "Age", "2"),
		reqTime: resp.Add(-time.Second), respTime: resp,
	}
	// apparent age 3 s beats Age 2 + delay 1 = 3 s; plus 5 s resident.
	if got := e.age(resp.Add(5 * time.Second)); got != 8*time.Second {
		t.Errorf("age = %v, want 8s", got)
	}
	e.header.Set("Age", "10")
	if got := e.age(resp); got != 11*time.Second {
		t.Errorf("age with Age: 10 = %v, want 11s", got)
	}
}
