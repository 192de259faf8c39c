package main

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/aside-go/aside/cache"
)

func (a *app) cacheCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "cache", Short: "Cache entries and bloom filters, read without loading"}

	get := &cobra.Command{
		Use: "get PREFIX KEY", Short: "Show the stored entry of KEY, decoded as far as its codec allows", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			rdb, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			e, err := cache.Inspect(cmd.Context(), rdb, args[0], args[1])
			if err != nil {
				return err
			}
			if a.asJSON {
				return a.printJSON(entryJSON(e))
			}
			if !e.Exists {
				a.printLease(e)
				return fmt.Errorf("%w: no entry for %q under prefix %s", errNotFound, args[1], args[0])
			}
			tw := a.table()
			fmt.Fprintf(tw, "key\t%s\n", e.Key)
			fmt.Fprintf(tw, "redis key\t%s\n", e.RedisKey)
			switch {
			case e.Corrupt != "":
				fmt.Fprintf(tw, "corrupt\t%s\n", e.Corrupt)
			case e.Negative:
				fmt.Fprintf(tw, "value\t(negative entry: cached \"not found\")\n")
			default:
				fmt.Fprintf(tw, "codec\t%s\n", codecName(e.CodecID))
				fmt.Fprintf(tw, "value\t%s\n", valueText(e))
			}
			fmt.Fprintf(tw, "ttl\t%s\n", ttlText(e.TTL))
			if !e.SoftExpiry.IsZero() {
				fmt.Fprintf(tw, "soft expiry\t%s\n", relTime(e.SoftExpiry))
			}
			if e.Version != 0 || e.Marker != "" {
				fmt.Fprintf(tw, "version\t%d (marker now %s)\n", e.Version, orDash(e.Marker))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			a.printLease(e)
			return nil
		},
	}

	del := &cobra.Command{
		Use: "del PREFIX KEY...", Short: "Delete entries (the next read loads them again)", Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			rdb, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			if err := a.confirm(fmt.Sprintf("delete %d cache entries under prefix %s", len(args)-1, args[0])); err != nil {
				return err
			}
			c, err := cache.New(rdb, &cache.Options[[]byte]{Prefix: args[0], Codec: cache.Bytes()})
			if err != nil {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
			defer c.Close()
			if err := c.Delete(cmd.Context(), args[1:]...); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "deleted %d\n", len(args)-1)
			return nil
		},
	}

	bloom := &cobra.Command{
		Use: "bloom PREFIX", Short: "Size, fill and estimated false-positive rate of a shared bloom filter", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rdb, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			b, err := cache.InspectBloom(cmd.Context(), rdb, args[0])
			if err != nil {
				return err
			}
			if a.asJSON {
				type jb struct {
					Exists         bool     `json:"exists"`
					Bits           uint64   `json:"bits"`
					Hashes         uint     `json:"hashes"`
					SetBits        uint64   `json:"set_bits"`
					FalsePositive  *float64 `json:"false_positive,omitempty"`
					EstimatedItems *float64 `json:"estimated_items,omitempty"`
				}
				out := jb{Exists: b.Exists, Bits: b.Bits, Hashes: b.Hashes, SetBits: b.SetBits}
				if !math.IsNaN(b.FalsePositive) && b.Exists {
					out.FalsePositive, out.EstimatedItems = &b.FalsePositive, &b.EstimatedItems
				}
				return a.printJSON(out)
			}
			if !b.Exists {
				return fmt.Errorf("%w: no shared bloom filter under prefix %s", errNotFound, args[0])
			}
			tw := a.table()
			fmt.Fprintf(tw, "bits\t%d (%.1f KiB)\n", b.Bits, float64(b.Bits)/8/1024)
			fmt.Fprintf(tw, "set\t%d (%.2f%%)\n", b.SetBits, 100*float64(b.SetBits)/math.Max(1, float64(b.Bits)))
			if b.Hashes == 0 || math.IsNaN(b.FalsePositive) {
				fmt.Fprintf(tw, "false positives\tunknown (the filter's hash count is not recorded)\n")
			} else {
				fmt.Fprintf(tw, "hashes\t%d\n", b.Hashes)
				fmt.Fprintf(tw, "items (estimate)\t%.0f\n", b.EstimatedItems)
				fmt.Fprintf(tw, "false positives\t%.4f%% (estimate)\n", 100*b.FalsePositive)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(get, del, bloom)
	return cmd
}

func (a *app) printLease(e cache.Entry) {
	if e.Lease.Held {
		fmt.Fprintf(a.out, "lease\theld by %s, %s left\n", e.Lease.Token, e.Lease.TTL.Round(time.Millisecond))
	}
}

// codecName names the codecs of package cache.
func codecName(id byte) string {
	switch id {
	case 1:
		return "json"
	case 2:
		return "bytes"
	case 3:
		return "string"
	case 4:
		return "binary"
	}
	return fmt.Sprintf("user codec %d", id)
}

// valueText shows a payload: indented JSON for the JSON codec, text when it
// is UTF-8, else hex.
func valueText(e cache.Entry) string {
	if e.CodecID == 1 && json.Valid(e.Payload) {
		return string(e.Payload)
	}
	if utf8.Valid(e.Payload) {
		return fmt.Sprintf("%q", e.Payload)
	}
	return fmt.Sprintf("%x", e.Payload)
}

func ttlText(d time.Duration) string {
	switch {
	case d < 0:
		return "none"
	case d > time.Minute:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Millisecond).String()
}

func relTime(t time.Time) string {
	d := time.Until(t).Round(time.Second)
	if d < 0 {
		return fmt.Sprintf("%s (%s ago: stale, refreshed on the next read)", t.UTC().Format(time.RFC3339), -d)
	}
	return fmt.Sprintf("%s (in %s)", t.UTC().Format(time.RFC3339), d)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// entryJSON is the --json form of an entry.
func entryJSON(e cache.Entry) any {
	type lease struct {
		Token string `json:"token"`
		TTLMs int64  `json:"ttl_ms"`
	}
	type je struct {
		Key        string          `json:"key"`
		RedisKey   string          `json:"redis_key"`
		Exists     bool            `json:"exists"`
		Negative   bool            `json:"negative,omitempty"`
		Codec      string          `json:"codec,omitempty"`
		Value      json.RawMessage `json:"value,omitempty"`
		Raw        []byte          `json:"raw,omitempty"`
		TTLMs      *int64          `json:"ttl_ms,omitempty"`
		SoftExpiry *time.Time      `json:"soft_expiry,omitempty"`
		Version    uint64          `json:"version,omitempty"`
		Marker     string          `json:"marker,omitempty"`
		Corrupt    string          `json:"corrupt,omitempty"`
		Lease      *lease          `json:"lease,omitempty"`
	}
	out := je{Key: e.Key, RedisKey: e.RedisKey, Exists: e.Exists, Negative: e.Negative, Version: e.Version, Marker: e.Marker, Corrupt: e.Corrupt}
	if e.Exists {
		ms := e.TTL.Milliseconds()
		if e.TTL < 0 {
			ms = -1
		}
		out.TTLMs = &ms
		if !e.Negative && e.Corrupt == "" {
			out.Codec = codecName(e.CodecID)
		}
		if e.CodecID == 1 && e.Corrupt == "" && json.Valid(e.Payload) {
			out.Value = e.Payload
		} else if !e.Negative {
			out.Raw = e.Payload
		}
	}
	if !e.SoftExpiry.IsZero() {
		out.SoftExpiry = &e.SoftExpiry
	}
	if e.Lease.Held {
		out.Lease = &lease{e.Lease.Token, e.Lease.TTL.Milliseconds()}
	}
	return out
}
