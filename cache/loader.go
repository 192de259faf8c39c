package cache

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
)

// ErrNotFound is returned by [Cache.Get] when the key does not exist: the
// loader said so (now or earlier, through a cached negative entry), or the
// bloom filter guard rejected the key. A [Loader] returns it (or an error
// wrapping it) to report a missing key, which is then cached as a negative
// entry for [Options.NegativeTTL].
var ErrNotFound = errors.New("cache: not found")

// A Loader loads the value of a key from the source of truth on a miss.
// It runs detached from the callers' contexts, under ctx bounded by
// [Options.LoadTimeout]; it is called once per miss for the whole fleet
// (best effort, see [Options.LeaseTTL]). It returns [ErrNotFound] for a
// key that does not exist.
type Loader[V any] interface {
	Load(ctx context.Context, key string) (V, error)
}

// LoaderFunc adapts a function to a [Loader].
type LoaderFunc[V any] func(ctx context.Context, key string) (V, error)

// Load calls f(ctx, key).
func (f LoaderFunc[V]) Load(ctx context.Context, key string) (V, error) { return f(ctx, key) }

// A BatchLoader loads the misses of [Cache.GetMany] in one call. The
// returned map holds the keys found; a key absent from it is not found and
// cached as a negative entry. An error fails the whole GetMany.
type BatchLoader[V any] interface {
	LoadMany(ctx context.Context, keys []string) (map[string]V, error)
}

// BatchLoaderFunc adapts a function to a [BatchLoader].
type BatchLoaderFunc[V any] func(ctx context.Context, keys []string) (map[string]V, error)

// LoadMany calls f(ctx, keys).
func (f BatchLoaderFunc[V]) LoadMany(ctx context.Context, keys []string) (map[string]V, error) {
	return f(ctx, keys)
}

// ErrNoLoader is returned by Get and GetMany when no loader is configured
// for a miss.
var ErrNoLoader = errors.New("cache: no loader")

// PanicError is what a loader's panic turns into. The cache recovers the
// panic in the shared load and re-panics with a *PanicError in every
// caller that was waiting on that load (as singleflight's Do does), so a
// panic reaches each waiter, and the stack of the loader is kept. A panic
// in a background refresh is recovered and counted as a load error.
type PanicError struct {
	// Value is what the loader panicked with.
	Value any
	// Stack is the loader goroutine's stack at the panic.
	Stack []byte
}

// Error describes the panic.
func (p *PanicError) Error() string {
	return fmt.Sprintf("cache: loader panicked: %v\n\n%s", p.Value, p.Stack)
}

// Unwrap returns the panic value if it is an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// callLoader runs l and turns a panic into a *PanicError.
func callLoader[V any](ctx context.Context, l Loader[V], key string) (v V, pe *PanicError, err error) {
	defer func() {
		if r := recover(); r != nil {
			pe = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	v, err = l.Load(ctx, key)
	return v, nil, err
}

// callBatchLoader runs l and turns a panic into a *PanicError.
func callBatchLoader[V any](ctx context.Context, l BatchLoader[V], ks []string) (m map[string]V, pe *PanicError, err error) {
	defer func() {
		if r := recover(); r != nil {
			pe = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	m, err = l.LoadMany(ctx, ks)
	return m, nil, err
}
