package httprule

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
		want  Directives
	}{
		{"simple", []string{"max-age=60, public"}, Directives{"max-age": "60", "public": ""}},
		{"case and spaces", []string{" Max-Age = 5 ,NO-CACHE"}, Directives{"max-age": "5", "no-cache": ""}},
		{"quoted comma", []string{`no-cache="Set-Cookie, X-A", s-maxage=9`}, Directives{"no-cache": "Set-Cookie, X-A", "s-maxage": "9"}},
		{"first occurrence wins", []string{"max-age=1", "max-age=2"}, Directives{"max-age": "1"}},
		{"empty items", []string{",,private,"}, Directives{"private": ""}},
		{"quoted number", []string{`max-age="7"`}, Directives{"max-age": "7"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseDirectives(http.Header{"Cache-Control": tc.lines})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseDirectives(%q) (-want +got):\n%s", tc.lines, diff)
			}
		})
	}
}

func TestDirectives_Seconds(t *testing.T) {
	d := Directives{"a": "10", "b": "x", "c": "-1", "d": "99999999999999999999", "e": ""}
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
		got, ok := d.Seconds(tc.name)
		if got != tc.want || ok != tc.present {
			t.Errorf("Seconds(%s) = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.present)
		}
	}
}

func TestParseRequest(t *testing.T) {
	got := ParseRequest(hdr("Cache-Control", "max-stale, min-fresh=5, only-if-cached, no-store"))
	want := RequestDirectives{NoStore: true, OnlyIfCached: true, MaxStale: -1, HasMaxStale: true, MinFresh: 5 * time.Second}
	if got != want {
		t.Errorf("ParseRequest = %+v, want %+v", got, want)
	}
	if got := ParseRequest(hdr("Pragma", "no-cache")); !got.NoCache {
		t.Error("Pragma: no-cache without Cache-Control is not no-cache")
	}
	if got := ParseRequest(hdr("Pragma", "no-cache", "Cache-Control", "max-age=5")); got.NoCache {
		t.Error("Pragma counted although Cache-Control is present")
	}
}
