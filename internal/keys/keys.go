// Package keys is the only code that knows the layout of aside's Redis
// keys.
//
// A user-visible key maps to a base "{prefix|key}" whose braces form a
// Redis Cluster hash tag. Every Redis key derived from that base, such as
// "{prefix|key}:lease", hashes to the same slot, so a Lua script or MULTI
// that touches them all works on one server and on a Cluster alike.
//
// The layout is unambiguous: a prefix never contains '|', '{' or '}'
// ([CheckPrefix]), so the first '|' ends it, and a key (which comes from
// strangers and may hold any byte) can never reach another prefix's keys:
// key "admin:42" under prefix "sess" is "{sess|admin:42}", key "42" under
// prefix "sess:admin" is "{sess:admin|42}". Derived keys add ":suffix"
// with suffixes that contain no '}', so they cannot meet either.
package keys

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"
)

// Sep ends the prefix inside a base key.
const Sep = '|'

// ErrPrefix is wrapped by the error [CheckPrefix] returns.
var ErrPrefix = errors.New("keys: invalid prefix")

// CheckPrefix returns an error if prefix cannot start keys: it must not
// contain '{', '}' (they would break the hash tag) or '|' (it ends the
// prefix).
func CheckPrefix(prefix string) error {
	if i := strings.IndexAny(prefix, "{}|"); i >= 0 {
		return fmt.Errorf("%w: %q contains %q", ErrPrefix, prefix, prefix[i])
	}
	return nil
}

// Base returns the hash-tagged base key "{prefix|key}". prefix must pass
// [CheckPrefix]; key may be anything.
//
// A user key that itself contains '}' still yields keys that share one slot:
// Redis hashes the text between the first '{' and the first '}' after it,
// and that text is the same for every key derived from one base.
func Base(prefix, key string) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(key) + 3)
	b.WriteByte('{')
	b.WriteString(prefix)
	b.WriteByte(Sep)
	b.WriteString(key)
	b.WriteByte('}')
	return b.String()
}

// Bases returns Base(prefix, k) for every k of ks, in order, built in one
// allocation: the keys are substrings of one string.
func Bases(prefix string, ks []string) []string {
	all := joinBases(prefix, ks)
	out := make([]string, len(ks))
	off := 0
	for i, k := range ks {
		l := len(prefix) + len(k) + 3
		out[i] = all[off : off+l]
		off += l
	}
	return out
}

// AppendBaseArgs appends Base(prefix, k) for every k of ks to args, as
// the arguments of a multi-key command (MGET). The arguments are ordinary
// string interface values that point at the strings of [Bases], without
// the heap copy of a string header that converting each one to any makes:
// 100 keys cost 2 allocations instead of 102.
func AppendBaseArgs(args []any, prefix string, ks []string) []any {
	bases := Bases(prefix, ks)
	for i := range bases {
		args = append(args, StringArg(&bases[i]))
	}
	return args
}

// stringType is the type word of an interface value holding a string.
var stringType = func() unsafe.Pointer {
	var a any = ""
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&a))[0]
}()

// StringArg returns any(*p) without the copy of the string header that
// the conversion allocates: the interface value points at *p, so *p must
// never be written again (as a command argument, it is read while the
// command lives, by go-redis and by client hooks). It relies on the
// runtime's layout of an interface value (a type word, then a pointer to
// the value), which TestAppendBaseArgs_RealStrings checks through
// go-redis, fmt and reflect.
func StringArg(p *string) any {
	var a any
	e := (*[2]unsafe.Pointer)(unsafe.Pointer(&a))
	e[0], e[1] = stringType, unsafe.Pointer(p)
	return a
}

// joinBases returns the concatenation of Base(prefix, k) for every k.
func joinBases(prefix string, ks []string) string {
	n := 0
	for _, k := range ks {
		n += len(prefix) + len(k) + 3
	}
	b := make([]byte, 0, n)
	for _, k := range ks {
		b = append(b, '{')
		b = append(b, prefix...)
		b = append(b, Sep)
		b = append(b, k...)
		b = append(b, '}')
	}
	return unsafe.String(unsafe.SliceData(b), len(b)) // b is not written again: as strings.Builder does
}

// Split undoes [Base]: it returns the prefix and key of base, and false if
// base is not a base key.
func Split(base string) (prefix, key string, ok bool) {
	if len(base) < 3 || base[0] != '{' || base[len(base)-1] != '}' {
		return "", "", false
	}
	inner := base[1 : len(base)-1]
	i := strings.IndexByte(inner, Sep)
	if i < 0 {
		return "", "", false
	}
	return inner[:i], inner[i+1:], true
}

// Sub returns the derived key "base:suffix", in the slot of base.
func Sub(base, suffix string) string { return base + ":" + suffix }

// Slot returns the Redis Cluster hash slot of key (CRC16 of its hash tag,
// modulo 16384), as CLUSTER KEYSLOT computes it.
func Slot(key string) int {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	return int(crc16(key) % 16384)
}

// crc16 is CRC16-CCITT (XMODEM), the checksum Redis Cluster uses.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for j := 0; j < 8; j++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// GroupBySlot returns the indexes of keys grouped by hash slot, groups in
// order of first appearance, so callers can send one command per slot.
func GroupBySlot(keys []string) [][]int {
	bySlot := make(map[int]int, 4)
	var groups [][]int
	for i, k := range keys {
		s := Slot(k)
		g, ok := bySlot[s]
		if !ok {
			g = len(groups)
			bySlot[s] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}
