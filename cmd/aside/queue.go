package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/aside-go/aside/queue"
)

func (a *app) queueCommand() *cobra.Command {
	var prefix string
	cmd := &cobra.Command{Use: "queue", Short: "Queues: counts, messages, dead letters"}
	cmd.PersistentFlags().StringVar(&prefix, "prefix", "aside:queue", "the queues' Options.Prefix")
	open := func(cmd *cobra.Command, name string) (*queue.Queue, error) {
		rdb, err := a.client(cmd.Context())
		if err != nil {
			return nil, err
		}
		q, err := queue.New(rdb, name, &queue.Options{Prefix: prefix})
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		return q, nil
	}

	ls := &cobra.Command{
		Use: "ls", Short: "List the queues that hold messages, with their counts", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rdb, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			names, err := queue.List(cmd.Context(), rdb, prefix)
			if err != nil {
				return err
			}
			type row struct {
				Name string `json:"name"`
				queue.Counts
			}
			rows := make([]row, 0, len(names))
			for _, n := range names {
				q, err := open(cmd, n)
				if err != nil {
					return err
				}
				c, err := q.Counts(cmd.Context())
				if err != nil {
					return err
				}
				rows = append(rows, row{n, c})
			}
			if a.asJSON {
				return a.printJSON(rows)
			}
			tw := a.table()
			fmt.Fprintln(tw, "QUEUE\tREADY\tIN FLIGHT\tDELAYED\tDEAD")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", r.Name, r.Ready, r.InFlight, r.Delayed, r.Dead)
			}
			return tw.Flush()
		},
	}

	var sample time.Duration
	stats := &cobra.Command{
		Use: "stats NAME", Short: "Counts, age of the oldest ready message, and rates over --sample", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := open(cmd, args[0])
			if err != nil {
				return err
			}
			st, err := queueStats(cmd, q, sample)
			if err != nil {
				return err
			}
			if a.asJSON {
				return a.printJSON(st)
			}
			tw := a.table()
			fmt.Fprintf(tw, "queue %s (prefix %s)\n", args[0], prefix)
			if o := st.oldestText(); o != "" {
				fmt.Fprintf(tw, "  ready\t%d\t%s\n", st.Ready, o)
			} else {
				fmt.Fprintf(tw, "  ready\t%d\n", st.Ready)
			}
			fmt.Fprintf(tw, "  in flight\t%d\n", st.InFlight)
			fmt.Fprintf(tw, "  delayed\t%d\n", st.Delayed)
			fmt.Fprintf(tw, "  dead\t%d\n", st.Dead)
			if st.Sample > 0 {
				fmt.Fprintf(tw, "  over %v\tready %+.1f/s\tdead %+.1f/s\n", st.Sample, st.ReadyRate, st.DeadRate)
			}
			return tw.Flush()
		},
	}
	stats.Flags().DurationVar(&sample, "sample", 0, "read the counts twice this far apart and print their rates of change")

	var dead, delayed, inflight bool
	var n int
	peek := &cobra.Command{
		Use: "peek NAME", Short: "Show messages without moving them (ready by default)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := open(cmd, args[0])
			if err != nil {
				return err
			}
			state := queue.Ready
			switch {
			case dead:
				state = queue.Dead
			case delayed:
				state = queue.Delayed
			case inflight:
				state = queue.InFlight
			}
			msgs, err := q.Peek(cmd.Context(), state, n)
			if err != nil {
				return err
			}
			return a.printMessages(msgs)
		},
	}
	peek.Flags().BoolVar(&dead, "dead", false, "dead letters, with their last error")
	peek.Flags().BoolVar(&delayed, "delayed", false, "delayed messages, with their due time")
	peek.Flags().BoolVar(&inflight, "inflight", false, "deliveries in flight, with their deadline and attempt")
	peek.MarkFlagsMutuallyExclusive("dead", "delayed", "inflight")
	peek.Flags().IntVarP(&n, "count", "n", 10, "how many")

	var id string
	var all, requeueDead bool
	requeue := &cobra.Command{
		Use: "requeue NAME --dead (--id ID | --all)", Short: "Put dead letters back in the ready list", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !requeueDead {
				return fmt.Errorf("%w: requeue needs --dead (only dead letters are requeued)", errUsage)
			}
			q, err := open(cmd, args[0])
			if err != nil {
				return err
			}
			if id != "" {
				ok, err := q.RequeueDeadID(cmd.Context(), id)
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("%w: no dead letter %q in queue %s", errNotFound, id, args[0])
				}
				fmt.Fprintf(a.out, "requeued %s\n", id)
				return nil
			}
			if err := a.confirm(fmt.Sprintf("requeue every dead letter of queue %s", args[0])); err != nil {
				return err
			}
			moved, err := q.RequeueDead(cmd.Context(), 0)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "requeued %d\n", moved)
			return nil
		},
	}
	requeue.Flags().BoolVar(&requeueDead, "dead", false, "requeue dead letters")
	requeue.Flags().StringVar(&id, "id", "", "the one message to requeue")
	requeue.Flags().BoolVar(&all, "all", false, "every dead letter (asks first unless --yes)")
	requeue.MarkFlagsMutuallyExclusive("id", "all")
	requeue.MarkFlagsOneRequired("id", "all")

	var delID string
	del := &cobra.Command{
		Use: "delete NAME --id ID", Short: "Delete one message, whatever its state", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := open(cmd, args[0])
			if err != nil {
				return err
			}
			if err := a.confirm(fmt.Sprintf("delete message %s of queue %s", delID, args[0])); err != nil {
				return err
			}
			ok, err := q.Delete(cmd.Context(), delID)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: no message %q in queue %s", errNotFound, delID, args[0])
			}
			fmt.Fprintf(a.out, "deleted %s\n", delID)
			return nil
		},
	}
	del.Flags().StringVar(&delID, "id", "", "the message")
	_ = del.MarkFlagRequired("id")

	var purgeDead bool
	purge := &cobra.Command{
		Use: "purge NAME --dead", Short: "Delete every dead letter", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !purgeDead {
				return fmt.Errorf("%w: purge needs --dead (only dead letters are purged here)", errUsage)
			}
			q, err := open(cmd, args[0])
			if err != nil {
				return err
			}
			if err := a.confirm(fmt.Sprintf("delete every dead letter of queue %s", args[0])); err != nil {
				return err
			}
			gone, err := q.PurgeDead(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "purged %d\n", gone)
			return nil
		},
	}
	purge.Flags().BoolVar(&purgeDead, "dead", false, "purge dead letters")

	cmd.AddCommand(ls, stats, peek, requeue, del, purge)
	return cmd
}

