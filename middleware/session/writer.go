package session

import (
	"net/http"
)

// writer saves the session just before the response header goes out, while
// the cookie can still be set. It is used by one request's goroutine, as
// http.ResponseWriter is.
type writer struct {
	http.ResponseWriter
	s      *Session
	r      *http.Request
	wrote  bool // the header was written (or replaced by the error response)
	failed bool // the save failed: the error response was sent instead
}

// commit saves the session before the header is written; on failure it
// sends the error response in place of the handler's.
func (w *writer) commit() {
	if w.wrote {
		return
	}
	w.wrote = true
	if err := w.s.save(w.r.Context(), w.Header()); err != nil {
		w.failed = true
		// The handler's header fields are not sent with the error.
		h := w.ResponseWriter.Header()
		for k := range h {
			delete(h, k)
		}
		h.Set("Vary", "Cookie")
		w.s.m.fail(w.ResponseWriter, w.r, err)
	}
}

func (w *writer) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // informational: the final header is still to come
		return
	}
	w.commit()
	if !w.failed {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *writer) Write(b []byte) (int, error) {
	w.commit()
	if w.failed {
		return 0, ErrUnavailable
	}
	return w.ResponseWriter.Write(b)
}

// Flush saves the session if the header is not written yet, then flushes.
func (w *writer) Flush() {
	w.commit()
	if w.failed {
		return
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish runs after the handler: it saves a session whose handler wrote
// nothing, or the changes made after the header was written.
func (w *writer) finish() {
	if !w.wrote {
		w.commit() // net/http writes the header (with the cookie) after us
		return
	}
	if w.failed {
		return
	}
	if err := w.s.save(w.r.Context(), nil); err != nil {
		w.s.m.report(err) // too late to tell the client
	}
}
