package httprule

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStripForStorage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cookies bool
		want    http.Header
	}{
		{"cookies dropped", false, hdr("Content-Type", "text/plain")},
		{"cookies kept", true, hdr("Content-Type", "text/plain", "Set-Cookie", "a=b")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := hdr("Content-Type", "text/plain", "Set-Cookie", "a=b", "Content-Length", "3",
				"Connection", "close, X-Hop", "X-Hop", "1", "Keep-Alive", "timeout=5", "Te", "trailers")
			StripForStorage(h, tc.cookies)
			if diff := cmp.Diff(tc.want, h); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRetention(t *testing.T) {
	const keep = time.Minute
	for _, tc := range []struct {
		name string
		p    Policy
		want time.Duration
	}{
		{"fresh, kept stale for max-stale", Policy{Lifetime: 10 * time.Second}, 10*time.Second + keep},
		{"must-revalidate without validator", Policy{Lifetime: 10 * time.Second, MustRevalidate: true}, 10 * time.Second},
		{"must-revalidate with validator", Policy{Lifetime: 10 * time.Second, MustRevalidate: true, HasValidator: true}, 10*time.Second + keep},
		{"no-cache ignores lifetime", Policy{Lifetime: 10 * time.Second, NoCache: true, HasValidator: true}, keep},
		{"longest stale window", Policy{Lifetime: time.Second, MustRevalidate: true, StaleWhileRevalidate: 2 * time.Second, StaleIfError: 3 * time.Second}, 4 * time.Second},
		{"nothing", Policy{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Retention(tc.p, keep); got != tc.want {
				t.Errorf("Retention(%+v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}
