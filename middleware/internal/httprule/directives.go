package httprule

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Directives is a parsed Cache-Control field: lowercase directive name to
// its argument ("" when it has none). The first occurrence of a directive
// wins (RFC 9111 section 4.2.1).
type Directives map[string]string

// ParseDirectives parses every Cache-Control field line of h. Quoted
// arguments may contain commas (no-cache="Set-Cookie, X-A").
func ParseDirectives(h http.Header) Directives {
	lines := h.Values("Cache-Control")
	if len(lines) == 0 {
		return nil
	}
	d := make(Directives, 4)
	for _, line := range lines {
		for len(line) > 0 {
			var item string
			item, line = nextListItem(line)
			name, arg, _ := strings.Cut(item, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			arg = strings.TrimSpace(arg)
			if len(arg) >= 2 && arg[0] == '"' && arg[len(arg)-1] == '"' {
				arg = Unquote(arg[1 : len(arg)-1])
			}
			if _, seen := d[name]; !seen {
				d[name] = arg
			}
		}
	}
	return d
}

// parseTargeted parses a targeted cache-control field (RFC 9213): a
// structured-field dictionary, so stricter than Cache-Control: keys are
// lowercase tokens, values integers, tokens or quoted strings. ok is false
// when the field is absent or invalid; the cache then falls back to
// Cache-Control.
func parseTargeted(lines []string) (d Directives, ok bool) {
	if len(lines) == 0 {
		return nil, false
	}
	d = make(Directives, 4)
	for _, line := range lines {
		for len(line) > 0 {
			var item string
			item, line = nextListItem(line)
			item = strings.Trim(item, " \t")
			if item == "" {
				if strings.TrimSpace(line) == "" {
					break
				}
				return nil, false // an empty member
			}
			name, arg, hasArg := strings.Cut(item, "=")
			if !sfKey(name) {
				return nil, false
			}
			switch {
			case !hasArg:
			case len(arg) >= 2 && arg[0] == '"' && arg[len(arg)-1] == '"':
				arg = Unquote(arg[1 : len(arg)-1])
			case sfInteger(arg), IsToken(arg):
			default:
				return nil, false
			}
			if _, seen := d[name]; !seen {
				d[name] = arg
			}
		}
	}
	return d, true
}

// sfKey reports whether s is a structured-field dictionary key.
func sfKey(s string) bool {
	if s == "" || !(s[0] == '*' || s[0] >= 'a' && s[0] <= 'z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*') {
			return false
		}
	}
	return true
}

// sfInteger reports whether s is a structured-field integer.
func sfInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsToken reports whether s is a structured-field token (RFC 8941).
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	if !(c == '*' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '(' || c == ')' || c == ',' || c == ';' || c == '=' ||
			c == '<' || c == '>' || c == '@' || c == '[' || c == '\\' || c == ']' || c == '?' || c == '{' || c == '}' {
			return false
		}
	}
	return true
}

// nextListItem splits s at the first comma that is not inside a quoted
// string.
func nextListItem(s string) (item, rest string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// Unquote removes the backslash escapes from s, the content of a
// quoted-string without its quotes (RFC 9110 section 5.6.4).
func Unquote(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Has reports whether the directive name is present.
func (d Directives) Has(name string) bool { _, ok := d[name]; return ok }

// Seconds returns the delta-seconds argument of name and whether the
// directive is present. An argument that is not a valid delta-seconds counts
// as 0 (so a malformed max-age makes a response stale, never fresh); one
// beyond 2^31 is capped there (RFC 9111 section 1.2.2).
func (d Directives) Seconds(name string) (time.Duration, bool) {
	v, ok := d[name]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange && v != "" && v[0] != '-' {
			n = math.MaxInt32 + 1
		} else {
			return 0, true
		}
	}
	if n < 0 {
		return 0, true
	}
	if n > math.MaxInt32+1 {
		n = math.MaxInt32 + 1
	}
	return time.Duration(n) * time.Second, true
}

// RequestDirectives are the request directives a shared cache acts on
// (RFC 9111 section 5.2.1).
type RequestDirectives struct {
	NoCache, NoStore, OnlyIfCached bool
	MaxAge                         time.Duration // the oldest response the client accepts
	HasMaxAge                      bool
	MaxStale                       time.Duration // how stale a response may be; -1: any staleness
	HasMaxStale                    bool
	MinFresh                       time.Duration // how much freshness must be left
}

// ParseRequest reads Cache-Control (and Pragma: no-cache when there is no
// Cache-Control, RFC 9111 section 5.4) from a request.
func ParseRequest(h http.Header) RequestDirectives {
	d := ParseDirectives(h)
	var rd RequestDirectives
	if d == nil {
		for _, p := range h.Values("Pragma") {
			if strings.Contains(strings.ToLower(p), "no-cache") {
				rd.NoCache = true
			}
		}
		return rd
	}
	rd.NoCache = d.Has("no-cache")
	rd.NoStore = d.Has("no-store")
	rd.OnlyIfCached = d.Has("only-if-cached")
	rd.MaxAge, rd.HasMaxAge = d.Seconds("max-age")
	if v, ok := d["max-stale"]; ok {
		rd.HasMaxStale = true
		if v == "" {
			rd.MaxStale = -1
		} else {
			rd.MaxStale, _ = d.Seconds("max-stale")
		}
	}
	rd.MinFresh, _ = d.Seconds("min-fresh")
	return rd
}

// Refuses reports whether the request's own directives (no-cache,
// max-age, min-fresh) forbid serving a stored response of age age, with
// ttl of freshness left (fresh when it is fresh), without validating it
// (RFC 9111 section 5.2.1).
func (rd RequestDirectives) Refuses(age, ttl time.Duration, fresh bool) bool {
	return rd.NoCache || rd.HasMaxAge && age > rd.MaxAge || fresh && rd.MinFresh > 0 && ttl < rd.MinFresh
}
