package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"golang.org/x/term"

	"github.com/thmanyah/enricher/dlq"
	"github.com/thmanyah/enricher/internal/cli"
	"github.com/thmanyah/enricher/internal/kafkax"
)

// dlqCommon are the flags every dlq subcommand has.
type dlqCommon struct {
	brokers, topic, logLevel string
	timeout                  time.Duration
}

func (c *dlqCommon) bind(fs *pflag.FlagSet) {
	fs.StringVar(&c.brokers, "brokers", "localhost:9092", "Kafka bootstrap brokers, comma-separated")
	fs.StringVar(&c.topic, "dlq-topic", kafkax.TopicDLQ, "the dead-letter topic")
	fs.StringVar(&c.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	cli.BindEnvs(fs, map[string]string{"brokers": "KAFKA_BROKERS", "dlq-topic": "DLQ_TOPIC", "log-level": "LOG_LEVEL"})
}

// open checks the common flags and returns the logger and the reader.
func (c *dlqCommon) open(maxScan int) ([]string, *zap.Logger, *dlq.Reader, error) {
	brokers, err := cli.ParseBrokers(c.brokers)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(brokers) == 0 {
		return nil, nil, nil, cli.FlagError("brokers", "KAFKA_BROKERS", "no broker given")
	}
	if c.topic == "" {
		return nil, nil, nil, cli.FlagError("dlq-topic", "DLQ_TOPIC", "empty")
	}
	log, err := cli.NewLogger(c.logLevel)
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := dlq.NewReader(dlq.ReaderConfig{Brokers: brokers, Topic: c.topic, MaxScan: maxScan, Logger: log.Named("dlq")})
	if err != nil {
		return nil, nil, nil, err
	}
	return brokers, log, r, nil
}

// dlqFilter is the selection flags list and replay share.
type dlqFilter struct {
	stage, reason, sourceTopic, since, until string
}

func (f *dlqFilter) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.stage, "stage", "", "only records of this dlq.stage (exact: enricher.decode, cdc.decode, ...)")
	fs.StringVar(&f.reason, "reason", "", "only records whose dlq.error contains this text (case-insensitive)")
	fs.StringVar(&f.sourceTopic, "source-topic", "", "only records that came from this topic (dlq.source.topic)")
	fs.StringVar(&f.since, "since", "", "only records that failed at or after this time: RFC 3339, or a duration ago (30m, 24h)")
	fs.StringVar(&f.until, "until", "", "only records that failed before this time: RFC 3339, or a duration ago")
}

func (f *dlqFilter) filter(now time.Time) (dlq.Filter, error) {
	out := dlq.Filter{Stage: f.stage, Reason: f.reason, SourceTopic: f.sourceTopic}
	var err error
	if out.Since, err = parseWhen("since", f.since, now); err != nil {
		return out, err
	}
	if out.Until, err = parseWhen("until", f.until, now); err != nil {
		return out, err
	}
	if err := out.Check(); err != nil {
		return out, fmt.Errorf("--since %s is not before --until %s", f.since, f.until)
	}
	return out, nil
}

func parseWhen(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, cli.FlagError(flag, "", fmt.Sprintf("%q is neither an RFC 3339 time (2025-01-01T12:00:00Z) nor a duration ago (24h)", v))
}

func newDLQCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect the dead-letter topic and send records back to their source topic",
		Long: `dlq reads the dead-letter topic (--dlq-topic, enricher.dlq) that every consumer
of the service writes records it cannot process to, with headers saying why
(dlq.error), where (dlq.stage) and what the record was (dlq.source.topic,
dlq.source.partition, dlq.source.offset, dlq.failed_at).

  list    the latest records, newest first, with filters
  show    one record: its headers, key and value (--value-only: the raw value)
  replay  send records back to their source topic, once each

A record is "foreign" when it lacks those headers: something else wrote it;
replay leaves it alone unless --force. See README-operations.md.`,
	}
	cmd.AddCommand(newDLQListCmd(), newDLQShowCmd(), newDLQReplayCmd())
	return cmd
}

