package session

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aside-go/aside/internal/script"
)

// save writes what changed in s to Redis. With header set (the response
// header is not written yet), it may also give the session a new ID,
// delete it, and set or expire the cookie in header. A nil error with
// nothing to do is the common case: a request that only read.
func (s *Session) save(ctx context.Context, header http.Header) error {
	m := s.m
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := m.opCtx(context.WithoutCancel(ctx))
	defer cancel()
	if header != nil {
		s.sent = true
	}
	oldID := s.id
	if s.destroy && oldID != "" {
		if err := m.rdb.Del(ctx, m.sessionKey(oldID)).Err(); err != nil {
			return m.redisErr("destroy", err)
		}
		m.ctr.destroyed.Add(1)
		s.id, s.created, s.renew = "", 0, false
		oldID = ""
	}
	s.destroy = false
	switch {
	case s.id == "" && (len(s.values) > 0 || s.user != ""):
		// A new session, or the one that follows a Destroy.
		if header == nil {
			return fmt.Errorf("session: values set after the response header was written were not saved: %w", ErrHeadersWritten)
		}
		return s.create(ctx, header, false)
	case s.id == "":
		if s.hadCookie && header != nil {
			// A cookie naming nothing (destroyed, expired, forged): expire it.
			s.hadCookie = false
			setCookie(header, m.cookie("", -1))
		}
		s.changed = nil
		return nil
	case s.renew && header != nil:
		if err := s.create(ctx, header, true); err != nil {
			return err
		}
		if err := m.rdb.Del(ctx, m.sessionKey(oldID)).Err(); err != nil {
			// The new session is stored and its cookie set; the old one
			// lingers until its idle timeout.
			m.report(m.redisErr("delete the renewed session's old ID", err))
		}
		m.ctr.renewed.Add(1)
		return nil
	case len(s.changed) == 0 && !s.userDirty:
		return nil
	}
	args := s.fieldArgs("upd", s.changed)
	ok, err := script.SessionSave.Run(ctx, m.rdb, []string{m.sessionKey(s.id)}, args...).Int()
	if err != nil {
		return m.redisErr("save", err)
	}
	s.changed, s.userDirty = nil, false
	if ok == 0 {
		m.ctr.refused.Add(1)
		m.report(ErrGone)
		return nil
	}
	m.ctr.saved.Add(1)
	return nil
}

// create stores all of s under a new ID and sets its cookie; renew keeps
// the creation time of the session it replaces.
func (s *Session) create(ctx context.Context, header http.Header, renew bool) error {
	m := s.m
	all := make(map[string]bool, len(s.values))
	for k := range s.values {
		all[k] = true
	}
	created := ""
	if renew {
		created = strconv.FormatInt(s.created, 10)
	}
	args := s.fieldArgs("new", all)
	args[3] = created
	id := newID()
	ok, err := script.SessionSave.Run(ctx, m.rdb, []string{m.sessionKey(id)}, args...).Int()
	if err != nil {
		return m.redisErr("create", err)
	}
	if ok == 0 {
		// A 256-bit collision, or a lifetime already over (renewing a
		// session in its last millisecond): either way no session.
		m.ctr.refused.Add(1)
		return fmt.Errorf("session: new session refused: %w", ErrGone)
	}
	maxAge := m.opt.Lifetime
	if renew {
		maxAge = time.Until(time.UnixMilli(s.created).Add(m.opt.Lifetime))
	} else {
		s.created = time.Now().UnixMilli()
		m.ctr.created.Add(1)
	}
	s.id, s.renew, s.changed, s.userDirty, s.hadCookie = id, false, nil, false, true
	setCookie(header, m.cookie(id, maxAge))
	return nil
}

// fieldArgs builds session_save's ARGV: the keys of set that are true are
// written with their current value, the others deleted; the user binding
// is written if it changed.
func (s *Session) fieldArgs(mode string, set map[string]bool) []any {
	m := s.m
	args := make([]any, 5, 5+2*len(set)+4)
	args[0], args[1], args[2], args[3] = mode, m.opt.IdleTimeout.Milliseconds(), m.opt.Lifetime.Milliseconds(), ""
	n := 0
	var del []any
	for k, isSet := range set {
		if isSet {
			args = append(args, dataPrefix+k, s.values[k])
			n++
		} else {
			del = append(del, dataPrefix+k)
		}
	}
	if s.userDirty || mode == "new" {
		if s.user != "" {
			args = append(args, fieldUser, s.user, fieldGen, s.gen)
			n += 2
		} else if mode == "upd" {
			del = append(del, fieldUser, fieldGen)
		}
	}
	args[4] = n
	return append(args, del...)
}

// cookie returns the session cookie carrying id, or an expiring one when
// maxAge is negative.
func (m *Manager) cookie(id string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name:     m.opt.CookieName,
		Value:    id,
		Path:     m.opt.Path,
		Domain:   m.opt.Domain,
		Secure:   !m.opt.Insecure,
		HttpOnly: true,
		SameSite: m.opt.SameSite,
	}
	switch {
	case maxAge < 0:
		c.MaxAge = -1
	case !m.opt.BrowserSession:
		c.MaxAge = max(1, int(maxAge/time.Second))
	}
	return c
}

// setCookie adds c to header and keeps the response out of shared caches:
// a stored response with a session cookie would hand the session to
// whoever gets it next.
func setCookie(header http.Header, c *http.Cookie) {
	header.Add("Set-Cookie", c.String())
	privateCacheControl(header)
}

// privateCacheControl makes header's Cache-Control say "private", dropping
// "public" and "s-maxage", so that no shared cache stores the response;
// private caches (the browser) keep whatever else it allows.
func privateCacheControl(header http.Header) {
	var out []string
	private := false
	for _, line := range header.Values("Cache-Control") {
		for d := range strings.SplitSeq(line, ",") {
			d = strings.TrimSpace(d)
			name, _, qualified := strings.Cut(d, "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "public", "s-maxage", "":
				continue
			case "private":
				// private="field" lets shared caches store the rest.
				private = private || !qualified
			case "no-store":
				private = true
			}
			out = append(out, d)
		}
	}
	if !private {
		out = append([]string{"private"}, out...)
	}
	header.Set("Cache-Control", strings.Join(out, ", "))
}
