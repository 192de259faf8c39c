package middleware

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
)

// step is one request of a rule case and what must come back.
type step struct {
	advance    time.Duration // clock moves before the request
	method     string        // GET if empty
	path       string        // "/r" if empty
	header     http.Header
	wantStatus int    // 200 if zero
	wantCS     string // Cache-Status must end with this (after "name; ")
	wantCalls  int32  // handler calls so far
	wantBody   *string
	wantHeader map[string]string // "" means absent
	background bool              // wait for background revalidations after
}

// rule is one caching rule: a handler and the requests that show it.
type rule struct {
	name    string
	opt     *CacheOptions
	respond func(w http.ResponseWriter, r *http.Request, call int32)
	steps   []step
}

func body(s string) *string { return &s }

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// fixed answers every call with the same fields and "v<call>" as body.
func fixed(kv ...string) func(http.ResponseWriter, *http.Request, int32) {
	return func(w http.ResponseWriter, r *http.Request, call int32) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Add(kv[i], kv[i+1])
		}
		fmt.Fprintf(w, "v%d", call)
	}
}

var rules = []rule{
	{
		name:    "max-age: miss stored, then hit with Age",
		respond: fixed("Cache-Control", "max-age=60"),
		steps: []step{
			{wantCS: "fwd=uri-miss; fwd-status=200; stored", wantCalls: 1, wantBody: body("v1")},
			{advance: 5 * time.Second, wantCS: "hit; ttl=55", wantCalls: 1, wantBody: body("v1"), wantHeader: map[string]string{"Age": "5"}},
			// Stale now, but kept (StaleKeep) for a request's max-stale.
			{advance: 60 * time.Second, wantCS: "fwd=stale; fwd-status=200; stored", wantCalls: 2, wantBody: body("v2")},
		},
	},
	{
		name:    "s-maxage wins over max-age for a shared cache",
		respond: fixed("Cache-Control", "max-age=0, s-maxage=30"),
		steps: []step{
			{wantCalls: 1},
			{advance: 10 * time.Second, wantCS: "hit; ttl=20", wantCalls: 1},
		},
	},
	{
		name: "Expires minus Date",
		respond: func(w http.ResponseWriter, r *http.Request, call int32) {
			now := time.Now().UTC()
			w.Header().Set("Date", now.Format(http.TimeFormat))
			w.Header().Set("Expires", now.Add(40*time.Second).Format(http.TimeFormat))
			fmt.Fprintf(w, "v%d", call)
		},
		steps: []step{{wantCalls: 1}, {wantCalls: 1, wantCS: "hit; ttl=40"}},
	},
	{
		name:    "no freshness information: not stored",
		respond: fixed("Content-Type", "text/plain"),
		steps:   []step{{wantCS: "fwd=uri-miss; fwd-status=200", wantCalls: 1}, {wantCalls: 2}},
	},
	{
		name:    "no freshness information with DefaultTTL: stored",
		opt:     &CacheOptions{DefaultTTL: time.Minute},
		respond: fixed("Content-Type", "text/plain"),
		steps:   []step{{wantCS: "fwd=uri-miss; fwd-status=200; stored", wantCalls: 1}, {wantCalls: 1, wantCS: "hit; ttl=60"}},
	},
	{
		// A page without Cache-Control, personalised by Cookie: the default
		// TTL must not share it with an anonymous client.
		name: "DefaultTTL is not given to a request with Cookie",
		opt:  &CacheOptions{DefaultTTL: time.Minute},
		respond: func(w http.ResponseWriter, r *http.Request, call int32) {
			fmt.Fprintf(w, "page for %q", r.Header.Get("Cookie"))
		},
		steps: []step{
			{header: hdr("Cookie", "session=alice"), wantCS: "fwd=uri-miss; fwd-status=200", wantCalls: 1, wantBody: body(`page for "session=alice"`)},
			{wantCS: "fwd=uri-miss; fwd-status=200; stored", wantCalls: 2, wantBody: body(`page for ""`)},
			{header: hdr("Cookie", "session=alice"), wantCS: "hit; ttl=60", wantCalls: 2, wantBody: body(`page for ""`)},
		},
	},
	{
		name:    "DefaultTTL is not given to a request with Authorization",
		opt:     &CacheOptions{DefaultTTL: time.Minute},
		respond: fixed(),
		steps: []step{
			{header: hdr("Authorization", "Bearer alice"), wantCS: "fwd=uri-miss; fwd-status=200", wantCalls: 1},
			{wantCalls: 2, wantBody: body("v2")},
		},
	},
	{
		name:    "DefaultTTL with Cookie: public or Vary: Cookie make it shareable",
		opt:     &CacheOptions{DefaultTTL: time.Minute},
		respond: fixed("Vary", "Cookie"),
		steps: []step{
			{header: hdr("Cookie", "a=1"), wantCS: "fwd=uri-miss; fwd-status=200; stored", wantCalls: 1},
			{header: hdr("Cookie", "a=1"), wantCS: "hit; ttl=60", wantCalls: 1, wantBody: body("v1")},
			{header: hdr("Cookie", "a=2"), wantCalls: 2, wantBody: body("v2")},
		},
	},
	{
		// A handler that builds links from X-Forwarded-Host: an attacker's
		// value must not become everyone's page.
		name: "X-Forwarded-Host not in the key: not stored",
		respond: func(w http.ResponseWriter, r *http.Request, call int32) {
			w.Header().Set("Cache-Control", "max-age=60")
			host := r.Header.Get("X-Forwarded-Host")
			if host == "" {
				host = "example.com"
			}
			fmt.Fprintf(w, "<script src=//%s/app.js>", host)
		},
		steps: []step{
			{header: hdr("X-Forwarded-Host", "evil.test"), wantCS: "fwd=uri-miss; fwd-status=200", wantCalls: 1, wantBody: body("<script src=//evil.test/app.js>")},
			{wantCS: "fwd=uri-miss; fwd-status=200; stored", wantCalls: 2, wantBody: body("<script src=//example.com/app.js>")},
			{header: hdr("X-Original-URL", "/admin"), wantCS: "hit; ttl=60", wantCalls: 2, wantBody: body("<script src=//example.com/app.js>")},
		},
	},
	{
		name:    "unkeyed field named by Vary: stored per value",
		respond: fixed("Cache-Control", "max-age=60", "Vary", "X-Forwarded-Host"),
		steps: []step{
			{header: hdr("X-Forwarded-Host", "a.test"), wantCS: "fwd=uri-miss; fwd-status=200; stored", wantCalls: 1},
			{header: hdr("X-Forwarded-Host", "a.test"), wantCS: "hit; ttl=60", wantCalls: 1},
			{wantCalls: 2, wantBody: body("v2")},
		},
	},
	{
		name:    "UnkeyedHeaders empty: stored regardless",
		opt:     &CacheOptions{UnkeyedHeaders: []string{}},
		respond: fixed("Cache-Control", "max-age=60"),
		steps: []step{
			{header: hdr("X-Forwarded-Host", "a.test"), wantCS: "fwd=uri-miss; fwd-status=200; stored", wantCalls: 1},
			{wantCS: "hit; ttl=60", wantCalls: 1},
		},
	},
	{
		name:    "UnkeyedHeaders custom list",
		opt:     &CacheOptions{UnkeyedHeaders: []string{"x-tenant"}},
		respond: fixed("Cache-Control", "max-age=60"),
		steps: []step{
			{header: hdr("X-Tenant", "a"), wantCS: "fwd=uri-miss; fwd-status=200", wantCalls: 1},
			{header: hdr("X-Forwarded-Host", "a.test"), wantCS: "fwd=uri-miss; fwd-status=200; stored", wantCalls: 2},
		},
	},
	{
		// A handler's invalid Content-Length used to panic the recorder.
		name:    "Content-Length -1: passed through, not stored",
		respond: fixed("Cache-Control", "max-age=60", "Content-Length", "-1"),
		steps: []step{
			{wantCalls: 1, wantBody: body("v1")},
			{wantCalls: 2, wantBody: body("v2")},
		},
	},
	{
		name:    "malformed max-age is stale, not fresh",
		respond: fixed("Cache-Control", "max-age=soon"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 2}},
	},
	{
		name:    "response no-store",
		respond: fixed("Cache-Control", "no-store, max-age=60"),
		steps:   []step{{wantCalls: 1, wantCS: "fwd=uri-miss; fwd-status=200"}, {wantCalls: 2}},
	},
	{
		name:    "response private",
		respond: fixed("Cache-Control", "private, max-age=60"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 2}},
	},
	{
		name:    "Set-Cookie not stored by default",
		respond: fixed("Cache-Control", "max-age=60", "Set-Cookie", "sid=secret"),
		steps:   []step{{wantCalls: 1, wantHeader: map[string]string{"Set-Cookie": "sid=secret"}}, {wantCalls: 2}},
	},
	{
		name:    "Set-Cookie stored when allowed",
		opt:     &CacheOptions{AllowSetCookie: true},
		respond: fixed("Cache-Control", "max-age=60", "Set-Cookie", "a=1"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 1, wantCS: "hit; ttl=60", wantHeader: map[string]string{"Set-Cookie": "a=1"}}},
	},
	{
		name:    "Authorization: max-age alone is not enough",
		respond: fixed("Cache-Control", "max-age=60"),
		steps: []step{
			{header: hdr("Authorization", "Bearer x"), wantCalls: 1, wantCS: "fwd=uri-miss; fwd-status=200"},
			{header: hdr("Authorization", "Bearer x"), wantCalls: 2},
		},
	},
	{
		name:    "Authorization with public",
		respond: fixed("Cache-Control", "public, max-age=60"),
		steps: []step{
			{header: hdr("Authorization", "Bearer x"), wantCalls: 1, wantCS: "fwd=uri-miss; fwd-status=200; stored"},
			{header: hdr("Authorization", "Bearer x"), wantCalls: 1, wantCS: "hit; ttl=60"},
		},
	},
	{
		name:    "status without default cacheability needs explicit freshness",
		opt:     &CacheOptions{DefaultTTL: time.Minute},
		respond: func(w http.ResponseWriter, r *http.Request, c int32) { w.WriteHeader(http.StatusTeapot) },
		steps:   []step{{wantStatus: 418, wantCalls: 1}, {wantStatus: 418, wantCalls: 2}},
	},
	{
		name: "404 with max-age is stored",
		respond: func(w http.ResponseWriter, r *http.Request, c int32) {
			w.Header().Set("Cache-Control", "max-age=60")
			http.NotFound(w, r)
		},
		steps: []step{{wantStatus: 404, wantCalls: 1}, {wantStatus: 404, wantCalls: 1, wantCS: "hit; ttl=60"}},
	},
	{
		name: "Vary: variants by normalised Accept-Encoding",
		respond: func(w http.ResponseWriter, r *http.Request, call int32) {
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Vary", "accept-encoding")
			fmt.Fprintf(w, "%s-%d", strings.ToLower(strings.ReplaceAll(r.Header.Get("Accept-Encoding"), " ", "")), call)
		},
		steps: []step{
			{header: hdr("Accept-Encoding", "gzip, br"), wantCalls: 1, wantBody: body("gzip,br-1"), wantCS: "fwd=uri-miss; fwd-status=200; stored"},
			{header: hdr("Accept-Encoding", "identity"), wantCalls: 2, wantBody: body("identity-2"), wantCS: "fwd=vary-miss; fwd-status=200; stored"},
			{header: hdr("Accept-Encoding", "GZIP,br"), wantCalls: 2, wantBody: body("gzip,br-1"), wantCS: "hit; ttl=60"},
			{header: hdr("Accept-Encoding", "identity"), wantCalls: 2, wantBody: body("identity-2")},
			{wantCalls: 3, wantCS: "fwd=vary-miss; fwd-status=200; stored"},
		},
	},
	{
		name:    "Vary: * is never served from cache",
		respond: fixed("Cache-Control", "max-age=60", "Vary", "*"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 2}},
	},
	{
		name:    "request no-cache goes forward",
		respond: fixed("Cache-Control", "max-age=60"),
		steps: []step{
			{wantCalls: 1},
			{header: hdr("Cache-Control", "no-cache"), wantCalls: 2, wantCS: "fwd=request; fwd-status=200; stored", wantBody: body("v2")},
			{wantCalls: 2, wantBody: body("v2")},
		},
	},
	{
		name:    "Pragma: no-cache without Cache-Control",
		respond: fixed("Cache-Control", "max-age=60"),
		steps:   []step{{wantCalls: 1}, {header: hdr("Pragma", "no-cache"), wantCalls: 2, wantCS: "fwd=request; fwd-status=200; stored"}},
	},
	{
		name:    "request no-store: served from cache, never stores",
		respond: fixed("Cache-Control", "max-age=60"),
		steps: []step{
			{header: hdr("Cache-Control", "no-store"), wantCalls: 1, wantCS: "fwd=uri-miss; fwd-status=200"},
			{wantCalls: 2, wantCS: "fwd=uri-miss; fwd-status=200; stored"},
			{header: hdr("Cache-Control", "no-store"), wantCalls: 2, wantCS: "hit; ttl=60"},
		},
	},
	{
		name:    "request max-age",
		respond: fixed("Cache-Control", "max-age=60"),
		steps: []step{
			{wantCalls: 1},
			{advance: 20 * time.Second, header: hdr("Cache-Control", "max-age=30"), wantCalls: 1, wantCS: "hit; ttl=40"},
			{header: hdr("Cache-Control", "max-age=10"), wantCalls: 2, wantCS: "fwd=request; fwd-status=200; stored"},
		},
	},
	{
		name:    "request min-fresh",
		respond: fixed("Cache-Control", "max-age=60"),
		steps: []step{
			{wantCalls: 1},
			{advance: 40 * time.Second, header: hdr("Cache-Control", "min-fresh=10"), wantCalls: 1},
			{header: hdr("Cache-Control", "min-fresh=30"), wantCalls: 2, wantCS: "fwd=request; fwd-status=200; stored"},
		},
	},
	{
		name:    "request max-stale accepts a stale response",
		respond: fixed("Cache-Control", "max-age=10, stale-if-error=300"),
		steps: []step{
			{wantCalls: 1},
			{advance: 30 * time.Second, header: hdr("Cache-Control", "max-stale=60"), wantCalls: 1, wantCS: "hit; ttl=-20"},
			{header: hdr("Cache-Control", "max-stale"), wantCalls: 1, wantCS: "hit; ttl=-20"},
			{header: hdr("Cache-Control", "max-stale=5"), wantCalls: 2, wantCS: "fwd=stale; fwd-status=200; stored"},
		},
	},
	{
		name:    "must-revalidate refuses max-stale",
		respond: fixed("Cache-Control", "max-age=10, must-revalidate", "ETag", `"a"`),
		steps: []step{
			{wantCalls: 1},
			{advance: 30 * time.Second, header: hdr("Cache-Control", "max-stale=60"), wantCalls: 2, wantCS: "fwd=stale; fwd-status=200; stored"},
		},
	},
	{
		name:    "only-if-cached",
		respond: fixed("Cache-Control", "max-age=60"),
		steps: []step{
			{header: hdr("Cache-Control", "only-if-cached"), wantStatus: 504, wantCalls: 0, wantCS: "detail=only-if-cached"},
			{wantCalls: 1},
			{header: hdr("Cache-Control", "only-if-cached"), wantCalls: 1, wantCS: "hit; ttl=60"},
		},
	},
	{
		name:    "If-None-Match answered with 304 from the cache",
		respond: fixed("Cache-Control", "max-age=60", "ETag", `"e1"`),
		steps: []step{
			{header: hdr("If-None-Match", `"e1"`), wantStatus: 304, wantCalls: 1, wantCS: "fwd=uri-miss; fwd-status=200; stored"},
			{header: hdr("If-None-Match", `"zz", W/"e1"`), wantStatus: 304, wantCalls: 1, wantCS: "hit; ttl=60", wantHeader: map[string]string{"ETag": `"e1"`}},
			{header: hdr("If-None-Match", `"other"`), wantCalls: 1, wantBody: body("v1")},
		},
	},
	{
		name:    "If-Modified-Since answered with 304 from the cache",
		respond: fixed("Cache-Control", "max-age=60", "Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"),
		steps: []step{
			{wantCalls: 1},
			{header: hdr("If-Modified-Since", "Tue, 02 Jan 2024 00:00:00 GMT"), wantStatus: 304, wantCalls: 1},
			{header: hdr("If-Modified-Since", "Sun, 31 Dec 2023 00:00:00 GMT"), wantCalls: 1, wantBody: body("v1")},
		},
	},
	{
		name: "stale: revalidated with 304, stored fields refreshed",
		respond: func(w http.ResponseWriter, r *http.Request, call int32) {
			w.Header().Set("Cache-Control", "max-age=10")
			w.Header().Set("ETag", `"e1"`)
			w.Header().Set("X-Version", fmt.Sprint(call))
			if r.Header.Get("If-None-Match") == `"e1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			fmt.Fprintf(w, "v%d", call)
		},
		steps: []step{
			{wantCalls: 1, wantHeader: map[string]string{"X-Version": "1"}},
			{advance: 20 * time.Second, wantCalls: 2, wantBody: body("v1"), wantCS: "fwd=stale; fwd-status=304; stored", wantHeader: map[string]string{"X-Version": "2", "Age": "0"}},
			{advance: 5 * time.Second, wantCalls: 2, wantBody: body("v1"), wantCS: "hit; ttl=5", wantHeader: map[string]string{"X-Version": "2"}},
			{advance: 20 * time.Second, header: hdr("If-None-Match", `"e1"`), wantStatus: 304, wantCalls: 3},
		},
	},
	{
		name:    "response no-cache: stored, revalidated on every use",
		respond: conditional(`"n1"`, "no-cache"),
		steps: []step{
			{wantCalls: 1, wantCS: "fwd=uri-miss; fwd-status=200; stored"},
			{wantCalls: 2, wantBody: body("v1"), wantCS: "fwd=stale; fwd-status=304; stored"},
			{wantCalls: 3, wantBody: body("v1")},
		},
	},
	{
		name:    "stale-while-revalidate: stale served, one background refresh",
		respond: fixed("Cache-Control", "max-age=10, stale-while-revalidate=60"),
		steps: []step{
			{wantCalls: 1},
			{advance: 20 * time.Second, wantCalls: 2, wantBody: body("v1"), wantCS: "hit; ttl=-10; detail=revalidating", background: true},
			{wantCalls: 2, wantBody: body("v2"), wantCS: "hit; ttl=10"},
			{advance: 100 * time.Second, wantCalls: 3, wantCS: "fwd=stale; fwd-status=200; stored"},
			{advance: 200 * time.Second, wantCalls: 4, wantCS: "fwd=miss; fwd-status=200; stored"},
		},
	},
	{
		name: "stale-if-error: 5xx replaced by the stale response",
		respond: func(w http.ResponseWriter, r *http.Request, call int32) {
			w.Header().Set("Cache-Control", "max-age=10, stale-if-error=60")
			if call > 1 {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintf(w, "v%d", call)
		},
		steps: []step{
			{wantCalls: 1},
			{advance: 20 * time.Second, wantCalls: 2, wantBody: body("v1"), wantCS: "fwd=stale; fwd-status=503; ttl=-10"},
			{advance: 100 * time.Second, wantStatus: 503, wantCalls: 3},
		},
	},
	{
		name: "stale-if-error: 501 is not an error it covers",
		respond: func(w http.ResponseWriter, r *http.Request, call int32) {
			w.Header().Set("Cache-Control", "max-age=10, stale-if-error=60")
			if call > 1 {
				w.WriteHeader(http.StatusNotImplemented)
				return
			}
			fmt.Fprintf(w, "v%d", call)
		},
		steps: []step{
			{wantCalls: 1},
			{advance: 20 * time.Second, wantStatus: 501, wantCalls: 2},
		},
	},
	{
		name: "stale-if-error: a panic replaced by the stale response",
		respond: func(w http.ResponseWriter, r *http.Request, call int32) {
			w.Header().Set("Cache-Control", "max-age=10, stale-if-error=60")
			if call > 1 {
				panic("handler bug")
			}
			fmt.Fprintf(w, "v%d", call)
		},
		steps: []step{
			{wantCalls: 1},
			{advance: 20 * time.Second, wantCalls: 2, wantBody: body("v1"), wantCS: "fwd=stale; fwd-status=500; ttl=-10"},
		},
	},
	{
		name:    "HEAD answered from a stored GET",
		respond: fixed("Cache-Control", "max-age=60"),
		steps: []step{
			{method: "HEAD", wantCalls: 1, wantBody: body(""), wantCS: "fwd=uri-miss; fwd-status=200"},
			{wantCalls: 2, wantBody: body("v2")},
			{method: "HEAD", wantCalls: 2, wantBody: body(""), wantCS: "hit; ttl=60", wantHeader: map[string]string{"Content-Length": "2"}},
		},
	},
	{
		name: "successful unsafe methods invalidate the URL, Location and Content-Location",
		respond: func(w http.ResponseWriter, r *http.Request, call int32) {
			w.Header().Set("Cache-Control", "max-age=60")
			switch {
			case r.Method == http.MethodPost && r.URL.Path == "/r":
				w.Header().Set("Location", "/other")
				w.WriteHeader(http.StatusCreated)
			case r.Method == http.MethodDelete:
				w.Header().Set("Content-Location", "http://elsewhere.example/r")
				w.WriteHeader(http.StatusInternalServerError)
			case r.Method == http.MethodPut:
				w.Header().Set("Content-Location", "/r")
				w.WriteHeader(http.StatusNoContent)
			default:
				fmt.Fprintf(w, "v%d", call)
			}
		},
		steps: []step{
			{wantCalls: 1},
			{path: "/other", wantCalls: 2},
			{method: "POST", wantStatus: 201, wantCalls: 3, wantCS: "fwd=method; fwd-status=201"},
			{wantCalls: 4, wantCS: "fwd=uri-miss; fwd-status=200; stored"},
			{path: "/other", wantCalls: 5, wantCS: "fwd=uri-miss; fwd-status=200; stored"},
			{method: "DELETE", wantStatus: 500, wantCalls: 6},
			{wantCalls: 6, wantCS: "hit; ttl=60"},
			{method: "PUT", path: "/elsewhere", wantStatus: 204, wantCalls: 7},
			{wantCalls: 8, wantCS: "fwd=uri-miss; fwd-status=200; stored"},
		},
	},
	{
		name: "206 partial content is not stored",
		respond: func(w http.ResponseWriter, r *http.Request, call int32) {
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Content-Range", "bytes 0-1/10")
			w.WriteHeader(http.StatusPartialContent)
			fmt.Fprintf(w, "v%d", call)
		},
		steps: []step{{wantCalls: 1, wantStatus: 206}, {wantCalls: 2, wantStatus: 206}},
	},
	{
		name:    "a 200 carrying Content-Range is stored like any 200",
		respond: fixed("Cache-Control", "max-age=60", "Content-Range", "bytes 0-1/10"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 1, wantCS: "hit; ttl=60"}},
	},
	{
		name:    "Vary * on a later field line: never reused",
		respond: fixed("Cache-Control", "max-age=60", "Vary", "", "Vary", "*"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 2}},
	},
	{
		name:    "Vary * inside a list on a later line: never reused",
		respond: fixed("Cache-Control", "max-age=60", "Vary", "Accept", "Vary", "Accept-Language, *"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 2}},
	},
	{
		name:    "any final status with explicit freshness is stored (418)",
		respond: statusFixed(418, "Cache-Control", "max-age=60"),
		steps:   []step{{wantCalls: 1, wantStatus: 418}, {wantCalls: 1, wantStatus: 418, wantCS: "hit; ttl=60"}},
	},
	{
		name:    "an unknown status without explicit freshness is not stored",
		opt:     &CacheOptions{DefaultTTL: time.Minute},
		respond: statusFixed(299),
		steps:   []step{{wantCalls: 1, wantStatus: 299}, {wantCalls: 2, wantStatus: 299}},
	},
	{
		name:    "must-understand with an understood status overrides no-store",
		respond: fixed("Cache-Control", "max-age=60, must-understand, no-store"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 1}},
	},
	{
		name:    "must-understand with a status not understood: not stored",
		respond: statusFixed(418, "Cache-Control", "max-age=60, must-understand"),
		steps:   []step{{wantCalls: 1, wantStatus: 418}, {wantCalls: 2, wantStatus: 418}},
	},
	{
		name:    "Age as a list: its first member counts (7200 > max-age)",
		respond: fixed("Cache-Control", "max-age=100", "Age", "7200, 0"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 2}},
	},
	{
		name:    "an invalid Age is ignored",
		respond: fixed("Cache-Control", "max-age=100", "Age", "-5"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 1, wantCS: "hit; ttl=100"}},
	},
	{
		name:    "a valid Expires gives freshness",
		respond: fixed("Expires", "Thu, 01 Jan 2099 00:00:00 GMT"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 1}},
	},
	{
		name:    "Expires with a doubled space is invalid: already expired",
		respond: fixed("Expires", "Thu,  01 Jan 2099 00:00:00 GMT"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 2}},
	},
	{
		name:    "Expires with a one-digit hour is invalid: already expired",
		respond: fixed("Expires", "Thu, 01 Jan 2099 0:00:00 GMT"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 2}},
	},
	{
		name:    "Expires on two field lines is invalid: already expired",
		respond: fixed("Expires", "Thu, 01 Jan 2099 00:00:00 GMT", "Expires", "Thu, 01 Jan 2099 00:00:00 GMT"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 2}},
	},
	{
		name:    "Expires 0 means already expired",
		respond: fixed("Expires", "0"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 2}},
	},
	{
		name: "a 304 does not overwrite Content-Encoding, Content-Length or the validator",
		respond: func(w http.ResponseWriter, r *http.Request, call int32) {
			w.Header().Set("Cache-Control", "max-age=1")
			if r.Header.Get("If-None-Match") == `"e1"` {
				w.Header().Set("ETag", `W/"e1"`)
				w.Header().Set("Content-Encoding", "br")
				w.Header().Set("X-Fresh", fmt.Sprint(call))
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", `"e1"`)
			w.Header().Set("Content-Encoding", "x-test")
			fmt.Fprintf(w, "v%d", call)
		},
		steps: []step{
			{wantCalls: 1},
			{advance: 2 * time.Second, wantCalls: 2, wantBody: body("v1"), wantCS: "fwd-status=304; stored",
				wantHeader: map[string]string{"Content-Encoding": "x-test", "ETag": `"e1"`, "X-Fresh": "2"}},
		},
	},
	{
		name: "a 304 with another strong validator updates nothing: the handler runs again",
		respond: func(w http.ResponseWriter, r *http.Request, call int32) {
			w.Header().Set("Cache-Control", "max-age=1")
			if r.Header.Get("If-None-Match") != "" {
				w.Header().Set("ETag", `"other"`)
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", `"e1"`)
			fmt.Fprintf(w, "v%d", call)
		},
		steps: []step{
			{wantCalls: 1},
			{advance: 2 * time.Second, wantCalls: 3, wantBody: body("v3")},
		},
	},
	{
		name:    "CDN-Cache-Control, when targeted, decides over Cache-Control; the client still gets Cache-Control",
		opt:     &CacheOptions{TargetedFields: []string{"CDN-Cache-Control"}},
		respond: fixed("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60"),
		steps: []step{
			{wantCalls: 1, wantHeader: map[string]string{"Cache-Control": "no-store"}},
			{wantCalls: 1, wantCS: "hit; ttl=60", wantHeader: map[string]string{"Cache-Control": "no-store"}},
		},
	},
	{
		name:    "a targeted no-store wins over a Cache-Control max-age",
		opt:     &CacheOptions{TargetedFields: []string{"Aside-Cache-Control", "CDN-Cache-Control"}},
		respond: fixed("Cache-Control", "max-age=60", "CDN-Cache-Control", "max-age=60", "Aside-Cache-Control", "no-store"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 2}},
	},
	{
		name:    "an invalid targeted field is ignored: Cache-Control decides",
		opt:     &CacheOptions{TargetedFields: []string{"CDN-Cache-Control"}},
		respond: fixed("Cache-Control", "no-store", "CDN-Cache-Control", "Max-Age=60"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 2}},
	},
	{
		name:    "a targeted field makes this cache ignore Expires",
		opt:     &CacheOptions{TargetedFields: []string{"CDN-Cache-Control"}},
		respond: fixed("Expires", "Thu, 01 Jan 2099 00:00:00 GMT", "CDN-Cache-Control", "must-revalidate"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 2}},
	},
	{
		name:    "without TargetedFields, CDN-Cache-Control is not obeyed",
		respond: fixed("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60"),
		steps:   []step{{wantCalls: 1}, {wantCalls: 2}},
	},
	{
		name: "StaleOnError: a 502 from the origin is replaced by the stale response",
		opt:  &CacheOptions{StaleOnError: time.Hour},
		respond: func(w http.ResponseWriter, r *http.Request, call int32) {
			w.Header().Set("Cache-Control", "max-age=10")
			if call > 1 {
				http.Error(w, "bad gateway", http.StatusBadGateway)
				return
			}
			fmt.Fprintf(w, "v%d", call)
		},
		steps: []step{
			{wantCalls: 1},
			{advance: 20 * time.Minute, wantCalls: 2, wantBody: body("v1"), wantCS: "fwd=stale; fwd-status=502; ttl=-1190"},
		},
	},
	{
		name: "StaleOnError: a handler aborted with http.ErrAbortHandler is replaced by the stale response",
		opt:  &CacheOptions{StaleOnError: time.Hour},
		respond: func(w http.ResponseWriter, r *http.Request, call int32) {
			if call > 1 {
				panic(http.ErrAbortHandler)
			}
			w.Header().Set("Cache-Control", "max-age=10")
			fmt.Fprintf(w, "v%d", call)
		},
		steps: []step{
			{wantCalls: 1},
			{advance: 20 * time.Second, wantCalls: 2, wantBody: body("v1"), wantStatus: 200},
		},
	},
	{
		name: "StaleOnError: not past must-revalidate",
		opt:  &CacheOptions{StaleOnError: time.Hour},
		respond: func(w http.ResponseWriter, r *http.Request, call int32) {
			w.Header().Set("Cache-Control", "max-age=10, must-revalidate")
			if call > 1 {
				http.Error(w, "bad gateway", http.StatusBadGateway)
				return
			}
			fmt.Fprintf(w, "v%d", call)
		},
		steps: []step{{wantCalls: 1}, {advance: 20 * time.Second, wantCalls: 2, wantStatus: 502}},
	},
	{
		name: "StaleOnError: not past its window, nor for a 500",
		opt:  &CacheOptions{StaleOnError: time.Minute},
		respond: func(w http.ResponseWriter, r *http.Request, call int32) {
			w.Header().Set("Cache-Control", "max-age=10")
			switch call {
			case 1:
				fmt.Fprintf(w, "v%d", call)
			case 2:
				http.Error(w, "oops", http.StatusInternalServerError)
			default:
				http.Error(w, "bad gateway", http.StatusBadGateway)
			}
		},
		steps: []step{
			{wantCalls: 1},
			{advance: 20 * time.Second, wantCalls: 2, wantStatus: 500},
			{advance: 2 * time.Minute, wantCalls: 3, wantStatus: 502},
		},
	},
	{
		name:    "Range requests are answered from a stored complete 200",
		respond: conditional(`"r1"`, "max-age=60"),
		steps: []step{
			{wantCalls: 1, wantBody: body("v1")},
			{header: hdr("Range", "bytes=1-1"), wantCalls: 1, wantStatus: 206, wantBody: body("1"),
				wantHeader: map[string]string{"Content-Range": "bytes 1-1/2"}},
			{header: hdr("Range", "bytes=5-"), wantCalls: 1, wantStatus: 416,
				wantHeader: map[string]string{"Content-Range": "bytes */2"}},
			{header: hdr("Range", "bytes=0-0", "If-Range", `"other"`), wantCalls: 1, wantBody: body("v1")},
			{header: hdr("Range", "bytes=0-0", "If-Range", `"r1"`), wantCalls: 1, wantStatus: 206, wantBody: body("v")},
		},
	},
	{
		name:    "heuristic freshness: a tenth of the time since Last-Modified",
		opt:     &CacheOptions{LastModifiedFraction: 0.1},
		respond: fixed("Last-Modified", "Sun, 02 Jan 2000 02:47:25 GMT"), // 1000 s before the clock
		steps: []step{
			{wantCalls: 1},
			{advance: 50 * time.Second, wantCalls: 1, wantCS: "hit; ttl=50"},
			{advance: 60 * time.Second, wantCalls: 2},
		},
	},
	{
		name:    "heuristic freshness is capped by DefaultTTL",
		opt:     &CacheOptions{LastModifiedFraction: 0.1, DefaultTTL: 30 * time.Second},
		respond: fixed("Last-Modified", "Sun, 02 Jan 2000 02:47:25 GMT"),
		steps:   []step{{wantCalls: 1}, {advance: 20 * time.Second, wantCalls: 1, wantCS: "hit; ttl=10"}, {advance: 20 * time.Second, wantCalls: 2}},
	},
	{
		name:    "Vary: the same Accept-Encoding in another order and case selects the same variant",
		respond: fixed("Cache-Control", "max-age=60", "Vary", "Accept-Encoding"),
		steps: []step{
			{header: hdr("Accept-Encoding", "gzip, br;q=0.5"), wantCalls: 1},
			{header: hdr("Accept-Encoding", "BR ; q=0.5,GZIP"), wantCalls: 1, wantCS: "hit; ttl=60"},
			{header: hdr("Accept-Encoding", "deflate"), wantCalls: 2},
		},
	},
	{
		name:    "a stale response without a validator is kept for max-stale",
		respond: fixed("Cache-Control", "max-age=1"),
		steps: []step{
			{wantCalls: 1},
			{advance: 10 * time.Second, header: hdr("Cache-Control", "max-stale=30"), wantCalls: 1, wantBody: body("v1")},
			{wantCalls: 2, wantBody: body("v2")},
		},
	},
	{
		name:    "body over MaxBodySize passes through unstored",
		opt:     &CacheOptions{MaxBodySize: 1},
		respond: fixed("Cache-Control", "max-age=60"),
		steps:   []step{{wantCalls: 1, wantBody: body("v1")}, {wantCalls: 2, wantBody: body("v2")}},
	},
	{
		name: "body over MaxBodySize while streaming passes through unstored",
		opt:  &CacheOptions{MaxBodySize: 8},
		respond: func(w http.ResponseWriter, r *http.Request, call int32) {
			w.Header().Set("Cache-Control", "max-age=60")
			for range 4 {
				fmt.Fprintf(w, "chunk%d;", call)
				w.(http.Flusher).Flush()
			}
		},
		steps: []step{
			{wantCalls: 1, wantBody: body("chunk1;chunk1;chunk1;chunk1;")},
			{wantCalls: 2, wantBody: body("chunk2;chunk2;chunk2;chunk2;")},
		},
	},
	{
		name: "tags header is consumed, not sent",
		respond: func(w http.ResponseWriter, r *http.Request, call int32) {
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Surrogate-Key", "a b")
			fmt.Fprintf(w, "v%d", call)
		},
		steps: []step{
			{wantCalls: 1, wantHeader: map[string]string{"Surrogate-Key": ""}},
			{wantCalls: 1, wantHeader: map[string]string{"Surrogate-Key": ""}},
		},
	},
}

// conditional answers 304 to If-None-Match etag, else a body, always with
// the given Cache-Control.
func conditional(etag, cc string) func(http.ResponseWriter, *http.Request, int32) {
	return func(w http.ResponseWriter, r *http.Request, call int32) {
		w.Header().Set("Cache-Control", cc)
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprintf(w, "v%d", call)
	}
}

func TestCache_Handler_rules(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		rdb := tp.Client(t)
		for _, rc := range rules {
			t.Run(rc.name, func(t *testing.T) {
				t.Parallel()
				clk := newClock()
				c := newTestCache(t, rdb, rc.opt, clk)
				var calls atomic.Int32
				srv := startServer(t, c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					rc.respond(w, r, calls.Add(1))
				})))
				for i, s := range rc.steps {
					clk.advance(s.advance)
					method, path := s.method, s.path
					if method == "" {
						method = http.MethodGet
					}
					if path == "" {
						path = "/r"
					}
					resp, got := do(t, srv.Client(), method, srv.URL+path, s.header)
					if s.background {
						c.waitBackground()
					}
					want := s.wantStatus
					if want == 0 {
						want = http.StatusOK
					}
					if resp.StatusCode != want {
						t.Errorf("step %d: status = %d, want %d", i, resp.StatusCode, want)
					}
					if n := calls.Load(); n != s.wantCalls && s.wantCalls >= 0 {
						t.Errorf("step %d: handler calls = %d, want %d", i, n, s.wantCalls)
					}
					cs := resp.Header.Values("Cache-Status")
					last := ""
					if len(cs) > 0 {
						last = cs[len(cs)-1]
					}
					if !strings.HasPrefix(last, c.opt.Name+"; ") {
						t.Errorf("step %d: Cache-Status = %q, want a member named %q", i, cs, c.opt.Name)
					}
					if s.wantCS != "" && !strings.HasSuffix(last, "; "+s.wantCS) {
						t.Errorf("step %d: Cache-Status = %q, want it to end in %q", i, last, s.wantCS)
					}
					if s.wantBody != nil && got != *s.wantBody {
						t.Errorf("step %d: body = %q, want %q", i, got, *s.wantBody)
					}
					for k, v := range s.wantHeader {
						if g := resp.Header.Get(k); g != v {
							t.Errorf("step %d: %s = %q, want %q", i, k, g, v)
						}
					}
					if strings.HasPrefix(last, c.opt.Name+"; hit") && resp.Header.Get("Age") == "" {
						t.Errorf("step %d: a hit without Age", i)
					}
				}
			})
		}
	})
}

// statusFixed answers every call with status, the given fields and
// "v<call>" as body.
func statusFixed(status int, kv ...string) func(http.ResponseWriter, *http.Request, int32) {
	return func(w http.ResponseWriter, r *http.Request, call int32) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Add(kv[i], kv[i+1])
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, "v%d", call)
	}
}
