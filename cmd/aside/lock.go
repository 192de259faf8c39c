package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/aside-go/aside/lock"
)

func (a *app) lockCommand() *cobra.Command {
	var prefix string
	cmd := &cobra.Command{Use: "lock", Short: "Locks and semaphores: holder, lease left, fence"}
	cmd.PersistentFlags().StringVar(&prefix, "prefix", "aside:lock", "the locks' Options.Prefix")
	open := func(cmd *cobra.Command) (*lock.Client, error) {
		rdb, err := a.client(cmd.Context())
		if err != nil {
			return nil, err
		}
		c, err := lock.New(rdb, &lock.Options{Prefix: prefix})
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		return c, nil
	}
	info := &cobra.Command{
		Use: "info KEY", Short: "Who holds a lock, for how long, and its fence counter", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := open(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			in, err := c.Inspect(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.asJSON {
				return a.printJSON(map[string]any{
					"key": in.Key, "held": in.Held, "token": in.Token, "ttl_ms": in.TTL.Milliseconds(), "fence": in.Fence,
				})
			}
			tw := a.table()
			fmt.Fprintf(tw, "lock\t%s\n", in.Key)
			if in.Held {
				fmt.Fprintf(tw, "held by\t%s\n", in.Token)
				fmt.Fprintf(tw, "lease left\t%s\n", in.TTL.Round(time.Millisecond))
			} else {
				fmt.Fprintf(tw, "held by\tnobody\n")
			}
			fmt.Fprintf(tw, "fence\t%d\n", in.Fence)
			return tw.Flush()
		},
	}
	sem := &cobra.Command{
		Use: "sem NAME", Short: "A semaphore's permits and holders", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := open(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			in, err := c.InspectSemaphore(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.asJSON {
				holders := make([]map[string]any, len(in.Holders))
				for i, h := range in.Holders {
					holders[i] = map[string]any{"token": h.Token, "ttl_ms": h.TTL.Milliseconds()}
				}
				return a.printJSON(map[string]any{"name": in.Name, "permits": in.Permits, "holders": holders})
			}
			tw := a.table()
			fmt.Fprintf(tw, "semaphore\t%s\n", in.Name)
			fmt.Fprintf(tw, "permits\t%d held of %d\n", len(in.Holders), in.Permits)
			for _, h := range in.Holders {
				fmt.Fprintf(tw, "  %s\t%s left\n", h.Token, h.TTL.Round(time.Millisecond))
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(info, sem)
	return cmd
}
