package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/aside-go/aside/internal/codec"
)

var (
	// ErrTooLarge is returned by a Put that would make the session larger
	// than [Options.MaxBytes]; the session is left as it was.
	ErrTooLarge = errors.New("session: too large")
	// ErrNoSession is returned by the methods of a nil *Session: the
	// request did not pass through [Manager.Handler].
	ErrNoSession = errors.New("session: no session in the request (not behind Manager.Handler)")
	// ErrHeadersWritten is returned by [Session.RenewToken],
	// [Session.SetUser] and [Session.Destroy] called after the response's
	// header was written: the cookie can no longer change.
	ErrHeadersWritten = errors.New("session: response header already written")
	// ErrUnavailable wraps a Redis failure that kept a session from being
	// loaded or saved.
	ErrUnavailable = errors.New("session: Redis unavailable")
	// ErrCorrupt is passed to [Options.OnError] for a stored session it
	// could not read (it is discarded) and returned by [Get] for a value
	// its codec cannot decode.
	ErrCorrupt = errors.New("session: corrupt")
	// ErrGone is passed to [Options.OnError] when a save was refused
	// because the session ended meanwhile (destroyed, renewed or revoked
	// by a concurrent request, or expired): its changes are dropped rather
	// than bringing it back.
	ErrGone = errors.New("session: ended before its changes were saved")
)

// Fields of the Redis hash behind a session. Values are under "d"+key, so
// no key a handler picks can overwrite the bookkeeping.
const (
	fieldCreated = "mc" // creation time, ms on the server's clock
	fieldUser    = "mu" // the user bound by SetUser
	fieldGen     = "mg" // the user's generation when bound
	dataPrefix   = "d"
)

// A Session is the state of one visitor across requests, kept in Redis.
// Get it with [From] inside [Manager.Handler]. Its methods are safe for
// concurrent use by the goroutines of one request; changes are saved when
// the response's header is written (or the handler returns) and again if
// more follow. Only changed keys are written, so concurrent requests of one
// session that change different keys both keep their changes; for the same
// key the last save wins.
//
// A nil *Session (a request outside [Manager.Handler]) has no values and
// its methods that change something return [ErrNoSession].
type Session struct {
	m *Manager

	mu        sync.Mutex        // guards every field below
	id        string            // the cookie's ID; "" until the session is stored
	created   int64             // ms, from Redis; 0 for a new session
	user, gen string            // bound user and its generation at binding
	values    map[string][]byte // current values by key
	changed   map[string]bool   // keys set (true) or deleted (false) since load
	size      int               // sum of len(key)+len(value) over values
	hadCookie bool              // the request presented a session cookie
	userDirty bool              // user/gen changed since load
	renew     bool              // give the session a new ID at the next save
	destroy   bool              // delete the session at the next save
	sent      bool              // the response header has been written
}

type ctxKey struct{}

// From returns the session of r, or nil if r did not pass through
// [Manager.Handler].
func From(r *http.Request) *Session { return FromContext(r.Context()) }

// FromContext returns the session carried by ctx, or nil.
func FromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(ctxKey{}).(*Session)
	return s
}

// Value returns the raw bytes stored under key. The slice must not be
// modified.
func (s *Session) Value(key string) ([]byte, bool) {
	if s == nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[key]
	return v, ok
}

// SetValue stores v under key. It returns [ErrTooLarge] if the session
// would exceed [Options.MaxBytes], and then changes nothing.
func (s *Session) SetValue(key string, v []byte) error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	size := s.size + len(key) + len(v)
	if old, ok := s.values[key]; ok {
		size -= len(key) + len(old)
	}
	if size > s.m.opt.MaxBytes {
		s.m.ctr.tooLarge.Add(1)
		return fmt.Errorf("%w: %d bytes with key %q, limit %d", ErrTooLarge, size, key, s.m.opt.MaxBytes)
	}
	if s.values == nil {
		s.values = make(map[string][]byte)
	}
	if s.changed == nil {
		s.changed = make(map[string]bool)
	}
	s.values[key] = slices.Clone(v)
	s.changed[key] = true
	s.size = size
	return nil
}

