package session

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/aside-go/aside/internal/keys"
)

// ErrInvalidOptions is returned by [New] for options it cannot use. The
// message names the field and the value.
var ErrInvalidOptions = errors.New("session: invalid options")

// Options configure a [Manager]. The zero value gives secure defaults:
// a "__Host-session" cookie (HttpOnly, Secure, SameSite=Lax, Path=/), a 2
// hour idle timeout, a 24 hour absolute lifetime and sessions of at most
// 64 KiB.
type Options struct {
	// Prefix starts every Redis key. If empty, "aside:session".
	Prefix string

	// IdleTimeout ends a session that saw no request for this long. If
	// zero, 2 hours. It must not exceed Lifetime.
	IdleTimeout time.Duration

	// Lifetime ends a session this long after it was created, however
	// active it is; [Session.RenewToken] keeps the creation time. If zero,
	// 24 hours.
	Lifetime time.Duration

	// CookieName names the cookie holding the session ID. If empty,
	// "__Host-session", or "session" when Insecure is set or Domain or a
	// Path other than "/" is (the __Host- prefix requires Secure, no
	// Domain and Path=/).
	CookieName string

	// Domain is the cookie's Domain attribute. If empty, none: the cookie
	// goes back only to the host that set it.
	Domain string

	// Path is the cookie's Path attribute. If empty, "/".
	Path string

	// Insecure leaves out the Secure attribute, so that the cookie also
	// travels over plain http: for local development only.
	Insecure bool

	// SameSite is the cookie's SameSite attribute. If zero, Lax;
	// http.SameSiteDefaultMode sends no attribute.
	SameSite http.SameSite

	// BrowserSession sends the cookie without Max-Age, so that browsers
	// drop it when they close. If false, the cookie's Max-Age is the
	// session's remaining Lifetime.
	BrowserSession bool

	// MaxBytes bounds a session's size: the sum of its keys' and values'
	// lengths. A [Put] past it returns [ErrTooLarge] and changes nothing.
	// If zero, 64 KiB.
	MaxBytes int

	// OpTimeout bounds each Redis operation when the request's context
	// has no earlier deadline. If zero, 1 second.
	OpTimeout time.Duration

	// OnError receives what cannot be returned to a handler: a load or
	// save that failed (the request then got 503), a corrupt session that
	// was discarded, a save refused because the session ended meanwhile.
	// If nil, such errors are only counted. It must be safe for concurrent
	// use.
	OnError func(error)

	// ErrorHandler writes the response to a request whose session could
	// not be loaded or saved because Redis failed. If nil, 503 Service
	// Unavailable with Retry-After: 1; the handler's own response is not
	// sent and the stored session is left as it was.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// MeterProvider receives the OpenTelemetry counters
	// (aside.middleware.session.*, the same counts as [Manager.Stats]). If
	// nil, the global provider (otel.GetMeterProvider).
	MeterProvider metric.MeterProvider
}

const (
	defaultPrefix      = "aside:session"
	defaultIdleTimeout = 2 * time.Hour
	defaultLifetime    = 24 * time.Hour
	defaultMaxBytes    = 64 << 10
	defaultOpTimeout   = time.Second
	maxUserLen         = 512
)

// withDefaults validates o and returns a copy with the defaults filled in.
func (o *Options) withDefaults() (Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Prefix == "" {
		c.Prefix = defaultPrefix
	}
	if err := keys.CheckPrefix(c.Prefix); err != nil {
		return c, fmt.Errorf("%w: Prefix %q: may not contain '{', '}' or '|'", ErrInvalidOptions, c.Prefix)
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = defaultIdleTimeout
	}
	if c.Lifetime == 0 {
		c.Lifetime = defaultLifetime
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if c.SameSite == 0 {
		c.SameSite = http.SameSiteLaxMode
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = defaultMaxBytes
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = defaultOpTimeout
	}
	switch {
	case c.IdleTimeout < time.Second:
		return c, fmt.Errorf("%w: IdleTimeout %v: want 0 (2h) or at least 1s", ErrInvalidOptions, c.IdleTimeout)
	case c.Lifetime < c.IdleTimeout:
		return c, fmt.Errorf("%w: Lifetime %v is shorter than IdleTimeout %v", ErrInvalidOptions, c.Lifetime, c.IdleTimeout)
	case c.MaxBytes < 0:
		return c, fmt.Errorf("%w: MaxBytes %d: want 0 (64 KiB) or more", ErrInvalidOptions, c.MaxBytes)
	case c.OpTimeout < 0:
		return c, fmt.Errorf("%w: OpTimeout %v: want 0 (1s) or more", ErrInvalidOptions, c.OpTimeout)
	case c.SameSite == http.SameSiteNoneMode && c.Insecure:
		return c, fmt.Errorf("%w: SameSite None needs Secure cookies, but Insecure is set", ErrInvalidOptions)
	case c.SameSite < http.SameSiteDefaultMode || c.SameSite > http.SameSiteNoneMode:
		return c, fmt.Errorf("%w: SameSite %d: unknown", ErrInvalidOptions, int(c.SameSite))
	case !strings.HasPrefix(c.Path, "/") || strings.ContainsAny(c.Path, ";\r\n"):
		return c, fmt.Errorf("%w: Path %q: want an absolute path without ';'", ErrInvalidOptions, c.Path)
	case strings.ContainsAny(c.Domain, "; \r\n"):
		return c, fmt.Errorf("%w: Domain %q", ErrInvalidOptions, c.Domain)
	}
	hostOK := !c.Insecure && c.Domain == "" && c.Path == "/"
	if c.CookieName == "" {
		c.CookieName = "session"
		if hostOK {
			c.CookieName = "__Host-session"
		}
	}
	if !validCookieName(c.CookieName) {
		return c, fmt.Errorf("%w: CookieName %q: not a cookie name", ErrInvalidOptions, c.CookieName)
	}
	if strings.HasPrefix(c.CookieName, "__Host-") && !hostOK {
		return c, fmt.Errorf("%w: CookieName %q: the __Host- prefix needs Secure, no Domain and Path \"/\"", ErrInvalidOptions, c.CookieName)
	}
	if strings.HasPrefix(c.CookieName, "__Secure-") && c.Insecure {
		return c, fmt.Errorf("%w: CookieName %q: the __Secure- prefix needs Secure, but Insecure is set", ErrInvalidOptions, c.CookieName)
	}
	return c, nil
}

// validCookieName reports whether name is an RFC 6265 token.
func validCookieName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}
