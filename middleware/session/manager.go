package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/script"
	"github.com/aside-go/aside/internal/validate"
)

// Manager loads and saves the sessions of the requests passing through
// [Manager.Handler]. It is safe for concurrent use; make one with [New]
// and share it between handlers.
type Manager struct {
	rdb       redis.UniversalClient
	opt       Options
	ctr       counters
	metrics   metric.Registration
	closeOnce sync.Once
}

// New returns a Manager keeping sessions in rdb, which it never closes.
func New(rdb redis.UniversalClient, opt *Options) (*Manager, error) {
	if validate.Nil(rdb) {
		return nil, fmt.Errorf("%w: nil Redis client", ErrInvalidOptions)
	}
	o, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Manager{rdb: rdb, opt: o}
	if m.metrics, err = registerMetrics(o.MeterProvider, o.Prefix, &m.ctr); err != nil {
		return nil, fmt.Errorf("session: metrics: %w", err)
	}
	return m, nil
}

// Close unregisters the Manager's metrics. It owns no goroutines; requests
// still running finish normally. It is idempotent and returns nil.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() { _ = m.metrics.Unregister() })
	return nil
}

// CookieName returns the name of the session cookie, for other middleware
// that identifies clients by it (middleware.IdempotencyOptions.SessionCookie).
func (m *Manager) CookieName() string { return m.opt.CookieName }

// Handler loads the request's session before next runs and saves it when
// the response's header is written (or when next returns without writing),
// and again if next changes it afterwards. Every response gets "Vary:
// Cookie"; a response that sets the cookie is made private to shared
// caches. If Redis fails to load or save, the client gets
// [Options.ErrorHandler]'s response (503 by default) and the stored
// session is left as it was: a request never goes on with an empty
// session that would then overwrite the real one.
func (m *Manager) Handler(next http.Handler) http.Handler {
	if validate.Nil(next) {
		panic("session: Handler(nil)")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Cookie")
		s, err := m.load(r)
		if err != nil {
			m.fail(w, r, err)
			return
		}
		sw := &writer{ResponseWriter: w, s: s, r: r}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, s)))
		sw.finish()
	})
}

// fail reports err and answers the request with the error response.
func (m *Manager) fail(w http.ResponseWriter, r *http.Request, err error) {
	m.report(err)
	if m.opt.ErrorHandler != nil {
		m.opt.ErrorHandler(w, r, err)
		return
	}
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "503 service unavailable: sessions are unavailable", http.StatusServiceUnavailable)
}

func (m *Manager) report(err error) {
	if m.opt.OnError != nil {
		m.opt.OnError(err)
	}
}

// opCtx bounds one Redis operation by OpTimeout unless ctx ends sooner.
func (m *Manager) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= m.opt.OpTimeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, m.opt.OpTimeout)
}

func (m *Manager) sessionKey(id string) string { return keys.Base(m.opt.Prefix, "s:"+storedID(id)) }
func (m *Manager) userKey(user string) string  { return keys.Base(m.opt.Prefix, "u:"+user) }

func (m *Manager) redisErr(op string, err error) error {
	m.ctr.redisErrors.Add(1)
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

// load returns the request's session: the stored one its cookie names, or
// a new empty one (stored only once something is put in it). Only a Redis
// failure is an error.
func (m *Manager) load(r *http.Request) (*Session, error) {
	s := &Session{m: m}
	c, err := r.Cookie(m.opt.CookieName)
	if err != nil {
		return s, nil // no cookie
	}
	s.hadCookie = true
	if !validID(c.Value) {
		m.ctr.invalid.Add(1)
		return s, nil
	}
	ctx, cancel := m.opCtx(r.Context())
	defer cancel()
	key := m.sessionKey(c.Value)
	res, err := script.SessionLoad.Run(ctx, m.rdb, []string{key},
		m.opt.IdleTimeout.Milliseconds(), m.opt.Lifetime.Milliseconds()).StringSlice()
	if err != nil {
		return nil, m.redisErr("load", err)
	}
	if len(res) == 0 {
		m.ctr.unknown.Add(1)
		return s, nil
	}
	if err := s.fill(res); err != nil {
		m.ctr.corrupt.Add(1)
		m.report(fmt.Errorf("%w: stored session discarded: %v", ErrCorrupt, err))
		m.discard(ctx, key)
		return &Session{m: m, hadCookie: true}, nil
	}
	if s.user != "" {
		cur, err := m.generation(ctx, s.user)
		if err != nil {
			return nil, err
		}
		if genLess(s.gen, cur) {
			m.ctr.revoked.Add(1)
			m.discard(ctx, key)
			return &Session{m: m, hadCookie: true}, nil
		}
	}
	s.id = c.Value
	m.ctr.loaded.Add(1)
	return s, nil
}

// fill reads the flat field/value list of a stored session into s.
func (s *Session) fill(res []string) error {
	if len(res)%2 != 0 {
		return errors.New("odd field list")
	}
	s.values = make(map[string][]byte, len(res)/2)
	gotGen := false
	for i := 0; i < len(res); i += 2 {
		f, v := res[i], res[i+1]
		switch {
		case f == fieldCreated:
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ms <= 0 {
				return fmt.Errorf("creation time %q", v)
			}
			s.created = ms
		case f == fieldUser:
			s.user = v
		case f == fieldGen:
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return fmt.Errorf("user generation %q", v)
			}
			s.gen, gotGen = v, true
		case len(f) > 0 && f[:1] == dataPrefix:
			k := f[1:]
			s.values[k] = []byte(v)
			s.size += len(k) + len(v)
		}
	}
	switch {
	case s.created == 0:
		return errors.New("no creation time")
	case s.user != "" && !gotGen:
		return errors.New("user without generation")
	}
	return nil
}

// discard deletes a session that must not be used again (corrupt or
// revoked); a failure only leaves it to expire.
func (m *Manager) discard(ctx context.Context, key string) {
	if err := m.rdb.Del(ctx, key).Err(); err != nil {
		m.ctr.redisErrors.Add(1)
	}
}

// generation returns user's revocation generation ("0" if never revoked).
func (m *Manager) generation(ctx context.Context, user string) (string, error) {
	ctx, cancel := m.opCtx(ctx)
	defer cancel()
	g, err := m.rdb.Get(ctx, m.userKey(user)).Result()
	if errors.Is(err, redis.Nil) {
		return "0", nil
	}
	if err != nil {
		return "", m.redisErr("read user generation", err)
	}
	return g, nil
}

// genLess reports whether generation a is older than b. Both are decimal
// integers without sign; an unreadable current generation revokes.
func genLess(a, b string) bool {
	x, err1 := strconv.ParseInt(a, 10, 64)
	y, err2 := strconv.ParseInt(b, 10, 64)
	return err1 != nil || err2 != nil || x < y
}

// RevokeUser ends every session bound to user by [Session.SetUser] before
// this call, on every instance ("log out everywhere"): their next request
// finds no session. Sessions bound afterwards are not affected. It touches
// one Redis key, so it works the same on a Cluster.
func (m *Manager) RevokeUser(ctx context.Context, user string) error {
	if user == "" || len(user) > maxUserLen {
		return fmt.Errorf("session: RevokeUser: user ID of %d bytes: want 1 to %d", len(user), maxUserLen)
	}
	ctx, cancel := m.opCtx(ctx)
	defer cancel()
	if err := script.SessionRevoke.Run(ctx, m.rdb, []string{m.userKey(user)}, m.opt.Lifetime.Milliseconds()).Err(); err != nil {
		return m.redisErr("revoke", err)
	}
	m.ctr.revocations.Add(1)
	return nil
}
