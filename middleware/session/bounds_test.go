package session_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/middleware/session"
)

// sessionKey is the Redis key of the session behind cookie value id.
func sessionKey(prefix, id string) string {
	h := sha256.Sum256([]byte(id))
	return keys.Base(prefix, "s:"+base64.RawURLEncoding.EncodeToString(h[:]))
}

// Cookies that are not IDs this package made never reach Redis and are
// expired; a well-formed unknown one is counted apart.
func TestManager_Handler_forgedCookies(t *testing.T) {
	m, _ := newManager(t, redistest.Standalone.Client(t), nil)
	h := m.Handler(app(t))
	valid := strings.Repeat("A", 43)
	tests := []struct {
		name, value string
		invalid     bool
	}{
		{"empty", "", true},
		{"short", "abc", true},
		{"long", strings.Repeat("A", 44), true},
		{"huge", strings.Repeat("A", 4000), true},
		{"bad alphabet", strings.Repeat("A", 42) + "+", true},
		{"padding", strings.Repeat("A", 42) + "=", true},
		{"non-canonical last char", strings.Repeat("A", 42) + "B", true},
		{"key syntax", "}{x|" + strings.Repeat("A", 39), true},
		{"well-formed unknown", valid, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := m.Stats()
			br := newBrowser(t, m)
			br.cookie = &http.Cookie{Name: m.CookieName(), Value: tt.value}
			w := br.do(h, "GET", "/get?k=a")
			if w.Code != 200 || body(t, w) != "<none>" {
				t.Errorf("got %d %q, want 200 <none>", w.Code, body(t, w))
			}
			after := m.Stats()
			if tt.value != "" && br.cookie != nil {
				t.Errorf("cookie %q not expired", tt.value)
			}
			gotInvalid := after.Invalid - before.Invalid
			gotUnknown := after.Unknown - before.Unknown
			if tt.value == "" {
				return // net/http drops an empty cookie value: no cookie
			}
			if tt.invalid && (gotInvalid != 1 || gotUnknown != 0) || !tt.invalid && (gotUnknown != 1 || gotInvalid != 0) {
				t.Errorf("Invalid +%d, Unknown +%d; want invalid=%v", gotInvalid, gotUnknown, tt.invalid)
			}
		})
	}
}

// MaxBytes bounds a session; a put past it changes nothing.
func TestSession_Put_tooLarge(t *testing.T) {
	m, _ := newManager(t, redistest.Standalone.Client(t), &session.Options{MaxBytes: 100})
	h := m.Handler(app(t))
	br := newBrowser(t, m)
	br.do(h, "GET", "/put?a=small")
	if w := br.do(h, "GET", "/put?b="+strings.Repeat("x", 200)); w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(body(t, w), "session: too large") {
		t.Errorf("oversized put: %d %q", w.Code, body(t, w))
	}
	if got := body(t, br.do(h, "GET", "/get?k=b")); got != "<none>" {
		t.Errorf("oversized value stored: %q", got)
	}
	if got := body(t, br.do(h, "GET", "/get?k=a")); got != "small" {
		t.Errorf("a = %q after a refused put, want small", got)
	}
	// Replacing a value counts the new size, not both.
	if w := br.do(h, "GET", "/put?a="+strings.Repeat("y", 80)); w.Code != 200 {
		t.Errorf("replacing within the bound: %d %q", w.Code, body(t, w))
	}
	if got := m.Stats().TooLarge; got != 1 {
		t.Errorf("TooLarge = %d, want 1", got)
	}
}

// A stored session that cannot be read is discarded and reported; a value
// its codec cannot decode is ErrCorrupt from Get.
func TestManager_Handler_corruptStored(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	prefix := redistest.Prefix(t)
	m, log := newManager(t, rdb, &session.Options{Prefix: prefix})
	h := m.Handler(app(t))
	ctx := t.Context()

	br := newBrowser(t, m)
	br.do(h, "GET", "/put?a=1")
	key := sessionKey(prefix, br.cookie.Value)
	if err := rdb.HSet(ctx, key, "da", "{not json").Err(); err != nil {
		t.Fatal(err)
	}
	if w := br.do(h, "GET", "/get?k=a"); w.Code != 500 || !strings.Contains(body(t, w), "session: corrupt") {
		t.Errorf("undecodable value: %d %q, want 500 with ErrCorrupt", w.Code, body(t, w))
	}
	if err := rdb.HSet(ctx, key, "mc", "yesterday").Err(); err != nil {
		t.Fatal(err)
	}
	if got := body(t, br.do(h, "GET", "/get?k=a")); got != "<none>" {
		t.Errorf("corrupt session served: %q", got)
	}
	if n, _ := rdb.Exists(ctx, key).Result(); n != 0 {
		t.Error("corrupt session not deleted")
	}
	if errs := log.all(); len(errs) != 1 || !errors.Is(errs[0], session.ErrCorrupt) {
		t.Errorf("OnError got %v, want one ErrCorrupt", errs)
	}
	if got := m.Stats().Corrupt; got != 1 {
		t.Errorf("Corrupt = %d, want 1", got)
	}
}

