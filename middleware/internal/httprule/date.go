package httprule

import (
	"net/http"
	"strings"
	"time"
)

// httpDateLayouts are the three formats of an HTTP-date (RFC 9110 section
// 5.6.7): IMF-fixdate, and the obsolete RFC 850 and asctime formats that
// recipients must still accept.
var httpDateLayouts = []string{
	http.TimeFormat,                  // Sun, 06 Nov 1994 08:49:37 GMT
	"Monday, 02-Jan-06 15:04:05 GMT", // Sunday, 06-Nov-94 08:49:37 GMT
	"Mon Jan _2 15:04:05 2006",       // Sun Nov  6 08:49:37 1994
}

// parseHTTPDate parses one HTTP-date strictly: the value must be exactly
// what its layout formats (two-digit hours, single spaces, the right
// weekday), which time.Parse alone does not check. RFC 9111 section 5.3
// reads an invalid Expires as a time in the past; callers decide.
func parseHTTPDate(s string) (time.Time, bool) {
	for _, layout := range httpDateLayouts {
		if len(s) != len(layout) && !(layout[0] == 'M' && layout[3] == 'd') {
			continue // only the RFC 850 form has a variable length (the weekday)
		}
		t, err := time.Parse(layout, s)
		if err == nil && t.Format(layout) == s {
			return t, true
		}
	}
	return time.Time{}, false
}

// SingleDate returns the HTTP-date of a singleton field of h: absent (ok
// false, present false), valid, or invalid (several field lines, a list,
// or a malformed date).
func SingleDate(h http.Header, name string) (t time.Time, present, ok bool) {
	vals := h.Values(name)
	if len(vals) == 0 {
		return time.Time{}, false, false
	}
	if len(vals) > 1 {
		return time.Time{}, true, false
	}
	t, ok = parseHTTPDate(strings.TrimSpace(vals[0]))
	return t, true, ok
}

// responseDate returns the response's Date, or the zero time when it is
// absent or invalid.
func responseDate(h http.Header) time.Time {
	t, _, ok := SingleDate(h, "Date")
	if !ok {
		return time.Time{}
	}
	return t
}
