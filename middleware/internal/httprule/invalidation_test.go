package httprule

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestInvalidated(t *testing.T) {
	self := &url.URL{Scheme: "https", Host: "example.com", Path: "/a/b", RawQuery: "x=1"}
	for _, tc := range []struct {
		name string
		h    http.Header
		want []string
	}{
		{"request URL only", http.Header{}, []string{"https://example.com/a/b?x=1"}},
		{"relative Location", hdr("Location", "c"), []string{"https://example.com/a/b?x=1", "https://example.com/a/c"}},
		{"both fields", hdr("Location", "/l", "Content-Location", "https://EXAMPLE.com/cl"),
			[]string{"https://example.com/a/b?x=1", "https://example.com/l", "https://EXAMPLE.com/cl"}},
		{"other host ignored", hdr("Location", "https://other.example/x"), []string{"https://example.com/a/b?x=1"}},
		{"invalid URL ignored", hdr("Content-Location", "http://[::1"), []string{"https://example.com/a/b?x=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, u := range Invalidated(self, tc.h) {
				got = append(got, u.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Invalidated (-want +got):\n%s", diff)
			}
		})
	}
}
