package session_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/middleware/session"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// newManager returns a Manager over rdb with a unique prefix, closed at
// cleanup. Errors passed to OnError are collected in the returned errs.
func newManager(t testing.TB, rdb redis.UniversalClient, opt *session.Options) (*session.Manager, *errLog) {
	t.Helper()
	var o session.Options
	if opt != nil {
		o = *opt
	}
	if o.Prefix == "" {
		o.Prefix = redistest.Prefix(t)
	}
	log := &errLog{}
	if o.OnError == nil {
		o.OnError = log.add
	}
	m, err := session.New(rdb, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m, log
}

// errLog collects the errors passed to OnError.
type errLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errLog) add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *errLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// browser is one visitor: it keeps the session cookie it was given and
// sends it back, as a browser does.
type browser struct {
	t      testing.TB
	name   string // cookie name
	cookie *http.Cookie
}

func newBrowser(t testing.TB, m *session.Manager) *browser {
	return &browser{t: t, name: m.CookieName()}
}

// do sends a request to h and applies the response's Set-Cookie.
func (b *browser) do(h http.Handler, method, target string) *httptest.ResponseRecorder {
	b.t.Helper()
	r := httptest.NewRequest(method, target, nil)
	if b.cookie != nil {
		r.AddCookie(&http.Cookie{Name: b.cookie.Name, Value: b.cookie.Value})
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.Name != b.name {
			continue
		}
		if c.MaxAge < 0 {
			b.cookie = nil
		} else {
			b.cookie = c
		}
	}
	return w
}

// body returns the body of a response.
func body(t testing.TB, w *httptest.ResponseRecorder) string {
	t.Helper()
	b, err := io.ReadAll(w.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// app is a small application over sessions: /put?k=v stores v under k,
// /get?k= prints it, /login?u= binds a user, /logout destroys.
func app(t testing.TB) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		for k, v := range r.URL.Query() {
			if err := session.Put(session.From(r), k, v[0]); err != nil {
				http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
				return
			}
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		v, ok, err := session.Get[string](session.From(r), r.URL.Query().Get("k"))
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		case !ok:
			io.WriteString(w, "<none>")
		default:
			io.WriteString(w, v)
		}
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := session.From(r).SetUser(r.Context(), r.URL.Query().Get("u")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "welcome")
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "user="+session.From(r).User())
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := session.From(r).Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
		io.WriteString(w, "bye")
	})
	mux.HandleFunc("/renew", func(w http.ResponseWriter, r *http.Request) {
		if err := session.From(r).RenewToken(); err != nil {
			t.Errorf("RenewToken: %v", err)
		}
		io.WriteString(w, "renewed")
	})
	return mux
}
