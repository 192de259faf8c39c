package middleware

import (
	"encoding/binary"
	"errors"
	"net/http"
	"time"
	"unsafe"

	"github.com/aside-go/aside/middleware/internal/httprule"
)

// entry is one stored response: what the handler sent, when it was asked
// and when it answered (RFC 9111 section 4.2.3 needs both), and the Vary
// field names and request values it was selected by.
type entry struct {
	status   int
	header   http.Header
	body     []byte
	reqTime  time.Time // when the request that produced it started
	respTime time.Time // when its header section came back
	vary     string    // normalised Vary names
	varyVals string    // normalised request values for vary
}

// envelopeVersion is the first byte of every stored entry; a different byte
// is read as a miss, so a format change never serves garbage.
const envelopeVersion = 0xA1

var errCorrupt = errors.New("middleware: corrupt stored response")

// encode serialises e as: version, status (uint16), request and response
// times (int64 Unix nanoseconds), vary names, vary values, header count
// and each name with its values (uvarint-prefixed strings), then the body.
func (e *entry) encode() []byte {
	n := 1 + 2 + 16 + 2*binary.MaxVarintLen32 + len(e.vary) + len(e.varyVals) + binary.MaxVarintLen32 + len(e.body)
	for k, vs := range e.header {
		n += 2*binary.MaxVarintLen32 + len(k)
		for _, v := range vs {
			n += binary.MaxVarintLen32 + len(v)
		}
	}
	b := make([]byte, 0, n)
	b = append(b, envelopeVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(e.status))
	b = binary.BigEndian.AppendUint64(b, uint64(e.reqTime.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(e.respTime.UnixNano()))
	b = appendString(b, e.vary)
	b = appendString(b, e.varyVals)
	b = binary.AppendUvarint(b, uint64(len(e.header)))
	for k, vs := range e.header {
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	return append(b, e.body...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeEntry parses what encode wrote. The body and the header strings
// alias b, which must never be modified afterwards: it is the immutable
// string of a Redis reply (see stringBytes).
func decodeEntry(b []byte) (*entry, error) {
	if len(b) < 19 || b[0] != envelopeVersion {
		return nil, errCorrupt
	}
	e := &entry{status: int(binary.BigEndian.Uint16(b[1:]))}
	e.reqTime = time.Unix(0, int64(binary.BigEndian.Uint64(b[3:])))
	e.respTime = time.Unix(0, int64(binary.BigEndian.Uint64(b[11:])))
	r := reader{b: b[19:]}
	e.vary = r.str()
	e.varyVals = r.str()
	nh := r.uvarint()
	if r.err || nh > uint64(len(r.b)) {
		return nil, errCorrupt
	}
	e.header = make(http.Header, nh)
	for range nh {
		k := r.str()
		nv := r.uvarint()
		if r.err || nv > uint64(len(r.b)) {
			return nil, errCorrupt
		}
		vs := make([]string, nv)
		for j := range vs {
			vs[j] = r.str()
		}
		e.header[k] = vs
	}
	if r.err {
		return nil, errCorrupt
	}
	e.body = r.b
	return e, nil
}

type reader struct {
	b   []byte
	err bool
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err || n > uint64(len(r.b)) {
		r.err = true
		return ""
	}
	if n == 0 {
		return ""
	}
	s := unsafe.String(&r.b[0], int(n)) // b is immutable (decodeEntry)
	r.b = r.b[n:]
	return s
}

// age is the current age of e at now (RFC 9111 section 4.2.3).
func (e *entry) age(now time.Time) time.Duration {
	return httprule.Age(e.header, e.reqTime, e.respTime, now)
}

// policy computes e's freshness and reuse rules.
func (e *entry) policy(fr httprule.Freshness) httprule.Policy {
	_, p := fr.Of(e.status, e.header)
	return p
}
