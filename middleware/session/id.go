package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// idBytes is the entropy of a session ID: 256 bits from crypto/rand.
const idBytes = 32

// idLen is the length of an ID in its cookie form (unpadded base64url).
var idLen = base64.RawURLEncoding.EncodedLen(idBytes)

// newID returns a new session ID in cookie form.
func newID() string {
	var b [idBytes]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validID reports whether s has the shape of an ID this package made:
// exactly idLen characters of the base64url alphabet. Anything else from a
// cookie is dropped before it reaches Redis.
func validID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	// The last character carries 2 unused bits that a canonical encoding
	// leaves 0; a decoder would accept 4 spellings of one ID.
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// storedID is what Redis keeps of an ID: its SHA-256, so that a dump of
// Redis hands out no live cookie. IDs have 256 bits of entropy, so an
// unsalted fast hash is enough: there is nothing to guess.
func storedID(id string) string {
	h := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(h[:])
}
