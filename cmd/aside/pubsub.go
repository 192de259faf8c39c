package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/aside-go/aside/pubsub"
)

func (a *app) pubsubCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "pubsub", Short: "Publish/subscribe topics"}
	var classic bool
	var count int
	var forDur time.Duration
	tail := &cobra.Command{
		Use: "tail TOPIC...", Short: "Print messages as they come, with gaps marked", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rdb, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			if forDur > 0 {
				ctx, cancel = context.WithTimeout(ctx, forDur)
				defer cancel()
			}
			var mu sync.Mutex // serialises output
			opt := &pubsub.Options{
				OnGap: func(g pubsub.Gap) {
					mu.Lock()
					defer mu.Unlock()
					fmt.Fprintf(a.out, "--- gap on %v: %s, %s (messages in it are lost) ---\n",
						g.Topics, g.Reason, g.Until.Sub(g.Since).Round(time.Millisecond))
				},
			}
			if classic {
				opt.Mode = pubsub.ModeClassic
			}
			ps, err := pubsub.New(rdb, opt)
			if err != nil {
				return err
			}
			defer ps.Close()
			seen := 0
			_, err = ps.Subscribe(ctx, args, pubsub.HandlerFunc(func(_ context.Context, m *pubsub.Message) error {
				mu.Lock()
				defer mu.Unlock()
				if count > 0 && seen >= count {
					return nil
				}
				seen++
				if a.asJSON {
					_ = a.printJSON(map[string]any{"time": time.Now().UTC(), "topic": m.Topic, "payload": string(m.Payload)})
				} else {
					fmt.Fprintf(a.out, "%s %s %s\n", time.Now().UTC().Format("15:04:05.000"), m.Topic, clip(string(m.Payload), 2000))
				}
				if count > 0 && seen == count {
					cancel()
				}
				return nil
			}))
			if err != nil {
				return err
			}
			fmt.Fprintf(a.errOut, "tailing %v (Ctrl-C to stop)\n", args)
			<-ctx.Done()
			return nil
		},
	}
	tail.Flags().BoolVar(&classic, "classic", false, "classic Pub/Sub on a Cluster (default: sharded there, as pubsub.ModeAuto)")
	tail.Flags().IntVarP(&count, "count", "n", 0, "stop after this many messages")
	tail.Flags().DurationVar(&forDur, "for", 0, "stop after this long")
	cmd.AddCommand(tail)
	return cmd
}
