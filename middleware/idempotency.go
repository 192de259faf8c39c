package middleware

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aside-go/aside/internal/keys"
	leases "github.com/aside-go/aside/internal/lease"
	"github.com/aside-go/aside/internal/script"
	"github.com/aside-go/aside/internal/validate"
	"github.com/aside-go/aside/middleware/internal/httprule"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
)

// IdempotencyOptions configure an [Idempotency] middleware. The zero value
// is usable, but set Client in any service with more than one client.
type IdempotencyOptions struct {
	// Prefix starts every Redis key. If empty, "aside:idem".
	Prefix string

	// Methods are the methods the middleware guards. If nil, POST and PATCH.
	// Requests with other methods pass through untouched.
	Methods []string

	// Required answers a guarded request without an Idempotency-Key with
	// 400. If false, such requests pass through unguarded.
	Required bool

	// Client returns who sent the request (a user or API-key ID from your
	// authentication); keys are scoped per client, so one client cannot
	// replay another's response. If nil, the client is the request's
	// Authorization field, else the value of the cookie named
	// SessionCookie (each only as part of a hash). A guarded request
	// with an Idempotency-Key whose client is "" (nobody signed in) gets
	// 400 rather than a scope shared with strangers; return a constant to
	// share one scope among all clients, which is safe only when keys are
	// unguessable secrets.
	Client func(r *http.Request) string

	// SessionCookie names the cookie that identifies a client when
	// Client is nil and the request has no Authorization field. If empty,
	// cookies identify nobody.
	SessionCookie string

	// Route returns the operation the request addresses; keys are scoped per
	// route. If nil, the method and r.URL.Path.
	Route func(r *http.Request) string

	// Fingerprint returns what identifies the request's payload: a reuse of
	// a key with a different fingerprint gets 422. If nil, SHA-256 over the
	// method, path, query, Content-Type and body.
	Fingerprint func(r *http.Request, body []byte) []byte

	// TTL is how long a completed response is kept for replay. If zero,
	// 24 hours; below 1 second is an error.
	TTL time.Duration

	// LockTTL is the lease of a request in progress, renewed every LockTTL/3
	// while the handler runs; if the process dies, a retry may run after
	// LockTTL. If zero, 30 seconds; below 100 ms is an error (renewals
	// could not keep up).
	LockTTL time.Duration

	// MaxBodySize is the largest request body read to fingerprint it;
	// larger requests get 413. If zero, 1 MiB.
	MaxBodySize int64

	// MaxResponseSize is the largest response body kept for replay. A
	// larger one reaches the client whole, but a retry gets only its status
	// and header fields, with a problem+json body saying the body was not
	// kept; the handler does not run again. If zero, 1 MiB.
	MaxResponseSize int64

	// StoreServerErrors keeps 5xx responses for replay too. If false, a 5xx
	// releases the key so that a retry runs the handler again.
	StoreServerErrors bool

	// OpTimeout bounds each Redis operation. If zero, 1 second.
	OpTimeout time.Duration

	// FailOpen runs the handler unguarded when Redis fails. If false, the
	// request gets 503 with Retry-After, since running it might repeat a
	// side effect.
	FailOpen bool

	// MeterProvider receives the middleware's OpenTelemetry counters
	// (aside.middleware.idempotency.*, the same counts as
	// [Idempotency.Stats]). If nil, the global provider
	// (otel.GetMeterProvider).
	MeterProvider metric.MeterProvider

	// ProblemType is the "type" member of the problem details (RFC 9457)
	// in error replies, typically a link to your documentation. If empty,
	// "about:blank".
	ProblemType string
}