func newDLQListCmd() *cobra.Command {
	var (
		c       dlqCommon
		f       dlqFilter
		limit   int
		maxScan int
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the latest dead-letter records, newest first",
		Long: `list prints the latest --limit records of the DLQ topic that the filters select,
newest first across partitions (by dlq.failed_at): one line each with the DLQ
position (partition/offset, what show and replay take), when it failed, the
stage, the source position, how many times it was replayed, and the reason.
Each partition is read backwards from its end, --max-scan records at most.`,
		Example: `  enricher dlq list --brokers kafka:9092
  enricher dlq list --stage enricher.decode --reason event_ts --since 24h
  enricher dlq list --source-topic thmanyah.public.content --limit 100 --json`,
		Args:    cobra.NoArgs,
		PreRunE: cli.ApplyEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := f.filter(time.Now())
			if err != nil {
				return err
			}
			if limit < 1 {
				return cli.FlagError("limit", "", "must be at least 1")
			}
			if maxScan < 1 {
				return cli.FlagError("max-scan", "", "must be at least 1")
			}
			_, log, r, err := c.open(maxScan)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			ctx, cancel := context.WithTimeout(cmd.Context(), c.timeout)
			defer cancel()
			entries, err := r.List(ctx, filter, limit)
			if err != nil {
				return readError(c, err, ctx)
			}
			if asJSON {
				return printEntriesJSON(cmd.OutOrStdout(), c.topic, entries)
			}
			printEntries(cmd.OutOrStdout(), c.topic, entries)
			return nil
		},
	}
	fs := cmd.Flags()
	c.bind(fs)
	f.bind(fs)
	fs.IntVar(&limit, "limit", 20, "how many records at most")
	fs.IntVar(&maxScan, "max-scan", dlq.DefaultMaxScan, "records read per partition at most, looking for matches")
	fs.BoolVar(&asJSON, "json", false, "print JSON: {\"topic\", \"items\": [...]} with every header, key and value")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "give up reading after this long")
	return cmd
}

// readError says what a read that failed was waiting for.
func readError(c dlqCommon, err error, ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("read %s: no answer within --timeout %v (is Kafka at %s reachable?): %w", c.topic, c.timeout, c.brokers, err)
	}
	return err
}

