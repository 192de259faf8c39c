package middleware

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/aside-go/aside/middleware/internal/httprule"
)

// mode says where a handler's response goes once its status is known.
type mode uint8

const (
	modePending     mode = iota // no final status yet
	modePass                    // to the client as written
	modeNotModified             // the client gets a 304; the body is only recorded
	modeHold                    // nothing reaches the client (revalidation, stale-if-error, background)
)

// recorder is the http.ResponseWriter a cached handler writes to. It
// passes the response through to the client (or holds it back, as decide
// says) while keeping a copy of the body up to a limit. It is used by one
// handler goroutine at a time, like any ResponseWriter.
type recorder struct {
	w      http.ResponseWriter // the client; nil for background refreshes
	header http.Header         // what the handler sets
	decide func(status int, h http.Header) (mode, bool)

	status    int
	mode      mode
	buffering bool
	limit     int64
	body      []byte
	written   int64 // body bytes the handler wrote
	overflow  bool  // the body outgrew limit
	clientErr bool  // a write to the client failed
	hijacked  bool
	interim   []http.Header // fields sent with 1xx responses

	// announce, if set by decide, adds the cache's Cache-Status member
	// once it is known whether the body fits: the response is held back
	// (held) until the handler returns, the body outgrows the limit, or
	// the handler flushes, so "stored" is never said of a body that then
	// did not fit.
	announce func(fits bool)
	held     bool
}

func newRecorder(w http.ResponseWriter, limit int64, decide func(int, http.Header) (mode, bool)) *recorder {
	return &recorder{w: w, header: make(http.Header), decide: decide, limit: limit}
}

// Header returns the handler's header map.
func (r *recorder) Header() http.Header { return r.header }

// WriteHeader passes 1xx interim responses straight through and settles the
// mode on the first final status.
func (r *recorder) WriteHeader(code int) {
	if r.mode != modePending || r.hijacked {
		return
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		if r.w != nil {
			r.interim = append(r.interim, r.header.Clone())
			copyHeader(r.w.Header(), r.header)
			r.w.WriteHeader(code)
		}
		return
	}
	if r.w != nil {
		// Fields sent with a 1xx that the handler removed since must not
		// linger in the client's map for the final response.
		for _, ih := range r.interim {
			for k := range ih {
				if _, ok := r.header[k]; !ok {
					r.w.Header().Del(k)
				}
			}
		}
	}
	r.status = code
	m, buf := r.decide(code, r.header)
	if r.w == nil && m != modeHold {
		m = modeHold
	}
	r.mode, r.buffering = m, buf
	if cl := r.header.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		switch {
		case err != nil || n < 0:
			// A malformed length (Content-Length: -1): pass the response
			// through, never store it.
			r.buffering = false
		case n > r.limit:
			r.buffering, r.overflow = false, true
		case r.buffering:
			r.body = make([]byte, 0, n)
		}
	}
	switch m {
	case modePass:
		if r.announce != nil && r.buffering {
			r.held = true
			return
		}
		r.emit(false)
	case modeNotModified:
		h := r.w.Header()
		copyHeader(h, r.header)
		httprule.StripFor304(h)
		r.w.WriteHeader(http.StatusNotModified)
	}
}

// Write records p (while under the limit) and passes it on in modePass.
func (r *recorder) Write(p []byte) (int, error) {
	if r.mode == modePending {
		if _, ok := r.header["Content-Type"]; !ok && r.header.Get("Content-Encoding") == "" && len(p) > 0 {
			r.header.Set("Content-Type", http.DetectContentType(p))
		}
		r.WriteHeader(http.StatusOK)
	}
	r.written += int64(len(p))
	if r.buffering {
		if int64(len(r.body)+len(p)) > r.limit {
			if r.held {
				r.release(false) // it will not be stored: send what was held
			}
			r.buffering, r.overflow, r.body = false, true, nil
		} else {
			r.body = append(r.body, p...)
		}
	}
	if r.mode != modePass || r.held {
		return len(p), nil
	}
	n, err := r.w.Write(p)
	if err != nil {
		r.clientErr = true
	}
	return n, err
}

// WriteString avoids a copy for handlers that use io.WriteString.
func (r *recorder) WriteString(s string) (int, error) { return r.Write([]byte(s)) }

// FlushError sends what was written so far to the client (in modePass), as
// http.ResponseController.Flush expects.
func (r *recorder) FlushError() error {
	if r.mode == modePending {
		r.WriteHeader(http.StatusOK)
	}
	if r.held {
		r.release(false) // whether it fits is not known yet: no claim
	}
	if r.mode != modePass {
		return nil
	}
	if err := http.NewResponseController(r.w).Flush(); err != nil {
		r.clientErr = true
		return err
	}
	return nil
}

// Flush implements http.Flusher.
func (r *recorder) Flush() { _ = r.FlushError() }

// Hijack hands the connection to the handler; the response is then never
// stored.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if r.w == nil {
		return nil, nil, http.ErrNotSupported
	}
	c, rw, err := http.NewResponseController(r.w).Hijack()
	if err == nil {
		r.hijacked, r.held = true, false
	}
	return c, rw, err
}

// Unwrap returns the client's ResponseWriter, for http.ResponseController.
func (r *recorder) Unwrap() http.ResponseWriter { return r.w }

// finish completes a handler that returned without writing, and copies
// trailers to the client.
func (r *recorder) finish() {
	if r.hijacked {
		return
	}
	if r.mode == modePending {
		r.WriteHeader(http.StatusOK)
	}
	if r.held {
		r.release(r.bodyComplete() && !r.hasTrailers())
	}
	if r.mode == modePass && r.hasTrailers() {
		h := r.w.Header()
		for _, t := range r.header.Values("Trailer") {
			for n := range strings.SplitSeq(t, ",") {
				if n = strings.TrimSpace(n); n != "" {
					if v, ok := r.header[http.CanonicalHeaderKey(n)]; ok {
						h[http.CanonicalHeaderKey(n)] = v
					}
				}
			}
		}
		for k, v := range r.header {
			if strings.HasPrefix(k, http.TrailerPrefix) {
				h[k] = v
			}
		}
	}
}

func (r *recorder) hasTrailers() bool {
	if _, ok := r.header["Trailer"]; ok {
		return true
	}
	for k := range r.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

// complete reports whether the recorder holds the whole body the handler
// meant to send: nothing overflowed, no client write failed, the declared
// Content-Length (if any) was met, no trailers or hijack.
func (r *recorder) complete() bool {
	return !r.clientErr && !r.hasTrailers() && r.bodyComplete()
}

// bodyComplete reports whether the recorder holds the whole body the
// handler wrote, whether or not the client received it.
func (r *recorder) bodyComplete() bool {
	if r.overflow || r.hijacked || !r.buffering {
		return false
	}
	if cl := r.header.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n != r.written {
			return false
		}
	}
	return true
}

// emit sends the status and header fields to the client, with the
// Cache-Status member if one is pending.
func (r *recorder) emit(fits bool) {
	if r.announce != nil {
		r.announce(fits)
		r.announce = nil
	}
	copyHeader(r.w.Header(), r.header)
	r.w.WriteHeader(r.status)
}

// release ends holding: it sends the header and the body held so far.
func (r *recorder) release(fits bool) {
	r.held = false
	r.emit(fits)
	if len(r.body) > 0 {
		if _, err := r.w.Write(r.body); err != nil {
			r.clientErr = true
		}
	}
}

// copyHeader sets every field of src in dst, replacing same-named fields
// and leaving the others (set by outer middleware) alone.
func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}