// Idempotency is a middleware that makes retries of unsafe requests safe
// following the IETF httpapi Idempotency-Key draft: the first request with
// a key runs and its response is stored, without its Set-Cookie fields; a
// retry by the same client (see [IdempotencyOptions.Client]) with the same
// key and payload gets the stored response (with "Idempotent-Replayed:
// true"); a
// retry while the first still runs gets 409; the same key with another
// payload gets 422; a missing key where required gets 400. Errors are
// application/problem+json. It is safe for concurrent use; make one with
// [NewIdempotency].
type Idempotency struct {
	rdb       redis.UniversalClient
	opt       IdempotencyOptions
	ctr       idemCounters
	metrics   metric.Registration
	closeOnce sync.Once
}

// NewIdempotency returns an Idempotency middleware keeping its state in
// rdb, which it never closes.
func NewIdempotency(rdb redis.UniversalClient, opt *IdempotencyOptions) (*Idempotency, error) {
	if validate.Nil(rdb) {
		return nil, fmt.Errorf("%w: nil Redis client", ErrInvalidOptions)
	}
	var o IdempotencyOptions
	if opt != nil {
		o = *opt
	}
	switch {
	case o.TTL < 0 || o.TTL > 0 && o.TTL < time.Second:
		return nil, fmt.Errorf("%w: TTL %v: want 0 (24 h) or at least 1s", ErrInvalidOptions, o.TTL)
	case o.LockTTL < 0 || o.LockTTL > 0 && o.LockTTL < minIdemLockTTL:
		return nil, fmt.Errorf("%w: LockTTL %v: want 0 (30 s) or at least %v", ErrInvalidOptions, o.LockTTL, minIdemLockTTL)
	case o.MaxBodySize < 0:
		return nil, fmt.Errorf("%w: MaxBodySize %d is negative", ErrInvalidOptions, o.MaxBodySize)
	case o.MaxResponseSize < 0:
		return nil, fmt.Errorf("%w: MaxResponseSize %d is negative", ErrInvalidOptions, o.MaxResponseSize)
	case o.OpTimeout < 0:
		return nil, fmt.Errorf("%w: OpTimeout %v is negative", ErrInvalidOptions, o.OpTimeout)
	}
	for _, meth := range o.Methods {
		if meth == "" || meth != strings.ToUpper(meth) {
			return nil, fmt.Errorf("%w: Methods has %q: methods are matched exactly, in upper case", ErrInvalidOptions, meth)
		}
	}
	if o.Prefix == "" {
		o.Prefix = "aside:idem"
	}
	if keys.CheckPrefix(o.Prefix) != nil {
		return nil, fmt.Errorf("%w: Prefix %q contains '{', '}' or '|'", ErrInvalidOptions, o.Prefix)
	}
	if o.Methods == nil {
		o.Methods = []string{http.MethodPost, http.MethodPatch}
	}
	o.Methods = slices.Clone(o.Methods)
	if o.TTL == 0 {
		o.TTL = 24 * time.Hour
	}
	if o.LockTTL == 0 {
		o.LockTTL = 30 * time.Second
	}
	if o.MaxBodySize == 0 {
		o.MaxBodySize = 1 << 20
	}
	if o.MaxResponseSize == 0 {
		o.MaxResponseSize = 1 << 20
	}
	if o.OpTimeout == 0 {
		o.OpTimeout = time.Second
	}
	if o.ProblemType == "" {
		o.ProblemType = "about:blank"
	}
	m := &Idempotency{rdb: rdb, opt: o}
	var err error
	if m.metrics, err = registerIdemMetrics(o.MeterProvider, o.Prefix, &m.ctr); err != nil {
		return nil, fmt.Errorf("middleware: metrics: %w", err)
	}
	return m, nil
}

// Close stops exporting the middleware's OpenTelemetry counters. It does
// not close the Redis client and is idempotent; the middleware still
// works after it.
func (m *Idempotency) Close() error {
	m.closeOnce.Do(func() { _ = m.metrics.Unregister() })
	return nil
}

// Handler returns next guarded by the middleware.
func (m *Idempotency) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.serve(w, r, next) })
}

// maxKeyLen bounds an Idempotency-Key value.
const maxKeyLen = 255

// minIdemLockTTL is the shortest IdempotencyOptions.LockTTL.
const minIdemLockTTL = 100 * time.Millisecond

