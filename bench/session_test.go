package bench

// Shared sessions, per request: load the visitor's session, read a value,
// change one, save. aside's middleware/session beside alexedwards/scs with
// its redisstore (redigo) and gorilla/sessions with rbcervilla/redisstore
// (go-redis), each set up as its README shows, and the floor: one GET and
// one SET of a session-sized value over the same go-redis client.
//
// The session holds a user ID, a 200-byte cart and a view counter; each
// request reads the cart and increments the counter, so every library
// loads and saves on every request. redis-cmds/op counts the commands each
// client sent (a go-redis hook; a counting redigo connection for scs): a
// script call is one command, a MULTI/EXEC block counts every command in it.

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	redigo "github.com/gomodule/redigo/redis"
	"github.com/gorilla/sessions"
	gorillaredis "github.com/rbcervilla/redisstore/v9"
	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/middleware/session"
)

var sessionCart = strings.Repeat("c", 200)

// countingConn counts the commands scs's redigo connections send.
type countingConn struct {
	redigo.Conn
	n *atomic.Int64
}

func (c countingConn) Do(cmd string, args ...any) (any, error) {
	if cmd != "" {
		c.n.Add(1)
	}
	return c.Conn.Do(cmd, args...)
}

func (c countingConn) Send(cmd string, args ...any) error {
	c.n.Add(1)
	return c.Conn.Send(cmd, args...)
}

// runSessionRequests logs a visitor in through login, then sends b.N
// requests with its cookie through h. cmds counts the commands its
// library's client sends.
func runSessionRequests(b *testing.B, cmds interface{ Load() int64 }, h http.Handler, cookieName string) {
	login := httptest.NewRequest(http.MethodPost, "http://bench.example/login", nil)
	lw := httptest.NewRecorder()
	h.ServeHTTP(lw, login)
	var cookie *http.Cookie
	for _, c := range lw.Result().Cookies() {
		if c.Name == cookieName {
			cookie = c
		}
	}
	if cookie == nil {
		b.Fatalf("login set no %s cookie (status %d)", cookieName, lw.Code)
	}
	base := httptest.NewRequest(http.MethodGet, "http://bench.example/page", nil)
	base.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	before := cmds.Load()
	for b.Loop() {
		clear(w.h)
		w.status, w.n = 0, 0
		// A new request each time, as a server makes: gorilla keeps its
		// registry in the request.
		r := new(http.Request)
		*r = *base
		h.ServeHTTP(w, r)
		if w.status != 0 && w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cmds.Load()-before)/float64(b.N), "redis-cmds/op")
	if w.n != 3 { // len(cart) = "200"
		b.Fatalf("last response had %d bytes, want 3", w.n)
	}
}

func asideSessionHandler(b *testing.B, rdb *redis.Client, bindUser bool) (http.Handler, string) {
	m, err := session.New(rdb, &session.Options{Prefix: prefix(b), Insecure: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if bindUser {
			if err := s.SetUser(r.Context(), "user-42"); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
		} else {
			_ = session.Put(s, "user", "user-42")
		}
		_ = session.Put(s, "cart", sessionCart)
		_ = session.Put(s, "views", 0)
	})
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		cart, _, _ := session.Get[string](s, "cart")
		n, _, _ := session.Get[int](s, "views")
		if err := session.Put(s, "views", n+1); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		io.WriteString(w, strconv.Itoa(len(cart)))
	})
	return m.Handler(mux), m.CookieName()
}

// BenchmarkSession_Aside: values only, no user bound (as the peers).
func BenchmarkSession_Aside(b *testing.B) {
	rdb, cc := countedClient(b)
	cmds := cc
	h, name := asideSessionHandler(b, rdb, false)
	runSessionRequests(b, cmds, h, name)
}

// BenchmarkSession_AsideUser: bound with SetUser, so each load also reads
// the user's revocation generation (what RevokeUser costs per request).
func BenchmarkSession_AsideUser(b *testing.B) {
	rdb, cc := countedClient(b)
	cmds := cc
	h, name := asideSessionHandler(b, rdb, true)
	runSessionRequests(b, cmds, h, name)
}

// BenchmarkSession_SCS: scs.New with redisstore.New(pool), the pool as in
// redisstore's README.
func BenchmarkSession_SCS(b *testing.B) {
	addr := client(b).Options().Addr
	var cmds atomic.Int64
	pool := &redigo.Pool{
		MaxIdle: 10,
		Dial: func() (redigo.Conn, error) {
			c, err := redigo.Dial("tcp", addr)
			return countingConn{c, &cmds}, err
		},
	}
	b.Cleanup(func() { _ = pool.Close() })
	sm := scs.New()
	sm.Store = redisstore.NewWithPrefix(pool, prefix(b)+":")
	sm.Lifetime = 24 * time.Hour
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := sm.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		sm.Put(r.Context(), "user", "user-42")
		sm.Put(r.Context(), "cart", sessionCart)
		sm.Put(r.Context(), "views", 0)
	})
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		cart := sm.GetString(r.Context(), "cart")
		sm.Put(r.Context(), "views", sm.GetInt(r.Context(), "views")+1)
		io.WriteString(w, strconv.Itoa(len(cart)))
	})
	runSessionRequests(b, &cmds, sm.LoadAndSave(mux), sm.Cookie.Name)
}

// BenchmarkSession_Gorilla: gorilla/sessions on rbcervilla/redisstore,
// set up as its README shows (NewRedisStore, KeyPrefix, Options).
func BenchmarkSession_Gorilla(b *testing.B) {
	rdb, cc := countedClient(b)
	cmds := cc
	store, err := gorillaredis.NewRedisStore(context.Background(), rdb)
	if err != nil {
		b.Fatal(err)
	}
	store.KeyPrefix(prefix(b) + ":")
	store.Options(sessions.Options{Path: "/", MaxAge: 86400, HttpOnly: true})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, err := store.Get(r, "session")
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		s.Values["user"] = "user-42"
		s.Values["cart"] = sessionCart
		s.Values["views"] = 0
		if err := s.Save(r, w); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		s, err := store.Get(r, "session")
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		cart, _ := s.Values["cart"].(string)
		n, _ := s.Values["views"].(int)
		s.Values["views"] = n + 1
		if err := s.Save(r, w); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		io.WriteString(w, strconv.Itoa(len(cart)))
	})
	runSessionRequests(b, cmds, mux, "session")
}

// BenchmarkSession_RedisGETSET is the floor: what any Redis session store
// must at least do per request, one GET and one SET of a session-sized
// value, with no HTTP handling at all.
func BenchmarkSession_RedisGETSET(b *testing.B) {
	rdb, cc := countedClient(b)
	cmds := cc
	ctx := context.Background()
	key := prefix(b) + ":s"
	val := "user-42|" + sessionCart + "|views=0"
	if err := rdb.Set(ctx, key, val, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	before := cmds.Load()
	for b.Loop() {
		v, err := rdb.Get(ctx, key).Result()
		if err != nil {
			b.Fatal(err)
		}
		if err := rdb.Set(ctx, key, v, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cmds.Load()-before)/float64(b.N), "redis-cmds/op")
}
