package httprule

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNotModified(t *testing.T) {
	stored := hdr("ETag", `W/"v1"`, "Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
	for _, tc := range []struct {
		name string
		req  http.Header
		want bool
	}{
		{"strong tag matches weak", hdr("If-None-Match", `"v1"`), true},
		{"list", hdr("If-None-Match", `"v0", "v1"`), true},
		{"star", hdr("If-None-Match", `*`), true},
		{"If-None-Match wins", hdr("If-None-Match", `"v2"`, "If-Modified-Since", "Tue, 02 Jan 2024 00:00:00 GMT"), false},
		{"modified before", hdr("If-Modified-Since", "Tue, 02 Jan 2024 00:00:00 GMT"), true},
		{"modified at", hdr("If-Modified-Since", "Mon, 01 Jan 2024 00:00:00 GMT"), true},
		{"modified since", hdr("If-Modified-Since", "Sun, 31 Dec 2023 00:00:00 GMT"), false},
		{"invalid date ignored", hdr("If-Modified-Since", "garbage"), false},
		{"unconditional", http.Header{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NotModified(tc.req, stored); got != tc.want {
				t.Errorf("NotModified(%v) = %v, want %v", tc.req, got, tc.want)
			}
		})
	}
}

func TestValidates(t *testing.T) {
	stored := hdr("ETag", `W/"v1"`, "Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
	for _, tc := range []struct {
		name   string
		stored http.Header
		upd    http.Header
		want   bool
	}{
		{"weak tag, weak match", stored, hdr("ETag", `W/"v1"`), true},
		{"strong tag needs the same strong tag", stored, hdr("ETag", `"v1"`), false},
		{"strong tag, same", hdr("ETag", `"v1"`), hdr("ETag", `"v1"`), true},
		{"other tag", stored, hdr("ETag", `W/"v2"`), false},
		{"weak tag, nothing stored", http.Header{}, hdr("ETag", `W/"v1"`), false},
		{"same Last-Modified", stored, hdr("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"), true},
		{"other Last-Modified", stored, hdr("Last-Modified", "Tue, 02 Jan 2024 00:00:00 GMT"), false},
		{"no validator", stored, http.Header{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Validates(tc.stored, tc.upd); got != tc.want {
				t.Errorf("Validates(%v, %v) = %v, want %v", tc.stored, tc.upd, got, tc.want)
			}
		})
	}
}

func TestUpdateStored(t *testing.T) {
	stored := hdr("Content-Type", "text/plain", "ETag", `"v1"`, "Cache-Control", "max-age=5", "X-A", "old")
	upd := hdr("Content-Type", "text/html", "ETag", `"v1"`, "Cache-Control", "max-age=60", "X-A", "new",
		"Content-Length", "0", "Connection", "X-Hop", "X-Hop", "1", "Transfer-Encoding", "chunked")
	got := UpdateStored(stored, upd)
	want := hdr("Content-Type", "text/plain", "ETag", `"v1"`, "Cache-Control", "max-age=60", "X-A", "new")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UpdateStored (-want +got):\n%s", diff)
	}
	if stored.Get("Cache-Control") != "max-age=5" {
		t.Error("UpdateStored changed the stored header")
	}
}

func TestConditional(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stored http.Header
		want   http.Header
		ok     bool
	}{
		{"nothing stored", nil, http.Header{}, false},
		{"no validator", hdr("Cache-Control", "max-age=5"), http.Header{}, false},
		{"etag", hdr("ETag", `"v1"`), hdr("If-None-Match", `"v1"`), true},
		{"both", hdr("ETag", `"v1"`, "Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"),
			hdr("If-None-Match", `"v1"`, "If-Modified-Since", "Mon, 01 Jan 2024 00:00:00 GMT"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := hdr("If-None-Match", `"client"`, "If-Modified-Since", "Sun, 31 Dec 2023 00:00:00 GMT")
			if ok := Conditional(h, tc.stored); ok != tc.ok {
				t.Errorf("Conditional = %v, want %v", ok, tc.ok)
			}
			if diff := cmp.Diff(tc.want, h); diff != "" {
				t.Errorf("request header (-want +got):\n%s", diff)
			}
		})
	}
}