func (m *Idempotency) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if !slices.Contains(m.opt.Methods, r.Method) {
		next.ServeHTTP(w, r)
		return
	}
	raw, present := r.Header["Idempotency-Key"]
	if !present {
		if m.opt.Required {
			m.ctr.refused.Add(1)
			m.problem(w, http.StatusBadRequest, "Idempotency-Key is missing",
				"This operation is idempotent and it requires correct usage of Idempotency Key.")
			return
		}
		m.ctr.unguarded.Add(1)
		next.ServeHTTP(w, r)
		return
	}
	key, ok := parseIdempotencyKey(raw)
	if !ok {
		m.ctr.refused.Add(1)
		m.problem(w, http.StatusBadRequest, "Idempotency-Key is malformed",
			fmt.Sprintf("The Idempotency-Key must be one non-empty string of at most %d characters.", maxKeyLen))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, m.opt.MaxBodySize+1))
	if err != nil {
		m.ctr.refused.Add(1)
		m.problem(w, http.StatusBadRequest, "Request body unreadable", err.Error())
		return
	}
	if int64(len(body)) > m.opt.MaxBodySize {
		m.ctr.refused.Add(1)
		m.problem(w, http.StatusRequestEntityTooLarge, "Request body too large",
			fmt.Sprintf("Requests with an Idempotency-Key may carry at most %d bytes.", m.opt.MaxBodySize))
		return
	}
	client := m.client(r)
	if client == "" {
		m.ctr.refused.Add(1)
		m.problem(w, http.StatusBadRequest, "Idempotency-Key needs an identified client",
			"Idempotency-Keys are kept per client; this request does not say who sent it (no credentials).")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	fp := m.fingerprint(r, body)
	rec := m.recordKey(r, client, key)
	recKeys := []string{rec, keys.Sub(rec, "lease")}
	token := leases.Token()

	ctx, cancel := context.WithTimeout(r.Context(), m.opt.OpTimeout)
	res, err := script.IdemBegin.Run(ctx, m.rdb, recKeys, fp, token, leases.Ms(m.opt.LockTTL)).StringSlice()
	cancel()
	if err != nil {
		if r.Context().Err() == nil {
			m.ctr.redisErrors.Add(1)
		}
		if m.opt.FailOpen {
			m.ctr.failedOpen.Add(1)
			next.ServeHTTP(w, r)
			return
		}
		m.ctr.unavailable.Add(1)
		w.Header().Set("Retry-After", "1")
		m.problem(w, http.StatusServiceUnavailable, "Idempotency state unavailable",
			"The request was not run because its Idempotency-Key could not be checked; retry it.")
		return
	}
	switch res[0] {
	case "mismatch":
		m.ctr.mismatch.Add(1)
		m.problem(w, http.StatusUnprocessableEntity, "Idempotency-Key is already used",
			"This operation is idempotent and it requires correct usage of Idempotency Key. Idempotency Key MUST not be reused across different payloads of this operation.")
	case "running":
		m.ctr.inProgress.Add(1)
		w.Header().Set("Retry-After", "1")
		m.problem(w, http.StatusConflict, "A request is outstanding for this Idempotency-Key",
			"A request with the same Idempotency-Key for the same operation is being processed or is outstanding.")
	case "done":
		e, err := decodeEntry([]byte(res[1]))
		if err != nil {
			m.problem(w, http.StatusInternalServerError, "Stored response unreadable", "")
			return
		}
		h := w.Header()
		for k, v := range e.header {
			h[k] = slices.Clone(v)
		}
		m.ctr.replayed.Add(1)
		h.Del("Set-Cookie") // never stored since; also not from older records
		h.Set("Idempotent-Replayed", "true")
		if bodyAllowed(e.status) {
			h.Set("Content-Length", strconv.Itoa(len(e.body)))
		}
		w.WriteHeader(e.status)
		_, _ = w.Write(e.body)
	default:
		m.ctr.ran.Add(1)
		m.run(w, r, next, recKeys, token)
	}
}