func printEntries(w io.Writer, topic string, es []dlq.Entry) {
	if len(es) == 0 {
		fmt.Fprintf(w, "no records in %s match\n", topic)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POSITION\tFAILED AT\tSTAGE\tSOURCE\tREPLAYS\tREASON")
	for _, e := range es {
		stage, src := e.Stage, e.Source.String()
		if e.Foreign {
			stage, src = "(foreign)", "-"
		}
		fmt.Fprintf(tw, "%d/%d\t%s\t%s\t%s\t%d\t%s\n", e.Partition, e.Offset, e.When().UTC().Format(time.RFC3339), dlq.Text([]byte(stage), 40),
			dlq.Text([]byte(src), 80), e.Replays, oneLine(e.Reason, e.ForeignWhy))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d record(s) of %s, newest first\n", len(es), topic)
}

func oneLine(reason, foreignWhy string) string {
	if reason == "" {
		reason = foreignWhy
	}
	s := strings.Join(strings.Fields(dlq.Text([]byte(reason), 200)), " ")
	return s
}

type entryJSON struct {
	Partition  int           `json:"partition"`
	Offset     int64         `json:"offset"`
	Time       time.Time     `json:"time"`
	Stage      string        `json:"stage"`
	Reason     string        `json:"reason"`
	FailedAt   *time.Time    `json:"failed_at"`
	Source     *dlq.Position `json:"source"`
	Replays    int           `json:"replays"`
	ReplayFrom string        `json:"replay_from,omitempty"`
	Foreign    bool          `json:"foreign"`
	ForeignWhy string        `json:"foreign_why,omitempty"`
	Headers    [][2]string   `json:"headers"`
	Key        *string       `json:"key"`
	Value      string        `json:"value"`
	ValueBytes int           `json:"value_bytes"`
}

func toEntryJSON(e dlq.Entry) entryJSON {
	j := entryJSON{Partition: e.Partition, Offset: e.Offset, Time: e.Time.UTC(), Stage: e.Stage, Reason: e.Reason, Replays: e.Replays,
		ReplayFrom: e.ReplayFrom, Foreign: e.Foreign, ForeignWhy: e.ForeignWhy, Value: dlq.Text(e.Value, 0), ValueBytes: len(e.Value),
		Headers: make([][2]string, 0, len(e.Headers))}
	if !e.FailedAt.IsZero() {
		t := e.FailedAt
		j.FailedAt = &t
	}
	if !e.Foreign {
		src := e.Source
		j.Source = &src
	}
	if e.Key != nil {
		k := dlq.Text(e.Key, 0)
		j.Key = &k
	}
	for _, h := range e.Headers {
		j.Headers = append(j.Headers, [2]string{h.Key, dlq.Text(h.Value, 0)})
	}
	return j
}

func printEntriesJSON(w io.Writer, topic string, es []dlq.Entry) error {
	out := struct {
		Topic string      `json:"topic"`
		Items []entryJSON `json:"items"`
	}{Topic: topic, Items: make([]entryJSON, 0, len(es))}
	for _, e := range es {
		out.Items = append(out.Items, toEntryJSON(e))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func newDLQShowCmd() *cobra.Command {
	var (
		c         dlqCommon
		partition int
		offset    int64
		valueOnly bool
	)
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print one dead-letter record: headers, key and value",
		Long: `show prints the DLQ record at --partition/--offset (the POSITION list prints):
its parsed fields, every header in order (the dlq.* ones first, then the
original record's), its key and its value as text (bytes that are not UTF-8
written \xNN).

--value-only writes the raw value bytes and nothing else, to edit and send back
with replay --value-file.`,
		Example: `  enricher dlq show --partition 0 --offset 42
  enricher dlq show --partition 0 --offset 42 --value-only > event.json`,
		Args:    cobra.NoArgs,
		PreRunE: cli.ApplyEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("partition") || !cmd.Flags().Changed("offset") {
				return errors.New("--partition and --offset are required: the record's position in the DLQ topic (see dlq list)")
			}
			_, log, r, err := c.open(0)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			ctx, cancel := context.WithTimeout(cmd.Context(), c.timeout)
			defer cancel()
			e, err := r.Get(ctx, partition, offset)
			if err != nil {
				return readError(c, err, ctx)
			}
			w := cmd.OutOrStdout()
			if valueOnly {
				_, err := w.Write(e.Value)
				return err
			}
			printEntry(w, c.topic, e)
			return nil
		},
	}
	fs := cmd.Flags()
	c.bind(fs)
	fs.IntVar(&partition, "partition", 0, "the record's partition in the DLQ topic (required)")
	fs.Int64Var(&offset, "offset", 0, "the record's offset in the DLQ topic (required)")
	fs.BoolVar(&valueOnly, "value-only", false, "write the raw value to stdout and nothing else")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "give up reading after this long")
	return cmd
}

func printEntry(w io.Writer, topic string, e dlq.Entry) {
	fmt.Fprintf(w, "position:   %s/%d/%d\n", topic, e.Partition, e.Offset)
	fmt.Fprintf(w, "time:       %s\n", e.Time.UTC().Format(time.RFC3339Nano))
	if e.Foreign {
		fmt.Fprintf(w, "foreign:    yes (%s): replay sends it only with --force and --to\n", e.ForeignWhy)
	} else {
		fmt.Fprintf(w, "stage:      %s\n", e.Stage)
		fmt.Fprintf(w, "source:     %s\n", e.Source)
	}
	if e.Reason != "" {
		fmt.Fprintf(w, "reason:     %s\n", line([]byte(e.Reason)))
	}
	if !e.FailedAt.IsZero() {
		fmt.Fprintf(w, "failed at:  %s\n", e.FailedAt.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "replays:    %d", e.Replays)
	if e.ReplayFrom != "" {
		fmt.Fprintf(w, " (last from %s)", e.ReplayFrom)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "headers:\n")
	for _, h := range e.Headers {
		fmt.Fprintf(w, "  %s: %s\n", line([]byte(h.Key)), line(h.Value))
	}
	if e.Key == nil {
		fmt.Fprintf(w, "key:        (null)\n")
	} else {
		fmt.Fprintf(w, "key:        %s\n", line(e.Key))
	}
	fmt.Fprintf(w, "value (%d bytes):\n%s\n", len(e.Value), dlq.Text(e.Value, 0))
}

// line is b as text on one line: newlines and tabs escaped too.
func line(b []byte) string {
	return strings.NewReplacer("\n", `\n`, "\t", `\t`).Replace(dlq.Text(b, 0))
}

func newDLQReplayCmd() *cobra.Command {
	var (
		c         dlqCommon
		f         dlqFilter
		rc        dlq.ReplayConfig
		valueFile string
	)
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Send dead-letter records back to their source topic, once each",
		Long: `replay sends DLQ records back to the topic they came from (dlq.source.topic, or
--to) with their key, their value and their original headers (the dlq.* ones
removed), plus dlq.replay.count (previous + 1) and dlq.replay.from (the DLQ
position), so that a record failing again comes back recognisable.

Select one record with --partition and --offset, or many with the filters of
list (--stage, --reason, --source-topic, --since, --until; --all for every
record). Records are sent oldest first.

Skipped, with the reason printed: a record already in --checkpoint; one
replayed --max-replays times already; a foreign record (not written by this
service). --force sends the last two anyway.

--checkpoint records every DLQ position the broker acknowledged (written
atomically after each batch): running replay again never sends a record twice.
--dry-run prints what would be sent and sends nothing. --value-file replaces
the value of the one selected record: fix a poisoned field and send it back.

It prints one line per record and a final line; a progress bar goes to stderr
when stderr is a terminal.`,
		Example: `  # fix a bad field and send the event back
  enricher dlq show --partition 0 --offset 42 --value-only > event.json
  $EDITOR event.json
  enricher dlq replay --partition 0 --offset 42 --value-file event.json

  # every content record that failed on a registry outage in the last day
  enricher dlq replay --stage cdc.decode --reason "schema registry" --since 24h --dry-run
  enricher dlq replay --stage cdc.decode --reason "schema registry" --since 24h`,
		Args:    cobra.NoArgs,
		PreRunE: cli.ApplyEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if rc.Filter, err = f.filter(time.Now()); err != nil {
				return err
			}
			fl := cmd.Flags()
			if fl.Changed("partition") != fl.Changed("offset") {
				return errors.New("--partition and --offset go together: they select one record")
			}
			rc.One = fl.Changed("partition")
			if rc.One && (!rc.Filter.Empty() || rc.All) {
				return errors.New("--partition/--offset select one record: give no filter and no --all with them")
			}
			if valueFile != "" {
				if !rc.One {
					return cli.FlagError("value-file", "", "replaces the value of one record: select it with --partition and --offset")
				}
				if rc.Value, err = os.ReadFile(valueFile); err != nil {
					return cli.FlagError("value-file", "", err.Error())
				}
				rc.ReplaceValue = true
			}
			brokers, log, _, err := c.open(0)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			rc.Brokers, rc.Topic, rc.Logger = brokers, c.topic, log.Named("dlq")
			if rc.Checkpoint == "" && !fl.Changed("checkpoint") {
				rc.Checkpoint = dlq.DefaultCheckpoint(c.topic)
			}
			if s, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(s.Fd())) && !rc.DryRun {
				rc.Progress = dlq.NewBar(s)
			}
			res, err := dlq.Replay(cmd.Context(), rc)
			printReplay(cmd.OutOrStdout(), rc, res)
			return cli.NameField(cmd, err)
		},
	}
	fs := cmd.Flags()
	c.bind(fs)
	f.bind(fs)
	fs.IntVar(&rc.Partition, "partition", 0, "select the record at this DLQ partition (with --offset)")
	fs.Int64Var(&rc.Offset, "offset", 0, "select the record at this DLQ offset (with --partition)")
	fs.BoolVar(&rc.All, "all", false, "select every record (within the scan bound) when no filter is given")
	fs.IntVar(&rc.Limit, "limit", 0, "with filters, the latest this many matches at most (0: every match)")
	fs.StringVar(&rc.To, "to", "", "send to this topic instead of each record's dlq.source.topic")
	fs.IntVar(&rc.MaxReplays, "max-replays", 1, "skip a record replayed this many times already")
	fs.BoolVar(&rc.Force, "force", false, "send records --max-replays or foreignness would skip")
	fs.BoolVar(&rc.DryRun, "dry-run", false, "print what would be sent; send nothing")
	fs.StringVar(&valueFile, "value-file", "", "send this file's bytes as the value of the one selected record")
	fs.StringVar(&rc.Checkpoint, "checkpoint", "", "file of the DLQ positions already replayed (default dlq-replay.<dlq-topic>.json in the current directory)")
	fs.IntVar(&rc.Batch, "batch", dlq.DefaultReplayBatch, "records per acknowledged write (and checkpoint save)")
	cli.BindFields(fs, map[string][2]string{
		"to": {"", "To"}, "max-replays": {"", "MaxReplays"}, "checkpoint": {"", "Checkpoint"}, "batch": {"", "Batch"},
		"value-file": {"", "Value"}, "partition": {"", "Partition"}, "offset": {"", "Offset"},
	})
	return cmd
}