// Delete removes key. Deleting a key that is not there is not an error.
func (s *Session) Delete(key string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.values[key]
	if !ok {
		return
	}
	delete(s.values, key)
	s.size -= len(key) + len(old)
	if s.changed == nil {
		s.changed = make(map[string]bool)
	}
	s.changed[key] = false
}

// Keys returns the session's keys, sorted.
func (s *Session) Keys() []string {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ks := make([]string, 0, len(s.values))
	for k := range s.values {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// User returns the user bound by [Session.SetUser], or "".
func (s *Session) User() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user
}

// RenewToken gives the session a new ID when it is saved, keeping its data
// and creation time; the old ID stops working. Call it whenever the
// privilege level changes (login, logout, sudo mode) against session
// fixation. Call it before the response's header is written, else it
// returns [ErrHeadersWritten].
func (s *Session) RenewToken() error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sent {
		return ErrHeadersWritten
	}
	s.renew = true
	return nil
}

// SetUser binds the session to user (an ID from your user store, at most
// 512 bytes; "" unbinds it) and renews its token, as a login should.
// [Manager.RevokeUser] ends every session bound to user before the call.
// It reads the user's revocation generation from Redis, so it takes ctx.
func (s *Session) SetUser(ctx context.Context, user string) error {
	if s == nil {
		return ErrNoSession
	}
	if len(user) > maxUserLen {
		return fmt.Errorf("session: user ID of %d bytes, limit %d", len(user), maxUserLen)
	}
	gen := ""
	if user != "" {
		g, err := s.m.generation(ctx, user)
		if err != nil {
			return err
		}
		gen = g
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sent {
		return ErrHeadersWritten
	}
	s.user, s.gen, s.userDirty, s.renew = user, gen, true, true
	return nil
}

// Destroy ends the session: it is deleted from Redis and its cookie
// expired when the response's header is written. Values set afterwards in
// the same request start a new session. Call it before the header is
// written, else it returns [ErrHeadersWritten].
func (s *Session) Destroy() error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sent {
		return ErrHeadersWritten
	}
	s.destroy = true
	s.values, s.changed, s.size = nil, nil, 0
	s.user, s.gen, s.userDirty, s.renew = "", "", false, false
	return nil
}

// A Codec turns values into bytes and back, for [GetWith] and [PutWith].
// It is the same type as cache.Codec and pubsub.Codec.
type Codec[V any] = codec.Codec[V]

// Get decodes the JSON value under key into a T. ok is false if there is no
// such key; err wraps [ErrCorrupt] if the bytes do not decode.
func Get[T any](s *Session, key string) (v T, ok bool, err error) {
	return GetWith(s, codec.JSON[T](), key)
}

// Put stores v under key as JSON. See [Session.SetValue] for its errors.
func Put[T any](s *Session, key string, v T) error {
	return PutWith(s, codec.JSON[T](), key, v)
}

// GetWith is [Get] with another codec.
func GetWith[T any](s *Session, c Codec[T], key string) (v T, ok bool, err error) {
	b, ok := s.Value(key)
	if !ok {
		return v, false, nil
	}
	v, err = c.Decode(b)
	if err != nil {
		return v, true, fmt.Errorf("%w: value of %q: %v", ErrCorrupt, key, err)
	}
	return v, true, nil
}

// PutWith is [Put] with another codec.
func PutWith[T any](s *Session, c Codec[T], key string, v T) error {
	if s == nil {
		return ErrNoSession
	}
	b, err := c.Append(nil, v)
	if err != nil {
		return fmt.Errorf("session: encode %q: %w", key, err)
	}
	return s.SetValue(key, b)
}
