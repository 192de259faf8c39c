package httprule

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestResponsePolicy(t *testing.T) {
	date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		status int
		h      http.Header
		ttl    time.Duration
		want   Policy
	}{
		{"s-maxage first", 200, hdr("Cache-Control", "max-age=5, s-maxage=9"), 0,
			Policy{Lifetime: 9 * time.Second, Explicit: true, MustRevalidate: true}},
		{"expires", 200, hdr("Date", date.Format(http.TimeFormat), "Expires", date.Add(time.Hour).Format(http.TimeFormat)), 0,
			Policy{Lifetime: time.Hour, Explicit: true}},
		{"invalid expires is expired", 200, hdr("Expires", "0"), 0, Policy{Explicit: true}},
		{"heuristic off", 200, hdr("ETag", `"x"`), 0, Policy{HasValidator: true}},
		{"default ttl", 404, http.Header{}, time.Minute, Policy{Lifetime: time.Minute}},
		{"default ttl not for 500", 500, http.Header{}, time.Minute, Policy{}},
		{"stale windows", 200, hdr("Cache-Control", "max-age=1, stale-while-revalidate=2, stale-if-error=3, must-revalidate"), 0,
			Policy{Lifetime: time.Second, Explicit: true, StaleWhileRevalidate: 2 * time.Second, StaleIfError: 3 * time.Second, MustRevalidate: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Freshness{DefaultTTL: tc.ttl}.Policy(tc.status, tc.h, ParseDirectives(tc.h), false)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