func printReplay(w io.Writer, cfg dlq.ReplayConfig, res dlq.Result) {
	for _, p := range res.Records {
		pos := strconv.Itoa(p.Entry.Partition) + "/" + strconv.FormatInt(p.Entry.Offset, 10)
		switch {
		case p.Skip != "":
			fmt.Fprintf(w, "skip       %s: %s\n", pos, p.Skip)
		case p.Sent:
			fmt.Fprintf(w, "sent       %s -> %s (replay %d, %d bytes)\n", pos, p.Target, p.Entry.Replays+1, len(p.Entry.Value))
		case res.DryRun:
			fmt.Fprintf(w, "would send %s -> %s (replay %d, %d bytes)\n", pos, p.Target, p.Entry.Replays+1, len(p.Entry.Value))
		default:
			fmt.Fprintf(w, "not sent   %s -> %s\n", pos, p.Target)
		}
	}
	if res.DryRun {
		fmt.Fprintf(w, "dlq replay dry run: would send %d of %d selected record(s), skip %d; nothing sent\n",
			len(res.Records)-res.Skipped, len(res.Records), res.Skipped)
		return
	}
	if res.Records == nil && res.Sent == 0 {
		return // it failed before selecting anything: the error says why
	}
	fmt.Fprintf(w, "dlq replay: sent %d of %d selected record(s), skipped %d, in %s; checkpoint %s\n",
		res.Sent, len(res.Records), res.Skipped, res.Elapsed.Round(time.Millisecond), cfg.Checkpoint)
}
