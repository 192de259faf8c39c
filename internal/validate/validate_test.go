package validate

import (
	"net/http"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestNil(t *testing.T) {
	var typed *redis.Client
	var u redis.UniversalClient = typed
	var h http.Handler
	var hf http.HandlerFunc
	for _, tc := range []struct {
		name string
		v    any
		want bool
	}{
		{"nil", nil, true},
		{"typed nil client in an interface", u, true},
		{"nil handler interface", h, true},
		{"nil HandlerFunc", hf, true},
		{"client", redis.NewClient(&redis.Options{}), false},
		{"int", 0, false},
		{"func", func() {}, false},
	} {
		if got := Nil(tc.v); got != tc.want {
			t.Errorf("%s: Nil = %v, want %v", tc.name, got, tc.want)
		}
	}
}
