package httprule

import "net/http"

// understoodStatus lists the status codes whose caching requirements this
// package implements, for must-understand (RFC 9111 section 5.2.2.3). Any
// other final status except 206 and 304 is stored when the response has
// explicit freshness (section 3).
var understoodStatus = map[int]bool{
	200: true, 203: true, 204: true, 300: true, 301: true, 302: true, 303: true,
	307: true, 308: true, 404: true, 405: true, 410: true, 414: true, 451: true,
	500: true, 501: true, 502: true, 503: true, 504: true,
}

// StoreRules are the options that decide, beyond RFC 9111, what a shared
// cache may keep.
type StoreRules struct {
	AllowCookies bool     // store responses with Set-Cookie
	Unkeyed      []string // request fields (canonical names) that forbid storing unless the response varies on them
}

// Storable reports why a response may not be stored by a shared cache
// (RFC 9111 section 3, plus rules), or "" when it may. reqHeader and rd
// are the request's fields and directives; status, h, d and p are the
// response's status, fields, directives and policy.
func Storable(reqHeader http.Header, rd RequestDirectives, status int, h http.Header, d Directives, p Policy, rules StoreRules) string {
	vary, star := NormalizeVary(h)
	mustUnderstand := d.Has("must-understand")
	switch {
	case rd.NoStore:
		return "request no-store"
	case status < 200 || status > 999 || status == http.StatusPartialContent || status == http.StatusNotModified:
		// Not final, or what this cache does not store: partial content
		// and 304s (which only update stored responses).
		return "status"
	case mustUnderstand && !understoodStatus[status]:
		return "must-understand"
	case d.Has("no-store") && !mustUnderstand:
		// must-understand overrides no-store for understood statuses
		// (RFC 9111 section 5.2.2.3).
		return "no-store"
	case d.Has("private"):
		return "private"
	case star:
		return "vary *"
	case reqHeader.Get("Authorization") != "" && !d.Has("public") && !d.Has("s-maxage") && !d.Has("must-revalidate"):
		return "authorization"
	case !rules.AllowCookies && len(h.Values("Set-Cookie")) > 0:
		return "set-cookie"
	}
	for _, name := range rules.Unkeyed {
		if _, sent := reqHeader[name]; sent && !varyNames(vary, name) {
			return "unkeyed " + name
		}
	}
	if p.Lifetime > 0 && !p.Explicit && !d.Has("public") && credentialed(reqHeader, vary) {
		// Heuristic freshness is a guess about a page nobody described;
		// for a request with credentials it would share a personal page.
		if p.NoCache && p.HasValidator {
			return ""
		}
		return "credentials"
	}
	if p.Lifetime > 0 {
		return ""
	}
	if p.NoCache && p.HasValidator && heuristicStatus[status] {
		return ""
	}
	if p.Lifetime == 0 && p.Explicit && p.HasValidator {
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