// run calls the handler as the first request of its key, renewing the
// lease meanwhile, then stores the response or releases the key.
func (m *Idempotency) run(w http.ResponseWriter, r *http.Request, next http.Handler, recKeys []string, token string) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(m.opt.LockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), m.opt.OpTimeout)
				_ = script.IdemRenew.Run(ctx, m.rdb, recKeys, token, leases.Ms(m.opt.LockTTL)).Err()
				cancel()
			}
		}
	})
	var respTime time.Time
	rw := newRecorder(w, m.opt.MaxResponseSize, func(int, http.Header) (mode, bool) {
		respTime = time.Now()
		return modePass, true
	})
	keep := false
	defer func() {
		close(stop)
		wg.Wait()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), m.opt.OpTimeout)
		defer cancel()
		if keep {
			h := rw.header.Clone()
			httprule.StripForStorage(h, false) // a replay never hands out the first response's cookies
			e := &entry{status: rw.status, header: h, body: rw.body, reqTime: respTime, respTime: respTime}
			if !rw.bodyComplete() {
				// The operation ran, so the key must not run it again, but
				// the body cannot be replayed: keep status and fields, and
				// say so in the body.
				h.Del("Content-Encoding")
				h.Set("Content-Type", "application/problem+json")
				e.body, _ = json.Marshal(problemDetails{Type: m.opt.ProblemType, Status: rw.status,
					Title:  "Response not kept for replay",
					Detail: "The request with this Idempotency-Key was completed, but its response body was too large or incomplete to be kept."})
			}
			if script.IdemComplete.Run(ctx, m.rdb, recKeys, token, e.encode(), leases.Ms(m.opt.TTL)).Err() == nil {
				return
			}
		}
		_ = script.IdemAbandon.Run(ctx, m.rdb, recKeys, token).Err()
	}()
	next.ServeHTTP(rw, r)
	rw.finish()
	// Once the handler returned, its side effects happened: the key is
	// completed even if the client is gone or the body could not be kept.
	keep = !rw.hijacked && (rw.status < 500 || m.opt.StoreServerErrors)
}

// parseIdempotencyKey reads the field as a structured-field string
// ("abc") or, leniently, a bare value.
func parseIdempotencyKey(lines []string) (string, bool) {
	if len(lines) != 1 {
		return "", false
	}
	v := strings.TrimSpace(lines[0])
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = httprule.Unquote(v[1 : len(v)-1])
	}
	if v == "" || len(v) > maxKeyLen {
		return "", false
	}
	return v, true
}

func (m *Idempotency) fingerprint(r *http.Request, body []byte) string {
	if m.opt.Fingerprint != nil {
		return hex.EncodeToString(m.opt.Fingerprint(r, body))
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n", r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// client returns who sent r, or "" when nobody can be told apart.
func (m *Idempotency) client(r *http.Request) string {
	if m.opt.Client != nil {
		return m.opt.Client(r)
	}
	if a := r.Header.Get("Authorization"); a != "" {
		return "authorization\x00" + a
	}
	if m.opt.SessionCookie != "" {
		if c, err := r.Cookie(m.opt.SessionCookie); err == nil && c.Value != "" {
			return "cookie\x00" + c.Value
		}
	}
	return ""
}

// recordKey is the Redis key of key, scoped by client and route. Only a
// hash of the three reaches Redis.
func (m *Idempotency) recordKey(r *http.Request, client, key string) string {
	route := r.Method + " " + r.URL.Path
	if m.opt.Route != nil {
		route = m.opt.Route(r)
	}
	h := sha256.New()
	for _, s := range []string{client, route, key} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	return keys.Base(m.opt.Prefix, hex.EncodeToString(h.Sum(nil)[:16]))
}

func (m *Idempotency) problem(w http.ResponseWriter, status int, title, detail string) {
	writeProblem(w, m.opt.ProblemType, status, title, detail)
}
