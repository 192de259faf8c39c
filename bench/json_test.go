package bench

// encoding/json, aside's default codec for struct values, against the
// maintained alternatives, decoding and encoding the 1 KiB value of the
// cache benchmarks (no Redis: the codec's own cost). Each is set up in its
// standard-library-compatible mode.

import (
	"encoding/json"
	"testing"

	"github.com/bytedance/sonic"
	gojson "github.com/goccy/go-json"
	jsoniter "github.com/json-iterator/go"
	segjson "github.com/segmentio/encoding/json"
)

type jsonLib struct {
	marshal   func(any) ([]byte, error)
	unmarshal func([]byte, any) error
}

var jsonLibs = map[string]jsonLib{
	"Std":       {json.Marshal, json.Unmarshal},
	"GoJSON":    {gojson.Marshal, gojson.Unmarshal},
	"Segmentio": {segjson.Marshal, segjson.Unmarshal},
	"Jsoniter":  {jsoniter.ConfigCompatibleWithStandardLibrary.Marshal, jsoniter.ConfigCompatibleWithStandardLibrary.Unmarshal},
	"Sonic":     {sonic.ConfigStd.Marshal, sonic.ConfigStd.Unmarshal},
}

func benchJSONDecode(b *testing.B, name string) {
	lib := jsonLibs[name]
	data, err := json.Marshal(cacheValue)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var v cacheVal
		if err := lib.unmarshal(data, &v); err != nil || v.ID != cacheValue.ID {
			b.Fatalf("%s: %v", name, err)
		}
	}
}

func benchJSONEncode(b *testing.B, name string) {
	lib := jsonLibs[name]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := lib.marshal(&cacheValue); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
	}
}

func BenchmarkJSONDecode_Std(b *testing.B)       { benchJSONDecode(b, "Std") }
func BenchmarkJSONDecode_GoJSON(b *testing.B)    { benchJSONDecode(b, "GoJSON") }
func BenchmarkJSONDecode_Segmentio(b *testing.B) { benchJSONDecode(b, "Segmentio") }
func BenchmarkJSONDecode_Jsoniter(b *testing.B)  { benchJSONDecode(b, "Jsoniter") }
func BenchmarkJSONDecode_Sonic(b *testing.B)     { benchJSONDecode(b, "Sonic") }
func BenchmarkJSONEncode_Std(b *testing.B)       { benchJSONEncode(b, "Std") }
func BenchmarkJSONEncode_GoJSON(b *testing.B)    { benchJSONEncode(b, "GoJSON") }
func BenchmarkJSONEncode_Segmentio(b *testing.B) { benchJSONEncode(b, "Segmentio") }
func BenchmarkJSONEncode_Jsoniter(b *testing.B)  { benchJSONEncode(b, "Jsoniter") }
func BenchmarkJSONEncode_Sonic(b *testing.B)     { benchJSONEncode(b, "Sonic") }
