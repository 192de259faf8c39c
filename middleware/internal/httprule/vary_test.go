package httprule

import (
	"net/http"
	"testing"
)

func TestNormalizeVary(t *testing.T) {
	spec, star := NormalizeVary(http.Header{"Vary": {"accept-encoding, Accept", " ACCEPT-ENCODING", "x-b"}})
	if spec != "Accept,Accept-Encoding,X-B" || star {
		t.Errorf("NormalizeVary = %q, %v", spec, star)
	}
	if _, star := NormalizeVary(hdr("Vary", "Accept, *")); !star {
		t.Error("Vary with * not reported")
	}
}

func TestVaryValues(t *testing.T) {
	spec := "Accept-Encoding,X-Lang"
	a := VaryValues(spec, http.Header{"Accept-Encoding": {"gzip,  BR"}})
	b := VaryValues(spec, http.Header{"Accept-Encoding": {"GZIP", "br"}})
	c := VaryValues(spec, http.Header{"Accept-Encoding": {"gzip, br"}, "X-Lang": {""}})
	if a != b {
		t.Errorf("equivalent requests differ: %q vs %q", a, b)
	}
	if a == c {
		t.Errorf("an absent field equals an empty one: %q", a)
	}
	if VaryValues("", http.Header{"X": {"y"}}) != "" {
		t.Error("no Vary, yet values")
	}
}
