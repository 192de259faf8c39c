package middleware

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEntry_encodeDecode(t *testing.T) {
	e := &entry{
		status: 203, header: http.Header{"A": {"1", "2"}, "Content-Type": {"text/plain"}},
		body:    []byte("hello"),
		reqTime: time.Unix(100, 5), respTime: time.Unix(101, 7),
		vary: "Accept", varyVals: "Accept=x\n",
	}
	got, err := decodeEntry(e.encode())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e, got, cmp.AllowUnexported(entry{})); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	enc := e.encode()
	for _, bad := range [][]byte{nil, enc[:10], append([]byte{0}, enc[1:]...), enc[:25]} {
		if _, err := decodeEntry(bad); err == nil {
			t.Errorf("decodeEntry(%q) accepted a corrupt envelope", bad)
		}
	}
}

func TestEntry_age(t *testing.T) {
	resp := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	e := &entry{
		header:  hdr("Date", resp.Add(-3*time.Second).Format(http.TimeFormat), "Age", "2"),
		reqTime: resp.Add(-time.Second), respTime: resp,
	}
	// apparent age 3 s beats Age 2 + delay 1 = 3 s; plus 5 s resident.
	if got := e.age(resp.Add(5 * time.Second)); got != 8*time.Second {
		t.Errorf("age = %v, want 8s", got)
	}
	e.header.Set("Age", "10")
	if got := e.age(resp); got != 11*time.Second {
		t.Errorf("age with Age: 10 = %v, want 11s", got)
	}
}
