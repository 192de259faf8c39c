package httprule

import (
	"net/http"
	"net/url"
	"strings"
)

// Invalidated returns the URLs whose stored responses a successful (2xx or
// 3xx) response with header h to an unsafe request for self invalidates
// (RFC 9111 section 4.4): self first, then the URLs of the Location and
// Content-Location fields, resolved against self, that are on self's host.
func Invalidated(self *url.URL, h http.Header) []*url.URL {
	urls := []*url.URL{self}
	for _, name := range []string{"Location", "Content-Location"} {
		v := h.Get(name)
		if v == "" {
			continue
		}
		u, err := self.Parse(v)
		if err != nil || !strings.EqualFold(u.Host, self.Host) {
			continue
		}
		urls = append(urls, u)
	}
	return urls
}
