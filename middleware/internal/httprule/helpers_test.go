package httprule

import "net/http"

// hdr builds a header from name, value pairs.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// unkeyed is middleware.DefaultUnkeyedHeaders, which this package cannot
// import.
var unkeyed = []string{
	"X-Forwarded-Host", "X-Forwarded-Scheme", "X-Original-Url", "X-Rewrite-Url",
	"X-Http-Method-Override", "X-Http-Method", "X-Method-Override", "X-Host",
}
