package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/aside-go/aside/cache"
	"github.com/aside-go/aside/queue"
)

func (a *app) topCommand() *cobra.Command {
	var prefix string
	var caches []string
	var interval time.Duration
	var iterations int
	cmd := &cobra.Command{
		Use: "top", Short: "A live view of every queue, and of the caches named: depths and how fast they change", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rdb, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			prev := map[string]queue.Counts{}
			prevEntries := map[string]int64{}
			last := time.Time{}
			for i := 0; iterations == 0 || i < iterations; i++ {
				if i > 0 {
					select {
					case <-ctx.Done():
						return nil
					case <-time.After(interval):
					}
				}
				names, err := queue.List(ctx, rdb, prefix)
				if err != nil {
					return err
				}
				now := time.Now()
				cur := map[string]queue.Counts{}
				for _, n := range names {
					q, err := queue.New(rdb, n, &queue.Options{Prefix: prefix})
					if err != nil {
						return err
					}
					c, err := q.Counts(ctx)
					if err != nil {
						return err
					}
					cur[n] = c
				}
				entries := map[string]int64{}
				for _, p := range caches {
					n, err := cache.CountEntries(ctx, rdb, p)
					if err != nil {
						return err
					}
					entries[p] = n
				}
				if !a.asJSON {
					fmt.Fprint(a.out, "\x1b[H\x1b[2J") // home, clear: redraw in place
				}
				since := now.Sub(last)
				a.printTop(now, prefix, names, cur, prev, since)
				a.printTopCaches(caches, entries, prevEntries, since, !last.IsZero())
				prev, prevEntries, last = cur, entries, now
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", "aside:queue", "the queues' Options.Prefix")
	cmd.Flags().StringArrayVar(&caches, "cache", nil, "also show the cache with this prefix (repeatable): entries and their rate of change")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "time between refreshes")
	cmd.Flags().IntVar(&iterations, "iterations", 0, "stop after this many refreshes (0: until Ctrl-C)")
	return cmd
}

func (a *app) printTop(now time.Time, prefix string, names []string, cur, prev map[string]queue.Counts, since time.Duration) {
	if a.asJSON {
		type row struct {
			Name string `json:"name"`
			queue.Counts
		}
		rows := make([]row, len(names))
		for i, n := range names {
			rows[i] = row{n, cur[n]}
		}
		_ = a.printJSON(map[string]any{"time": now.UTC(), "queues": rows})
		return
	}
	fmt.Fprintf(a.out, "aside top  %s  queues under %s\n\n", now.Format("15:04:05"), prefix)
	tw := a.table()
	fmt.Fprintln(tw, "QUEUE\tREADY\tΔ/s\tIN FLIGHT\tDELAYED\tDEAD\tΔ/s")
	for _, n := range names {
		c := cur[n]
		dReady, dDead := "", ""
		if p, ok := prev[n]; ok && since > 0 {
			dReady = fmt.Sprintf("%+.1f", float64(c.Ready-p.Ready)/since.Seconds())
			dDead = fmt.Sprintf("%+.1f", float64(c.Dead-p.Dead)/since.Seconds())
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%s\n", n, c.Ready, dReady, c.InFlight, c.Delayed, c.Dead, dDead)
	}
	_ = tw.Flush()
	if len(names) == 0 {
		fmt.Fprintln(a.out, "(no queue holds messages)")
	}
}

// printTopCaches prints the caches' entry counts and their rates.
func (a *app) printTopCaches(prefixes []string, cur, prev map[string]int64, since time.Duration, havePrev bool) {
	if len(prefixes) == 0 {
		return
	}
	if a.asJSON {
		_ = a.printJSON(map[string]any{"caches": cur})
		return
	}
	fmt.Fprintln(a.out)
	tw := a.table()
	fmt.Fprintln(tw, "CACHE\tENTRIES\tΔ/s")
	for _, p := range prefixes {
		rate := ""
		if havePrev && since > 0 {
			rate = fmt.Sprintf("%+.1f", float64(cur[p]-prev[p])/since.Seconds())
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", p, cur[p], rate)
	}
	_ = tw.Flush()
}
