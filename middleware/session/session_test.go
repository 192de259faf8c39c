package session_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/middleware/session"
)

// Two instances of a service, each with its own client and Manager, share
// one visitor's session.
func TestManager_Handler_sharedByInstances(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		prefix := redistest.Prefix(t)
		a, _ := newManager(t, tp.Client(t), &session.Options{Prefix: prefix})
		b, _ := newManager(t, tp.Client(t), &session.Options{Prefix: prefix})
		ha, hb := a.Handler(app(t)), b.Handler(app(t))
		br := newBrowser(t, a)
		if w := br.do(ha, "GET", "/put?cart=3+books"); w.Code != 200 || br.cookie == nil {
			t.Fatalf("put: %d, cookie %v", w.Code, br.cookie)
		}
		if got := body(t, br.do(hb, "GET", "/get?k=cart")); got != "3 books" {
			t.Errorf("instance B read %q, want %q", got, "3 books")
		}
		if got := a.Stats().Created; got != 1 {
			t.Errorf("A created %d sessions, want 1", got)
		}
		if got := b.Stats().Loaded; got != 1 {
			t.Errorf("B loaded %d sessions, want 1", got)
		}
		// Another visitor sees nothing of it.
		if got := body(t, newBrowser(t, a).do(hb, "GET", "/get?k=cart")); got != "<none>" {
			t.Errorf("another visitor read %q", got)
		}
	})
}

// A request that stores nothing creates no session and sets no cookie.
func TestManager_Handler_lazyCreation(t *testing.T) {
	m, _ := newManager(t, redistest.Standalone.Client(t), nil)
	br := newBrowser(t, m)
	w := br.do(m.Handler(app(t)), "GET", "/get?k=x")
	if got := w.Header().Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("Set-Cookie %q on a request that stored nothing", got)
	}
	if got := w.Header().Get("Vary"); got != "Cookie" {
		t.Errorf("Vary = %q, want Cookie", got)
	}
	if st := m.Stats(); st.Created != 0 || st.Saved != 0 {
		t.Errorf("Stats = %+v, want nothing stored", st)
	}
}

// The cookie has secure defaults and keeps the response out of shared
// caches, whatever the handler said.
func TestManager_Handler_cookieAttributesAndCaching(t *testing.T) {
	m, _ := newManager(t, redistest.Standalone.Client(t), nil)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, s-maxage=60, max-age=10")
		if err := session.Put(session.From(r), "k", "v"); err != nil {
			t.Error(err)
		}
	}))
	br := newBrowser(t, m)
	w := br.do(h, "GET", "/")
	c := br.cookie
	if c == nil {
		t.Fatal("no cookie")
	}
	if c.Name != "__Host-session" || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Errorf("cookie %+v: want __Host-session, HttpOnly, Secure, SameSite=Lax, Path=/, no Domain", c)
	}
	if c.MaxAge < 86400-5 || c.MaxAge > 86400 {
		t.Errorf("Max-Age = %d, want the 24 h lifetime", c.MaxAge)
	}
	if got := w.Header().Get("Cache-Control"); got != "private, max-age=10" {
		t.Errorf("Cache-Control = %q, want %q", got, "private, max-age=10")
	}
	if len(c.Value) < 43 {
		t.Errorf("session ID %q shorter than 256 bits in base64", c.Value)
	}
	// Insecure for local http: a plain name, no Secure.
	m2, _ := newManager(t, redistest.Standalone.Client(t), &session.Options{Insecure: true})
	br2 := newBrowser(t, m2)
	br2.do(m2.Handler(app(t)), "GET", "/put?a=b")
	if br2.cookie == nil || br2.cookie.Name != "session" || br2.cookie.Secure {
		t.Errorf("Insecure cookie %+v, want name session without Secure", br2.cookie)
	}
}

// Redis holds only the SHA-256 of a session ID: neither a key nor a value
// contains the ID itself.
func TestManager_Handler_storesOnlyHashOfID(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	prefix := redistest.Prefix(t)
	m, _ := newManager(t, rdb, &session.Options{Prefix: prefix})
	br := newBrowser(t, m)
	br.do(m.Handler(app(t)), "GET", "/put?a=b")
	id := br.cookie.Value
	h := sha256.Sum256([]byte(id))
	want := keys.Base(prefix, "s:"+base64.RawURLEncoding.EncodeToString(h[:]))
	ctx := t.Context()
	if n, err := rdb.Exists(ctx, want).Result(); err != nil || n != 1 {
		t.Fatalf("session key %s: exists %d, %v", want, n, err)
	}
	found, err := rdb.Keys(ctx, "*"+prefix+"*").Result() // a private test server
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range found {
		if strings.Contains(k, id) {
			t.Errorf("key %q contains the session ID", k)
		}
		vals, _ := rdb.HGetAll(ctx, k).Result()
		for f, v := range vals {
			if strings.Contains(f, id) || strings.Contains(v, id) {
				t.Errorf("%s field %q contains the session ID", k, f)
			}
		}
	}
}

