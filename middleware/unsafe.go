package middleware

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/aside-go/aside/middleware/internal/httprule"
)

// serveUnsafe passes a POST, PUT, DELETE, PATCH (or other unsafe method)
// to the handler and, when it succeeds (2xx or 3xx), purges the request
// URL and the Location and Content-Location on the same host before the
// client sees the response (RFC 9111 section 4.4).
func (c *Cache) serveUnsafe(w http.ResponseWriter, r *http.Request, next http.Handler) {
	rec := newRecorder(w, 0, func(status int, h http.Header) (mode, bool) {
		if status >= 200 && status < 400 {
			c.invalidate(r, h)
		}
		h.Add("Cache-Status", c.status("fwd=method; fwd-status="+strconv.Itoa(status)))
		return modePass, false
	})
	next.ServeHTTP(rec, r)
	rec.finish()
}

func (c *Cache) invalidate(r *http.Request, h http.Header) {
	if !c.redisUp(c.now()) {
		return
	}
	self := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	if r.TLS != nil {
		self.Scheme = "https"
	}
	var targets []string
	for _, u := range httprule.Invalidated(self, h) {
		targets = append(targets, c.st.urlKey(c.keyOf(getFor(r, u))))
	}
	ctx, cancel := c.detachedCtx(r)
	defer cancel()
	if err := c.st.purge(ctx, targets...); err != nil {
		c.failed(r, err)
	}
}

// getFor is the GET request for u that r's response invalidates.
func getFor(r *http.Request, u *url.URL) *http.Request {
	return &http.Request{Method: http.MethodGet, URL: u, Host: r.Host, TLS: r.TLS, Header: r.Header}
}
