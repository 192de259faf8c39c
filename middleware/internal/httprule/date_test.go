package httprule

import (
	"testing"
	"time"
)

func TestParseHTTPDate(t *testing.T) {
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	tests := []struct {
		in string
		ok bool
	}{
		{"Sun, 06 Nov 1994 08:49:37 GMT", true},   // IMF-fixdate
		{"Sunday, 06-Nov-94 08:49:37 GMT", true},  // RFC 850
		{"Sun Nov  6 08:49:37 1994", true},        // asctime
		{"Sun, 06 Nov 1994  08:49:37 GMT", false}, // doubled space
		{"Sun, 06 Nov 1994 8:49:37 GMT", false},   // one-digit hour
		{"Sun, 6 Nov 1994 08:49:37 GMT", false},   // one-digit day
		{"Mon, 06 Nov 1994 08:49:37 GMT", false},  // wrong weekday
		{"Sun, 06 Nov 1994 08:49:37 UTC", false},  // not GMT
		{"Sun Nov 06 08:49:37 1994", false},       // asctime pads with a space
		{"0", false},
		{"", false},
	}
	for _, tt := range tests {
		got, ok := parseHTTPDate(tt.in)
		if ok != tt.ok || ok && !got.Equal(want) {
			t.Errorf("parseHTTPDate(%q) = %v, %v; want ok=%v", tt.in, got, ok, tt.ok)
		}
	}
}

func FuzzParseHTTPDate(f *testing.F) {
	f.Add("Sun, 06 Nov 1994 08:49:37 GMT")
	f.Add("Sunday, 06-Nov-94 08:49:37 GMT")
	f.Add("Sun Nov  6 08:49:37 1994")
	f.Fuzz(func(t *testing.T, s string) {
		tm, ok := parseHTTPDate(s)
		if !ok {
			return
		}
		// What is accepted formats back to itself in one of the layouts.
		for _, l := range httpDateLayouts {
			if tm.Format(l) == s {
				return
			}
		}
		t.Fatalf("accepted %q, which no layout formats", s)
	})
}
