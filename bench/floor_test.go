package bench

import (
	"bytes"
	"context"
	"testing"
)

// value1K is the 1 KiB value every "hit" benchmark reads.
var value1K = bytes.Repeat([]byte("a"), 1024)

// BenchmarkFloor_GET is plain go-redis GET of a 1 KiB value over loopback
// TCP: the floor every other read benchmark is reported against.
func BenchmarkFloor_GET(b *testing.B) {
	rdb := client(b)
	ctx := context.Background()
	key := prefix(b) + ":k"
	if err := rdb.Set(ctx, key, value1K, 0).Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		v, err := rdb.Get(ctx, key).Bytes()
		if err != nil || len(v) != len(value1K) {
			b.Fatalf("GET: %d bytes, %v", len(v), err)
		}
	}
}

// BenchmarkFloor_SET is plain go-redis SET of a 1 KiB value.
func BenchmarkFloor_SET(b *testing.B) {
	rdb := client(b)
	ctx := context.Background()
	key := prefix(b) + ":k"
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := rdb.Set(ctx, key, value1K, 0).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFloor_GETParallel is GET with GOMAXPROCS*4 goroutines sharing
// one client, as a busy service does.
func BenchmarkFloor_GETParallel(b *testing.B) {
	rdb := client(b)
	ctx := context.Background()
	key := prefix(b) + ":k"
	if err := rdb.Set(ctx, key, value1K, 0).Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := rdb.Get(ctx, key).Err(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
