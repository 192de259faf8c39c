package session

import (
	"net/http"
	"strings"
	"testing"
)

func TestNewID_validAndDistinct(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newID()
		if !validID(id) {
			t.Fatalf("newID() = %q, not valid", id)
		}
		if seen[id] {
			t.Fatalf("newID() repeated %q", id)
		}
		seen[id] = true
	}
	if got := len(storedID("x")); got != 43 {
		t.Errorf("len(storedID) = %d, want 43", got)
	}
}

func TestPrivateCacheControl(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"none", "", "private"},
		{"public shared", "public, s-maxage=60, max-age=10", "private, max-age=10"},
		{"already private", "private, max-age=5", "private, max-age=5"},
		{"no-store", "no-store", "no-store"},
		{"qualified private is not enough", `private="X-A", max-age=5`, `private, private="X-A", max-age=5`},
		{"case and spaces", " Public ,S-MAXAGE=3", "private"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.in != "" {
				h.Set("Cache-Control", tt.in)
			}
			privateCacheControl(h)
			if got := h.Get("Cache-Control"); got != tt.want {
				t.Errorf("Cache-Control %q -> %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// validID accepts exactly what newID makes: anything else from a cookie
// is refused before it reaches Redis.
func FuzzValidID(f *testing.F) {
	f.Add(newID())
	f.Add(strings.Repeat("A", 42) + "B")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if !validID(s) {
			return
		}
		if len(s) != 43 || strings.ContainsAny(s, "+/={}|: \x00") {
			t.Fatalf("validID accepted %q", s)
		}
	})
}
