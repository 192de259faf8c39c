// Package session implements sessions shared by every instance of a
// service: net/http middleware that loads a visitor's session from Redis
// before the handler runs and saves what the handler changed.
//
//	sessions, err := session.New(rdb, nil) // secure defaults
//	http.ListenAndServe(":8080", sessions.Handler(mux))
//
//	// in a handler:
//	s := session.From(r)
//	err := session.Put(s, "cart", cart)
//	cart, ok, err := session.Get[Cart](s, "cart")
//
// What it guarantees:
//
//   - Session IDs carry 256 bits from crypto/rand; Redis keeps only their
//     SHA-256, so a dump of Redis hands out no live session. A cookie that
//     is not an ID this package made never reaches Redis, and an unknown ID
//     is never adopted: a new session always gets a new ID.
//   - The cookie is HttpOnly, Secure and SameSite=Lax, named with the
//     __Host- prefix when its attributes allow it. Every response varies
//     on Cookie, and one that sets the cookie is private to shared caches.
//   - Idle timeout and absolute lifetime are enforced by Redis and the
//     server's clock, not by the cookie.
//   - [Session.RenewToken] (and [Session.SetUser], which calls it) moves
//     the data to a new ID and deletes the old one, against fixation.
//     [Manager.RevokeUser] ends every session of a user on every instance
//     with one key per user, so it works on a Cluster.
//   - Only changed keys are saved: two concurrent requests of one session
//     that change different keys both keep their changes. For one key,
//     the last save wins. A save never brings back a session that ended
//     meanwhile.
//   - When Redis fails, the request gets 503 (or [Options.ErrorHandler]'s
//     answer); it never runs with an empty session that would then
//     overwrite the stored one.
package session