// RenewToken moves the data to a new ID; the old ID finds nothing, and a
// visitor presenting it is not given it back (fixation).
func TestSession_RenewToken_oldIDUnusable(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		m, _ := newManager(t, tp.Client(t), nil)
		h := m.Handler(app(t))
		victim := newBrowser(t, m)
		victim.do(h, "GET", "/put?cart=1")
		// The attacker knows the cookie from before the login.
		attacker := &browser{t: t, name: m.CookieName(), cookie: victim.cookie}
		old := victim.cookie.Value
		if got := body(t, victim.do(h, "GET", "/login?u=ada")); got != "welcome" {
			t.Fatalf("login: %q", got)
		}
		if victim.cookie == nil || victim.cookie.Value == old {
			t.Fatalf("login kept the session ID")
		}
		if got := body(t, victim.do(h, "GET", "/get?k=cart")); got != "1" {
			t.Errorf("after renew the session has cart=%q, want 1", got)
		}
		if got := body(t, victim.do(h, "GET", "/whoami")); got != "user=ada" {
			t.Errorf("whoami = %q", got)
		}
		if got := body(t, attacker.do(h, "GET", "/whoami")); got != "user=" {
			t.Errorf("old ID after renew: %q, want no user", got)
		}
		if attacker.cookie != nil {
			t.Errorf("old cookie not expired: %+v", attacker.cookie)
		}
		// Putting something with the old cookie creates a new session
		// under a new ID, never under the one presented.
		attacker.cookie = &http.Cookie{Name: m.CookieName(), Value: old}
		attacker.do(h, "GET", "/put?x=1")
		if attacker.cookie == nil || attacker.cookie.Value == old {
			t.Errorf("a presented unknown ID was adopted")
		}
		if st := m.Stats(); st.Renewed != 1 || st.Unknown < 1 {
			t.Errorf("Stats = %+v, want Renewed 1 and Unknown >= 1", st)
		}
	})
}

// RevokeUser ends every session of one user, on every instance, and only
// those; a login afterwards works.
func TestManager_RevokeUser_logsOutEverywhere(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		prefix := redistest.Prefix(t)
		a, _ := newManager(t, tp.Client(t), &session.Options{Prefix: prefix})
		b, _ := newManager(t, tp.Client(t), &session.Options{Prefix: prefix})
		ha, hb := a.Handler(app(t)), b.Handler(app(t))
		laptop, phone, bob := newBrowser(t, a), newBrowser(t, a), newBrowser(t, a)
		laptop.do(ha, "GET", "/login?u=ada")
		phone.do(hb, "GET", "/login?u=ada")
		bob.do(ha, "GET", "/login?u=bob")
		if err := b.RevokeUser(t.Context(), "ada"); err != nil {
			t.Fatal(err)
		}
		for name, br := range map[string]*browser{"laptop": laptop, "phone": phone} {
			if got := body(t, br.do(ha, "GET", "/whoami")); got != "user=" {
				t.Errorf("%s after revoke: %q, want no user", name, got)
			}
		}
		if got := body(t, bob.do(hb, "GET", "/whoami")); got != "user=bob" {
			t.Errorf("bob after ada's revoke: %q", got)
		}
		laptop.do(ha, "GET", "/login?u=ada")
		if got := body(t, laptop.do(hb, "GET", "/whoami")); got != "user=ada" {
			t.Errorf("login after revoke: %q", got)
		}
		if got := a.Stats().Revoked + b.Stats().Revoked; got != 2 {
			t.Errorf("Revoked = %d, want 2", got)
		}
		if err := a.RevokeUser(t.Context(), ""); err == nil {
			t.Error("RevokeUser(\"\") = nil, want an error")
		}
	})
}

