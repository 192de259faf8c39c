package session_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/middleware/session"
)

// The examples run against the Redis at $REDIS_ADDR; under go test that is
// a private server the test harness starts.

// Login, a page that reads the session, logout, and "log out everywhere".
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer rdb.Close() // after the manager

	// Insecure: this example speaks plain http; leave it false in production.
	sessions, err := session.New(rdb, &session.Options{Insecure: true})
	if err != nil {
		log.Fatal(err)
	}
	defer sessions.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user := "ada" // after checking the password
		s := session.From(r)
		if err := s.SetUser(r.Context(), user); err != nil { // new session ID: no fixation
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		if err := session.Put(s, "theme", "dark"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "welcome "+user)
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		theme, _, _ := session.Get[string](s, "theme")
		fmt.Fprintf(w, "user=%q theme=%q", s.User(), theme)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		_ = session.From(r).Destroy()
		io.WriteString(w, "bye")
	})
	h := sessions.Handler(mux) // in a server: http.ListenAndServe(":8080", sessions.Handler(mux))

	// A browser: it keeps the cookie it is given.
	var jar []*http.Cookie
	visit := func(method, path string) {
		r := httptest.NewRequest(method, path, nil)
		for _, c := range jar {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if cs := w.Result().Cookies(); len(cs) > 0 {
			jar = cs
		}
		fmt.Println(w.Body)
	}
	visit("GET", "/")
	visit("POST", "/login")
	visit("GET", "/")
	if err := sessions.RevokeUser(context.Background(), "ada"); err != nil { // on a password change
		log.Fatal(err)
	}
	visit("GET", "/")
	visit("POST", "/login")
	visit("POST", "/logout")
	visit("GET", "/")
	// Output:
	// user="" theme=""
	// welcome ada
	// user="ada" theme="dark"
	// user="" theme=""
	// welcome ada
	// bye
	// user="" theme=""
}
