package httprule

import (
	"net/http"
	"net/textproto"
	"slices"
	"strings"
)

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

// NormalizeVary returns the Vary field of h as a sorted, deduplicated,
// comma-joined list of canonical header names, and whether it contains "*".
func NormalizeVary(h http.Header) (spec string, star bool) {
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

// VaryValues returns the normalised values of the headers named in spec
// (as NormalizeVary returns it), as they appear in the request header h:
// field lines combined, whitespace around list members, ';' and '='
// removed, case folded and members sorted where the field's definition
// makes that meaningless, absent fields distinguished from empty ones.
func VaryValues(spec string, h http.Header) string {
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
