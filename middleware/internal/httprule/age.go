package httprule

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxAge is the largest Age a cache sends (RFC 9111 section 1.2.2:
// 2^31 seconds stands for anything larger).
const maxAge = 1 << 31

// parseAge reads the Age field of h (RFC 9111 section 5.1): of a list, the
// first member; a value that is not a non-negative integer is ignored.
func parseAge(h http.Header) time.Duration {
	vals := h.Values("Age")
	if len(vals) == 0 {
		return 0
	}
	first, _, _ := strings.Cut(vals[0], ",")
	first = strings.TrimSpace(first)
	if first == "" {
		return 0
	}
	for i := 0; i < len(first); i++ {
		if first[i] < '0' || first[i] > '9' {
			return 0
		}
	}
	n, err := strconv.ParseInt(first, 10, 64)
	if err != nil || n > maxAge {
		n = maxAge // all digits: only too large to parse
	}
	return time.Duration(n) * time.Second
}

// Age is the current age at now (RFC 9111 section 4.2.3) of a stored
// response with header h, requested at reqTime and whose header section
// came back at respTime.
func Age(h http.Header, reqTime, respTime, now time.Time) time.Duration {
	ageValue := parseAge(h)
	apparent := time.Duration(0)
	if date := responseDate(h); !date.IsZero() {
		apparent = max(0, respTime.Sub(date))
	}
	delay := max(0, respTime.Sub(reqTime))
	initial := max(apparent, ageValue+delay)
	return initial + max(0, now.Sub(respTime))
}
