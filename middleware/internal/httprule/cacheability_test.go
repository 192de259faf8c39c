package httprule

import (
	"net/http"
	"testing"
	"time"
)

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
			d := ParseDirectives(tc.h)
			p := Freshness{}.Policy(tc.status, tc.h, d, false)
			if got := Storable(tc.req, ParseRequest(tc.req), tc.status, tc.h, d, p, StoreRules{AllowCookies: tc.cookie, Unkeyed: unkeyed}); got != tc.want {
				t.Errorf("Storable = %q, want %q", got, tc.want)
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
			d := ParseDirectives(tc.h)
			p := Freshness{DefaultTTL: time.Minute}.Policy(200, tc.h, d, false)
			if got := Storable(tc.req, ParseRequest(tc.req), 200, tc.h, d, p, StoreRules{}); got != tc.want {
				t.Errorf("Storable = %q, want %q", got, tc.want)
			}
		})
	}
}
