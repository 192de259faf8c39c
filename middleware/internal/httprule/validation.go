package httprule

import (
	"net/http"
	"strings"
)

// ETagMatch reports whether the If-None-Match list matches etag by the weak
// comparison (RFC 9110 section 13.1.2).
func ETagMatch(ifNoneMatch []string, etag string) bool {
	if etag == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, line := range ifNoneMatch {
		for len(line) > 0 {
			var item string
			item, line = nextListItem(line)
			item = strings.TrimSpace(item)
			if item == "*" || strings.TrimPrefix(item, "W/") == want {
				return true
			}
		}
	}
	return false
}

// NotModified reports whether the conditional headers of a GET or HEAD
// request are satisfied by a stored response with header h, so 304 is the
// answer (RFC 9110 section 13.2.2: If-None-Match wins over
// If-Modified-Since).
func NotModified(req http.Header, h http.Header) bool {
	if inm := req.Values("If-None-Match"); len(inm) > 0 {
		return ETagMatch(inm, h.Get("ETag"))
	}
	ims := req.Get("If-Modified-Since")
	if ims == "" {
		return false
	}
	t, ok := parseHTTPDate(strings.TrimSpace(ims))
	if !ok {
		return false // an invalid If-Modified-Since is ignored
	}
	lm, _, ok := SingleDate(h, "Last-Modified")
	if !ok {
		return false
	}
	return !lm.After(t)
}

// StripFor304 removes the representation fields a 304 must not carry
// (RFC 9110 section 15.4.5), as net/http does.
func StripFor304(h http.Header) {
	h.Del("Content-Type")
	h.Del("Content-Length")
	h.Del("Content-Encoding")
	if h.Get("ETag") != "" {
		h.Del("Last-Modified")
	}
}

// keptOn304 are the stored fields a 304 does not replace: the ones the
// stored body depends on and its validators (RFC 9111 sections 3.2 and
// 4.3.4).
var keptOn304 = []string{"Content-Encoding", "Content-Type", "Content-Range", "Content-Length", "ETag", "Last-Modified"}

// Validates reports whether a 304 with header upd is about the stored
// response with header stored (RFC 9111 section 4.3.4): a strong ETag must
// be the stored one; a weak ETag or a Last-Modified must match the stored
// one by weak comparison. A 304 with no validator updates the response it
// answers.
func Validates(stored, upd http.Header) bool {
	if et := upd.Get("ETag"); et != "" {
		st := stored.Get("ETag")
		if !strings.HasPrefix(et, "W/") {
			return st == et
		}
		return st != "" && strings.TrimPrefix(st, "W/") == strings.TrimPrefix(et, "W/")
	}
	if lm := upd.Get("Last-Modified"); lm != "" {
		return stored.Get("Last-Modified") == lm
	}
	return true
}

// UpdateStored returns a copy of stored, the header of a stored response,
// updated from upd, the header of a 304 that validates it (RFC 9111
// section 3.2): each field of upd replaces the stored one, except the
// fields a cache never stores (see [StripForStorage]) and those the stored
// body depends on and its validators. It removes those fields from upd.
func UpdateStored(stored, upd http.Header) http.Header {
	h := stored.Clone()
	StripForStorage(upd, true) // hop-by-hop, Connection-listed, Content-Length
	for _, k := range keptOn304 {
		upd.Del(k)
	}
	for k, v := range upd {
		h[k] = v
	}
	return h
}

// Conditional replaces the preconditions of the request header h with
// those that validate a stored response with header stored (RFC 9111
// section 4.3.1): If-None-Match with its ETag, If-Modified-Since with its
// Last-Modified. stored is nil when there is nothing to validate; the
// client's own preconditions are removed either way, since the cache
// answers them itself. It reports whether h now asks for validation.
func Conditional(h, stored http.Header) bool {
	h.Del("If-None-Match")
	h.Del("If-Modified-Since")
	validating := false
	if et := stored.Get("ETag"); et != "" {
		h.Set("If-None-Match", et)
		validating = true
	}
	if lm := stored.Get("Last-Modified"); lm != "" {
		h.Set("If-Modified-Since", lm)
		validating = true
	}
	return validating
}
