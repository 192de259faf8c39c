package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/aside-go/aside/queue"
)

func (a *app) topCommand() *cobra.Command {
	var prefix string
	var interval time.Duration
	var iterations int
	cmd := &cobra.Command{
		Use: "top", Short: "A live view of every queue: depths and how fast they change", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rdb, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			prev := map[string]queue.Counts{}
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
				if !a.asJSON {
					fmt.Fprint(a.out, "\x1b[H\x1b[2J") // home, clear: redraw in place
				}
				a.printTop(now, prefix, names, cur, prev, now.Sub(last))
				prev, last = cur, now
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", "aside:queue", "the queues' Options.Prefix")
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
