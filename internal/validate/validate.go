// Package validate holds the checks every constructor of aside makes on
// what it is given.
package validate

import "reflect"

// Nil reports whether v is nil, including an interface holding a nil
// pointer, map, slice, func or channel (a typed nil such as a
// (*redis.Client)(nil) passed as a redis.UniversalClient), which a plain
// v == nil misses and which would panic at first use.
func Nil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
