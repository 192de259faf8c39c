package middleware

import (
	"math"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"
)

// directives is a parsed Cache-Control field: lowercase directive name to
// its argument ("" when it has none). The first occurrence of a directive
// wins (RFC 9111 section 4.2.1).
type directives map[string]string

// parseDirectives parses every Cache-Control field line of h. Quoted
// arguments may contain commas (no-cache="Set-Cookie, X-A").
func parseDirectives(h http.Header) directives {
	lines := h.Values("Cache-Control")
	if len(lines) == 0 {
		return nil
	}
	d := make(directives, 4)
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
				arg = unquote(arg[1 : len(arg)-1])
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
func parseTargeted(lines []string) (d directives, ok bool) {
	if len(lines) == 0 {
		return nil, false
	}
	d = make(directives, 4)
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
				arg = unquote(arg[1 : len(arg)-1])
			case sfInteger(arg), isToken(arg):
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

func unquote(s string) string {
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

func (d directives) has(name string) bool { _, ok := d[name]; return ok }

// seconds returns the delta-seconds argument of name and whether the
// directive is present. An argument that is not a valid delta-seconds counts
// as 0 (so a malformed max-age makes a response stale, never fresh); one
// beyond 2^31 is capped there (RFC 9111 section 1.2.2).
func (d directives) seconds(name string) (time.Duration, bool) {
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

// requestDirectives are the request directives a shared cache acts on.
type requestDirectives struct {
	noCache, noStore, onlyIfCached bool
	maxAge                         time.Duration
	hasMaxAge                      bool
	maxStale                       time.Duration // -1: any staleness
	hasMaxStale                    bool
	minFresh                       time.Duration
}

// parseRequest reads Cache-Control (and Pragma: no-cache when there is no
// Cache-Control, RFC 9111 section 5.4) from a request.
func parseRequest(h http.Header) requestDirectives {
	d := parseDirectives(h)
	var rd requestDirectives
	if d == nil {
		for _, p := range h.Values("Pragma") {
			if strings.Contains(strings.ToLower(p), "no-cache") {
				rd.noCache = true
			}
		}
		return rd
	}
	rd.noCache = d.has("no-cache")
	rd.noStore = d.has("no-store")
	rd.onlyIfCached = d.has("only-if-cached")
	rd.maxAge, rd.hasMaxAge = d.seconds("max-age")
	if v, ok := d["max-stale"]; ok {
		rd.hasMaxStale = true
		if v == "" {
			rd.maxStale = -1
		} else {
			rd.maxStale, _ = d.seconds("max-stale")
		}
	}
	rd.minFresh, _ = d.seconds("min-fresh")
	return rd
}

// heuristicStatus lists the status codes that are cacheable by default
// (RFC 9110 section 15.1); only these get Options.DefaultTTL.
var heuristicStatus = map[int]bool{
	200: true, 203: true, 204: true, 300: true, 301: true, 308: true,
	404: true, 405: true, 410: true, 414: true, 501: true,
}

// understoodStatus lists the status codes whose caching requirements this
// cache implements, for must-understand (RFC 9111 section 5.2.2.3). Any
// other final status except 206 and 304 is stored when the response has
// explicit freshness (section 3).
var understoodStatus = map[int]bool{
	200: true, 203: true, 204: true, 300: true, 301: true, 302: true, 303: true,
	307: true, 308: true, 404: true, 405: true, 410: true, 414: true, 451: true,
	500: true, 501: true, 502: true, 503: true, 504: true,
}

// policy is what the response headers say about storing and reusing a
// response in a shared cache.
type policy struct {
	lifetime     time.Duration // freshness lifetime
	explicit     bool          // lifetime came from s-maxage, max-age or Expires
	noCache      bool          // must be validated before every reuse
	mustReval    bool          // must-revalidate, proxy-revalidate or s-maxage
	swr, sie     time.Duration // stale-while-revalidate, stale-if-error
	hasValidator bool
}

// freshness holds the options that decide what a response's headers mean
// for this cache.
type freshness struct {
	defaultTTL time.Duration // for heuristically cacheable responses
	lmFraction float64       // of Date - Last-Modified, for heuristic freshness
	targeted   []string      // targeted cache-control fields, in order (RFC 9213)
}

// maxHeuristic caps Last-Modified-based freshness when no DefaultTTL does.
const maxHeuristic = 24 * time.Hour

// directives returns the directives that govern this cache for a response
// with header h: those of the first targeted field with a valid value, or
// else Cache-Control; and whether a targeted field was used.
func (fr freshness) directives(h http.Header) (directives, bool) {
	for _, name := range fr.targeted {
		if d, ok := parseTargeted(h.Values(name)); ok {
			return d, true
		}
	}
	return parseDirectives(h), false
}

// of returns the directives and policy of a response.
func (fr freshness) of(status int, h http.Header) (directives, policy) {
	d, targeted := fr.directives(h)
	return d, fr.policy(status, h, d, targeted)
}

// policy computes the freshness lifetime of a response (RFC 9111 section
// 4.2.1): s-maxage, then max-age, then Expires minus Date (not when a
// targeted field governs: RFC 9213 section 2.1); else, for heuristically
// cacheable statuses, a fraction of the time since Last-Modified or
// defaultTTL (section 4.2.2).
func (fr freshness) policy(status int, h http.Header, d directives, targeted bool) policy {
	var p policy
	p.hasValidator = h.Get("ETag") != "" || h.Get("Last-Modified") != ""
	p.noCache = d.has("no-cache")
	p.mustReval = d.has("must-revalidate") || d.has("proxy-revalidate") || d.has("s-maxage")
	p.swr, _ = d.seconds("stale-while-revalidate")
	p.sie, _ = d.seconds("stale-if-error")
	heuristic := heuristicStatus[status] || d.has("public")
	if v, ok := d.seconds("s-maxage"); ok {
		p.lifetime, p.explicit = v, true
	} else if v, ok := d.seconds("max-age"); ok {
		p.lifetime, p.explicit = v, true
	} else if t, present, ok := singleDate(h, "Expires"); present && !targeted {
		// An invalid Expires (a bad date, "0", several lines) means
		// already expired (RFC 9111 section 5.3).
		p.explicit = true
		if date := responseDate(h); ok && !date.IsZero() && t.After(date) {
			p.lifetime = t.Sub(date)
		}
	} else if lm, _, ok := singleDate(h, "Last-Modified"); ok && fr.lmFraction > 0 && heuristic {
		if date := responseDate(h); !date.IsZero() && date.After(lm) {
			limit := fr.defaultTTL
			if limit == 0 {
				limit = maxHeuristic
			}
			p.lifetime = min(time.Duration(float64(date.Sub(lm))*fr.lmFraction), limit)
		}
	} else if fr.defaultTTL > 0 && heuristic {
		p.lifetime = fr.defaultTTL
	}
	return p
}

// responseDate returns the response's Date, or the zero time when it is
// absent or invalid.
func responseDate(h http.Header) time.Time {
	t, _, ok := singleDate(h, "Date")
	if !ok {
		return time.Time{}
	}
	return t
}

// storeRules are the options that decide, beyond RFC 9111, what a shared
// cache may keep.
type storeRules struct {
	allowCookies bool     // store responses with Set-Cookie
	unkeyed      []string // request fields that forbid storing unless the response varies on them
}

// storable reports why a response may not be stored by a shared cache
// (RFC 9111 section 3, plus the rules of [CacheOptions]), or "" when it
// may.
func storable(reqHeader http.Header, rd requestDirectives, status int, h http.Header, d directives, p policy, rules storeRules) string {
	vary, star := normalizeVary(h)
	mustUnderstand := d.has("must-understand")
	switch {
	case rd.noStore:
		return "request no-store"
	case status < 200 || status > 999 || status == http.StatusPartialContent || status == http.StatusNotModified:
		// Not final, or what this cache does not store: partial content
		// and 304s (which only update stored responses).
		return "status"
	case mustUnderstand && !understoodStatus[status]:
		return "must-understand"
	case d.has("no-store") && !mustUnderstand:
		// must-understand overrides no-store for understood statuses
		// (RFC 9111 section 5.2.2.3).
		return "no-store"
	case d.has("private"):
		return "private"
	case star:
		return "vary *"
	case reqHeader.Get("Authorization") != "" && !d.has("public") && !d.has("s-maxage") && !d.has("must-revalidate"):
		return "authorization"
	case !rules.allowCookies && len(h.Values("Set-Cookie")) > 0:
		return "set-cookie"
	}
	for _, name := range rules.unkeyed {
		if _, sent := reqHeader[name]; sent && !varyNames(vary, name) {
			return "unkeyed " + name
		}
	}
	if p.lifetime > 0 && !p.explicit && !d.has("public") && credentialed(reqHeader, vary) {
		// Heuristic freshness is a guess about a page nobody described;
		// for a request with credentials it would share a personal page.
		if p.noCache && p.hasValidator {
			return ""
		}
		return "credentials"
	}
	if p.lifetime > 0 {
		return ""
	}
	if p.noCache && p.hasValidator && heuristicStatus[status] {
		return ""
	}
	if p.lifetime == 0 && p.explicit && p.hasValidator {
		return "" // max-age=0 with a validator: kept for revalidation
	}
	return "no freshness"
}

// credentialed reports whether the request carries Cookie or Authorization
// and the response does not vary on it.
func credentialed(reqHeader http.Header, vary string) bool {
	return reqHeader.Get("Cookie") != "" && !varyNames(vary, "Cookie") ||
		reqHeader.Get("Authorization") != "" && !varyNames(vary, "Authorization")
}

// varyNames reports whether the normalised Vary spec lists the canonical
// field name.
func varyNames(spec, name string) bool {
	for n := range strings.SplitSeq(spec, ",") {
		if n == name {
			return true
		}
	}
	return false
}

// normalizeVary returns the Vary field of h as a sorted, deduplicated,
// comma-joined list of canonical header names, and whether it contains "*".
func normalizeVary(h http.Header) (spec string, star bool) {
	vals := h.Values("Vary")
	if len(vals) == 0 {
		return "", false
	}
	var names []string
	for _, v := range vals {
		for _, n := range strings.Split(v, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			if n == "*" {
				return "*", true
			}
			names = append(names, textproto.CanonicalMIMEHeaderKey(n))
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	return strings.Join(names, ","), false
}

// caseInsensitiveValues lists request fields whose values compare without
// case, so "GZIP" and "gzip" select the same variant.
var caseInsensitiveValues = map[string]bool{
	"Accept-Encoding": true, "Accept-Language": true, "Accept-Charset": true, "Accept": true,
}

// unorderedLists lists request fields whose list order carries no meaning
// (preference comes from q-values), so "gzip, br" and "br, gzip" select the
// same variant (RFC 9111 section 4.1).
var unorderedLists = map[string]bool{
	"Accept-Encoding": true, "Accept-Language": true, "Accept-Charset": true, "Accept": true,
}

// varyValues returns the normalised values of the headers named in spec,
// as they appear in the request: field lines combined, whitespace around
// list members, ';' and '=' removed, case folded and members sorted where
// the field's definition makes that meaningless, absent fields
// distinguished from empty ones.
func varyValues(spec string, h http.Header) string {
	if spec == "" {
		return ""
	}
	var b strings.Builder
	var members []string
	for name := range strings.SplitSeq(spec, ",") {
		b.WriteString(name)
		vals, ok := h[name]
		if !ok {
			b.WriteString("\x00\n")
			continue
		}
		b.WriteByte('=')
		members = members[:0]
		for _, v := range vals {
			for m := range strings.SplitSeq(v, ",") {
				m = normalizeMember(m)
				if m == "" {
					continue
				}
				if caseInsensitiveValues[name] {
					m = strings.ToLower(m)
				}
				members = append(members, m)
			}
		}
		if unorderedLists[name] {
			slices.Sort(members)
		}
		b.WriteString(strings.Join(members, ","))
		b.WriteByte('\n')
	}
	return b.String()
}

// normalizeMember collapses whitespace in one list member and removes it
// around ';' and '=' ("gzip ; q=0.8" is "gzip;q=0.8").
func normalizeMember(m string) string {
	m = strings.Join(strings.Fields(m), " ")
	if !strings.ContainsAny(m, ";=") || !strings.Contains(m, " ") {
		return m
	}
	for _, sep := range []string{";", "="} {
		m = strings.ReplaceAll(m, " "+sep, sep)
		m = strings.ReplaceAll(m, sep+" ", sep)
	}
	return m
}

// etagMatch reports whether the If-None-Match list matches etag by the weak
// comparison (RFC 9110 section 13.1.2).
func etagMatch(ifNoneMatch []string, etag string) bool {
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

// notModified reports whether the conditional headers of a GET or HEAD
// request are satisfied by a stored response with header h, so 304 is the
// answer (RFC 9110 section 13.2.2: If-None-Match wins over
// If-Modified-Since).
func notModified(req http.Header, h http.Header) bool {
	if inm := req.Values("If-None-Match"); len(inm) > 0 {
		return etagMatch(inm, h.Get("ETag"))
	}
	ims := req.Get("If-Modified-Since")
	if ims == "" {
		return false
	}
	t, ok := parseHTTPDate(strings.TrimSpace(ims))
	if !ok {
		return false // an invalid If-Modified-Since is ignored
	}
	lm, _, ok := singleDate(h, "Last-Modified")
	if !ok {
		return false
	}
	return !lm.After(t)
}

// hopByHop are fields never stored nor replayed (RFC 9111 section 3.1).
var hopByHop = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authentication-Info", "Proxy-Authorization", "Te", "Trailer",
	"Transfer-Encoding", "Upgrade",
}

// stripForStorage removes the fields a cache must not store or that it
// recomputes on every use.
func stripForStorage(h http.Header, allowCookies bool) {
	for _, c := range h.Values("Connection") {
		for n := range strings.SplitSeq(c, ",") {
			if n = strings.TrimSpace(n); n != "" {
				h.Del(n)
			}
		}
	}
	for _, n := range hopByHop {
		h.Del(n)
	}
	h.Del("Content-Length")
	if !allowCookies {
		h.Del("Set-Cookie")
	}
}