// queueStatsResult is what queue stats prints.
type queueStatsResult struct {
	queue.Counts
	OldestReady *time.Duration `json:"oldest_ready,omitempty"` // nil: empty, or age unknown
	Sample      time.Duration  `json:"sample,omitempty"`
	ReadyRate   float64        `json:"ready_rate,omitempty"` // change per second
	DeadRate    float64        `json:"dead_rate,omitempty"`
}

func (s queueStatsResult) oldestText() string {
	switch {
	case s.OldestReady != nil:
		return "oldest " + s.OldestReady.Round(time.Second).String()
	case s.Ready > 0:
		return "oldest: age unknown"
	}
	return ""
}

func queueStats(cmd *cobra.Command, q *queue.Queue, sample time.Duration) (queueStatsResult, error) {
	ctx := cmd.Context()
	c, err := q.Counts(ctx)
	if err != nil {
		return queueStatsResult{}, err
	}
	st := queueStatsResult{Counts: c}
	if sample > 0 {
		select {
		case <-time.After(sample):
		case <-ctx.Done():
			return st, ctx.Err()
		}
		c2, err := q.Counts(ctx)
		if err != nil {
			return st, err
		}
		st.Sample = sample
		st.ReadyRate = float64(c2.Ready-c.Ready) / sample.Seconds()
		st.DeadRate = float64(c2.Dead-c.Dead) / sample.Seconds()
		st.Counts = c2
	}
	if oldest, err := q.Peek(ctx, queue.Ready, 1); err != nil {
		return st, err
	} else if len(oldest) == 1 && !oldest[0].Enqueued.IsZero() {
		age := time.Since(oldest[0].Enqueued)
		st.OldestReady = &age
	}
	return st, nil
}

// printMessages prints messages as a table or JSON.
func (a *app) printMessages(msgs []queue.MessageInfo) error {
	if a.asJSON {
		type jm struct {
			ID            string     `json:"id"`
			State         string     `json:"state"`
			Payload       string     `json:"payload"`
			Deliveries    int        `json:"deliveries"`
			MaxDeliveries int        `json:"max_deliveries"`
			LastError     string     `json:"last_error,omitempty"`
			Due           *time.Time `json:"due,omitempty"`
			Enqueued      *time.Time `json:"enqueued,omitempty"`
		}
		out := make([]jm, len(msgs))
		for i, m := range msgs {
			out[i] = jm{ID: m.ID, State: m.State.String(), Payload: string(m.Payload), Deliveries: m.Deliveries,
				MaxDeliveries: m.MaxDeliveries, LastError: m.LastError}
			if !m.Due.IsZero() {
				out[i].Due = &msgs[i].Due
			}
			if !m.Enqueued.IsZero() {
				out[i].Enqueued = &msgs[i].Enqueued
			}
		}
		return a.printJSON(out)
	}
	tw := a.table()
	fmt.Fprintln(tw, "ID\tSTATE\tAGE\tDELIVERIES\tDUE\tPAYLOAD\tLAST ERROR")
	for _, m := range msgs {
		age, due := "-", "-"
		if !m.Enqueued.IsZero() {
			age = time.Since(m.Enqueued).Round(time.Second).String()
		}
		if !m.Due.IsZero() {
			due = "in " + time.Until(m.Due).Round(time.Second).String()
		}
		deliveries := fmt.Sprint(m.Deliveries)
		if m.MaxDeliveries > 0 {
			deliveries += fmt.Sprintf("/%d", m.MaxDeliveries)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.State, age, deliveries, due, clip(string(m.Payload), 40), clip(m.LastError, 60))
	}
	return tw.Flush()
}

// clip shortens s to n runes for a table cell, on one line.
func clip(s string, n int) string {
	r := []rune(s)
	for i, c := range r {
		if c == '\n' || c == '\t' || c == '\r' {
			r[i] = ' '
		}
	}
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return string(r)
}
