package httprule

import (
	"net/http"
	"testing"
	"time"
)

func TestParseAge(t *testing.T) {
	tests := []struct {
		name string
		vals []string
		want time.Duration
	}{
		{"absent", nil, 0},
		{"plain", []string{"30"}, 30 * time.Second},
		{"list: first member", []string{"7200, 0"}, 7200 * time.Second},
		{"lines: first line", []string{"5", "900"}, 5 * time.Second},
		{"negative ignored", []string{"-5"}, 0},
		{"not a number ignored", []string{"1e3"}, 0},
		{"huge capped at 2^31", []string{"99999999999999999999999"}, (1 << 31) * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Age": tt.vals}
			if got := parseAge(h); got != tt.want {
				t.Errorf("parseAge(%q) = %v, want %v", tt.vals, got, tt.want)
			}
		})
	}
}

func TestAge(t *testing.T) {
	resp := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	h := hdr("Date", resp.Add(-3*time.Second).Format(http.TimeFormat), "Age", "2")
	req := resp.Add(-time.Second)
	// apparent age 3 s beats Age 2 + delay 1 = 3 s; plus 5 s resident.
	if got := Age(h, req, resp, resp.Add(5*time.Second)); got != 8*time.Second {
		t.Errorf("Age = %v, want 8s", got)
	}
	h.Set("Age", "10")
	if got := Age(h, req, resp, resp); got != 11*time.Second {
		t.Errorf("Age with Age: 10 = %v, want 11s", got)
	}
}