// Two requests of one session running at once, changing different keys:
// both changes survive. A session destroyed meanwhile is not brought back
// by a late save.
func TestSession_concurrentRequests(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		m, log := newManager(t, tp.Client(t), nil)
		var loaded sync.WaitGroup
		loaded.Add(2)
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := session.From(r)
			switch r.URL.Path {
			case "/seed":
				_ = session.Put(s, "seed", 1)
				return
			case "/logout":
				_ = s.Destroy()
				return
			}
			loaded.Done()
			loaded.Wait() // both requests have read the session
			if err := session.Put(s, r.URL.Path[1:], r.URL.Path); err != nil {
				t.Error(err)
			}
		}))
		br := newBrowser(t, m)
		br.do(h, "GET", "/seed")
		var wg sync.WaitGroup
		for _, p := range []string{"/a", "/b"} {
			wg.Go(func() {
				r := (&browser{t: t, name: br.name, cookie: br.cookie})
				r.do(h, "GET", p)
			})
		}
		wg.Wait()
		verify := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strings.Join(session.From(r).Keys(), ","))
		}))
		if got := body(t, br.do(verify, "GET", "/")); got != "a,b,seed" {
			t.Errorf("keys after concurrent writes = %q, want a,b,seed", got)
		}

		// Destroy while another request of the session is running.
		inside, release := make(chan struct{}), make(chan struct{})
		slow := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(inside)
			<-release
			_ = session.Put(session.From(r), "late", 1)
		}))
		done := make(chan struct{})
		go func() {
			defer close(done)
			(&browser{t: t, name: br.name, cookie: br.cookie}).do(slow, "GET", "/")
		}()
		<-inside
		br.do(h, "GET", "/logout")
		close(release)
		<-done
		if got := body(t, (&browser{t: t, name: br.name, cookie: br.cookie}).do(verify, "GET", "/")); got != "" {
			t.Errorf("destroyed session came back with keys %q", got)
		}
		if st := m.Stats(); st.Refused != 1 || st.Destroyed != 1 {
			t.Errorf("Stats = %+v, want Refused 1, Destroyed 1", st)
		}
		if errs := log.all(); len(errs) != 1 || !errors.Is(errs[0], session.ErrGone) {
			t.Errorf("OnError got %v, want one ErrGone", errs)
		}
	})
}

// Destroy deletes the session and expires the cookie.
func TestSession_Destroy(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	prefix := redistest.Prefix(t)
	m, _ := newManager(t, rdb, &session.Options{Prefix: prefix})
	h := m.Handler(app(t))
	br := newBrowser(t, m)
	br.do(h, "GET", "/put?a=1")
	id := br.cookie.Value
	w := br.do(h, "GET", "/logout")
	if br.cookie != nil {
		t.Errorf("cookie after logout: %+v", br.cookie)
	}
	if cc := w.Header().Get("Cache-Control"); !strings.Contains(cc, "private") {
		t.Errorf("logout response Cache-Control %q, want private", cc)
	}
	hs := sha256.Sum256([]byte(id))
	if n, _ := rdb.Exists(context.Background(), keys.Base(prefix, "s:"+base64.RawURLEncoding.EncodeToString(hs[:]))).Result(); n != 0 {
		t.Error("session key still in Redis after Destroy")
	}
}

// Outside Handler there is no session; its methods say so instead of
// panicking.
func TestFrom_outsideHandler(t *testing.T) {
	r, _ := http.NewRequest("GET", "/", nil)
	s := session.From(r)
	if s != nil {
		t.Fatalf("From = %v, want nil", s)
	}
	if err := session.Put(s, "k", 1); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("Put on nil session = %v, want ErrNoSession", err)
	}
	if _, ok, err := session.Get[int](s, "k"); ok || err != nil {
		t.Errorf("Get on nil session = %v, %v", ok, err)
	}
	if err := s.RenewToken(); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("RenewToken on nil = %v", err)
	}
}

// After the header is written the cookie cannot change: RenewToken and
// Destroy say so, and changes to an existing session are still saved.
func TestSession_afterHeaderWritten(t *testing.T) {
	m, log := newManager(t, redistest.Standalone.Client(t), nil)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		io.WriteString(w, "streaming")
		if err := s.RenewToken(); !errors.Is(err, session.ErrHeadersWritten) {
			t.Errorf("RenewToken after Write = %v, want ErrHeadersWritten", err)
		}
		if err := s.Destroy(); !errors.Is(err, session.ErrHeadersWritten) {
			t.Errorf("Destroy after Write = %v, want ErrHeadersWritten", err)
		}
		_ = session.Put(s, "late", r.URL.Query().Get("v"))
	}))
	br := newBrowser(t, m)
	br.do(m.Handler(app(t)), "GET", "/put?a=1")
	br.do(h, "GET", "/?v=kept")
	if got := body(t, br.do(m.Handler(app(t)), "GET", "/get?k=late")); got != "kept" {
		t.Errorf("late = %q, want kept (saved after the header)", got)
	}
	// A new visitor's late put cannot be saved: no cookie can carry it.
	nb := newBrowser(t, m)
	nb.do(h, "GET", "/?v=lost")
	if nb.cookie != nil {
		t.Errorf("cookie set after the header was written")
	}
	if errs := log.all(); len(errs) != 1 || !errors.Is(errs[0], session.ErrHeadersWritten) {
		t.Errorf("OnError got %v, want one ErrHeadersWritten", errs)
	}
}