// Redis down: the request gets 503, the handler does not run on an empty
// session, and the stored session is intact when Redis is back.
func TestManager_Handler_redisDown(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Config{AOF: true})
	rdb := srv.Client(t)
	m, log := newManager(t, rdb, &session.Options{OpTimeout: 300 * time.Millisecond})
	calls := 0
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		_ = session.Put(session.From(r), "n", calls)
	}))
	br := newBrowser(t, m)
	br.do(h, "GET", "/")
	srv.Kill()
	w := br.do(h, "GET", "/")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("load with Redis down: %d (Retry-After %q), want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if calls != 1 {
		t.Errorf("handler ran %d times, want 1 (not with Redis down)", calls)
	}
	if errs := log.all(); len(errs) == 0 || !errors.Is(errs[0], session.ErrUnavailable) {
		t.Errorf("OnError got %v, want ErrUnavailable", errs)
	}
	// A new visitor needs no load, but its save fails: 503, not the
	// handler's response without a session.
	nb := newBrowser(t, m)
	if w := nb.do(h, "GET", "/"); w.Code != http.StatusServiceUnavailable || nb.cookie != nil {
		t.Errorf("save with Redis down: %d, cookie %v; want 503 and no cookie", w.Code, nb.cookie)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	v := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _, _ := session.Get[int](session.From(r), "n")
		io.WriteString(w, strings.Repeat("x", n))
	}))
	if got := body(t, br.do(v, "GET", "/")); got != "x" {
		t.Errorf("after restart n = %d, want 1 (the stored session)", len(got))
	}
}

// The save failing after the handler ran replaces its response by the error.
func TestManager_Handler_saveFailsBeforeHeader(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Config{})
	m, _ := newManager(t, srv.Client(t), &session.Options{OpTimeout: 300 * time.Millisecond})
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = session.Put(session.From(r), "k", "v")
		srv.Kill() // Redis dies while the handler runs
		w.Header().Set("X-Secret", "handler header")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "created")
	}))
	br := newBrowser(t, m)
	w := br.do(h, "GET", "/")
	if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "created") || w.Header().Get("X-Secret") != "" {
		t.Errorf("got %d %q %v, want only the 503", w.Code, w.Body.String(), w.Header())
	}
}

// Idle timeout and absolute lifetime are enforced by Redis on its clock.
func TestManager_Handler_idleAndLifetime(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		m, _ := newManager(t, rdb, &session.Options{IdleTimeout: time.Second, Lifetime: time.Hour})
		h := m.Handler(app(t))
		br := newBrowser(t, m)
		br.do(h, "GET", "/put?a=1")
		for range 3 { // requests inside the idle timeout keep it alive
			time.Sleep(500 * time.Millisecond)
			if got := body(t, br.do(h, "GET", "/get?k=a")); got != "1" {
				t.Fatalf("active session lost: %q", got)
			}
		}
		time.Sleep(1300 * time.Millisecond)
		if got := body(t, br.do(h, "GET", "/get?k=a")); got != "<none>" {
			t.Errorf("idle session still served: %q", got)
		}
	})
	t.Run("lifetime", func(t *testing.T) {
		t.Parallel()
		m, _ := newManager(t, rdb, &session.Options{IdleTimeout: time.Second, Lifetime: 1500 * time.Millisecond})
		h := m.Handler(app(t))
		br := newBrowser(t, m)
		br.do(h, "GET", "/put?a=1")
		if br.cookie.MaxAge != 1 {
			t.Errorf("cookie Max-Age = %d, want 1 (the lifetime)", br.cookie.MaxAge)
		}
		id := br.cookie.Value
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			time.Sleep(300 * time.Millisecond)
			br.cookie = &http.Cookie{Name: m.CookieName(), Value: id} // a client ignoring Max-Age
			if body(t, br.do(h, "GET", "/get?k=a")) == "<none>" {
				break
			}
		}
		if got := body(t, br.do(h, "GET", "/get?k=a")); got != "<none>" {
			t.Errorf("session outlived its lifetime: %q", got)
		}
	})
}

func TestNew_invalidOptions(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	tests := []struct {
		name string
		opt  session.Options
		want string
	}{
		{"prefix brace", session.Options{Prefix: "a{b"}, "Prefix"},
		{"idle too short", session.Options{IdleTimeout: time.Millisecond}, "IdleTimeout"},
		{"lifetime below idle", session.Options{IdleTimeout: time.Hour, Lifetime: time.Minute}, "Lifetime"},
		{"negative MaxBytes", session.Options{MaxBytes: -1}, "MaxBytes"},
		{"negative OpTimeout", session.Options{OpTimeout: -1}, "OpTimeout"},
		{"None without Secure", session.Options{SameSite: http.SameSiteNoneMode, Insecure: true}, "SameSite"},
		{"unknown SameSite", session.Options{SameSite: 9}, "SameSite"},
		{"relative path", session.Options{Path: "app"}, "Path"},
		{"bad cookie name", session.Options{CookieName: "a b"}, "CookieName"},
		{"__Host- with Domain", session.Options{CookieName: "__Host-s", Domain: "example.com"}, "CookieName"},
		{"__Secure- insecure", session.Options{CookieName: "__Secure-s", Insecure: true}, "CookieName"},
		{"domain injection", session.Options{Domain: "a.com; Secure"}, "Domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := session.New(rdb, &tt.opt)
			if !errors.Is(err, session.ErrInvalidOptions) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("New = %v, want ErrInvalidOptions naming %s on one line", err, tt.want)
			}
		})
	}
	var nilClient *redis.Client
	if _, err := session.New(nilClient, nil); !errors.Is(err, session.ErrInvalidOptions) {
		t.Errorf("New(typed nil) = %v, want ErrInvalidOptions", err)
	}
	opt := session.Options{}
	if _, err := session.New(rdb, &opt); err != nil || opt.Prefix != "" || opt.CookieName != "" || opt.Lifetime != 0 {
		t.Errorf("New changed the caller's options or failed: %v %+v", err, opt)
	}
}
