package session_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/aside-go/aside/internal/otelx/otelxtest"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/middleware"
	"github.com/aside-go/aside/middleware/session"
)

// The response cache in front of the session middleware: a page a handler
// marked public but built from the session is never served to another
// visitor, and responses that set the cookie are never stored.
func TestManager_Handler_behindResponseCache(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		rdb := tp.Client(t)
		sessions, _ := newManager(t, rdb, nil)
		pages, err := middleware.NewCache(rdb, &middleware.CacheOptions{Prefix: redistest.Prefix(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pages.Close() })
		mux := http.NewServeMux()
		mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "public, max-age=60") // a careless handler
			if err := session.From(r).SetUser(r.Context(), r.URL.Query().Get("u")); err != nil {
				t.Error(err)
			}
			io.WriteString(w, "welcome "+r.URL.Query().Get("u"))
		})
		mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "public, max-age=60") // careless again
			io.WriteString(w, "me="+session.From(r).User())
		})
		h := pages.Handler(sessions.Handler(mux))

		ada, bob, anon := newBrowser(t, sessions), newBrowser(t, sessions), newBrowser(t, sessions)
		for _, tc := range []struct {
			br   *browser
			path string
			want string
		}{
			{ada, "/login?u=ada", "welcome ada"},
			{ada, "/me", "me=ada"},
			{ada, "/me", "me=ada"},
			{bob, "/login?u=ada", "welcome ada"}, // same URL, another visitor: the login runs
			{anon, "/me", "me="},
			{bob, "/me", "me=ada"}, // bob logged in as ada too
			{ada, "/me", "me=ada"},
		} {
			if got := body(t, tc.br.do(h, "GET", tc.path)); got != tc.want {
				t.Errorf("GET %s = %q, want %q", tc.path, got, tc.want)
			}
		}
		if bob.cookie == nil || ada.cookie == nil || bob.cookie.Value == ada.cookie.Value {
			t.Fatalf("bob and ada share a session cookie (a stored Set-Cookie was replayed)")
		}
		if anon.cookie != nil {
			t.Errorf("anonymous visitor got a cookie: %+v", anon.cookie)
		}
		if st := sessions.Stats(); st.Created != 2 {
			t.Errorf("sessions created = %d, want 2 (each login ran)", st.Created)
		}
	})
}

// The counters reach OpenTelemetry under aside.middleware.session.*.
func TestManager_metrics(t *testing.T) {
	reader, mp := otelxtest.NewProvider(t)
	m, _ := newManager(t, redistest.Standalone.Client(t), &session.Options{MeterProvider: mp})
	h := m.Handler(app(t))
	br := newBrowser(t, m)
	br.do(h, "GET", "/put?a=1")
	br.do(h, "GET", "/get?k=a")
	br.do(h, "GET", "/login?u=ada")
	br.cookie.Value = "forged"
	br.do(h, "GET", "/get?k=a")
	got := otelxtest.Sums(t, reader, "reason")
	want := map[string]int64{
		"aside.middleware.session.created":          1,
		"aside.middleware.session.loaded":           2,
		"aside.middleware.session.renewed":          1,
		"aside.middleware.session.rejected/invalid": 1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := otelxtest.Sums(t, reader, ""); len(got) != 0 {
		t.Errorf("after Close still exported: %v", got)
	}
}
