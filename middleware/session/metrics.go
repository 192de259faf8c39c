package session

import (
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/aside-go/aside/internal/otelx"
)

// Stats are the counts of one [Manager] since [New]. The same counts are
// exported as OpenTelemetry counters (see README).
type Stats struct {
	Loaded      int64 // stored sessions found for a request's cookie
	Created     int64 // new sessions stored
	Saved       int64 // changes saved to an existing session
	Renewed     int64 // sessions given a new ID (RenewToken, SetUser)
	Destroyed   int64 // sessions deleted by Destroy
	Invalid     int64 // cookies that are not a session ID (malformed or forged)
	Unknown     int64 // well-formed cookies naming no live session (expired, destroyed, guessed)
	Revoked     int64 // sessions refused because RevokeUser ended them (then deleted)
	Corrupt     int64 // stored sessions that could not be read (then deleted)
	Refused     int64 // saves refused because the session had ended meanwhile
	TooLarge    int64 // puts refused by MaxBytes
	Revocations int64 // RevokeUser calls that succeeded
	RedisErrors int64 // Redis operations that failed or timed out
}

// counters are the live atomics behind Stats.
type counters struct {
	loaded, created, saved, renewed, destroyed, invalid, unknown, revoked,
	corrupt, refused, tooLarge, revocations, redisErrors atomic.Int64
}

// Stats returns the counts since [New]. It is safe for concurrent use.
func (m *Manager) Stats() Stats {
	k := &m.ctr
	return Stats{
		Loaded: k.loaded.Load(), Created: k.created.Load(), Saved: k.saved.Load(),
		Renewed: k.renewed.Load(), Destroyed: k.destroyed.Load(), Invalid: k.invalid.Load(),
		Unknown: k.unknown.Load(), Revoked: k.revoked.Load(), Corrupt: k.corrupt.Load(),
		Refused: k.refused.Load(), TooLarge: k.tooLarge.Load(), Revocations: k.revocations.Load(),
		RedisErrors: k.redisErrors.Load(),
	}
}

// registerMetrics exports the counters as OpenTelemetry observable
// counters read at collection time.
func registerMetrics(mp metric.MeterProvider, prefix string, k *counters) (metric.Registration, error) {
	m := otelx.Meter(mp, "github.com/aside-go/aside/middleware/session")
	const rej = "aside.middleware.session.rejected"
	return otelx.ObserveCounters(m, attribute.String("aside.middleware.prefix", prefix), []otelx.Counter{
		{Name: "aside.middleware.session.loaded", Desc: "Stored sessions found for a request's cookie.", V: &k.loaded},
		{Name: "aside.middleware.session.created", Desc: "New sessions stored.", V: &k.created},
		{Name: "aside.middleware.session.saved", Desc: "Changes saved to an existing session.", V: &k.saved},
		{Name: "aside.middleware.session.renewed", Desc: "Sessions given a new ID.", V: &k.renewed},
		{Name: "aside.middleware.session.destroyed", Desc: "Sessions deleted by Destroy.", V: &k.destroyed},
		{Name: rej, Desc: "Session cookies that led to no session. Attribute reason: invalid, unknown, revoked, corrupt.", Attr: attribute.String("reason", "invalid"), V: &k.invalid},
		{Name: rej, Attr: attribute.String("reason", "unknown"), V: &k.unknown},
		{Name: rej, Attr: attribute.String("reason", "revoked"), V: &k.revoked},
		{Name: rej, Attr: attribute.String("reason", "corrupt"), V: &k.corrupt},
		{Name: "aside.middleware.session.refused", Desc: "Saves refused because the session had ended meanwhile.", V: &k.refused},
		{Name: "aside.middleware.session.too_large", Desc: "Puts refused by MaxBytes.", V: &k.tooLarge},
		{Name: "aside.middleware.session.revocations", Desc: "RevokeUser calls that succeeded.", V: &k.revocations},
		{Name: "aside.middleware.session.redis_errors", Desc: "Redis operations that failed or timed out.", V: &k.redisErrors},
	})
}
