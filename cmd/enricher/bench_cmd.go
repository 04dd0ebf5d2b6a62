package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/thmanyah/enricher/enricher"
	"github.com/thmanyah/enricher/internal/cli"
	"github.com/thmanyah/enricher/tools/bench"
)

func newBenchCmd() *cobra.Command {
	cfg := bench.Config{RunArgs: []string{"run"}, PassthroughArgs: []string{"bench", "passthrough"},
		ProfiledRunArgs: func(file string, window bool) []string {
			return []string{"bench", "profiled-run", "--cpuprofile", file, "--window=" + strconv.FormatBool(window), "--"}
		}}
	var brokers, cpus string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "End-to-end benchmark: passthrough baseline vs the enricher on the same input",
		Long: `bench starts an in-process Kafka (or uses --brokers), loads --content rows and
--events engagement events, then runs, as child processes of this binary, a
passthrough (kafka-go group Reader + Writer configured as the enricher's, no
enrichment) and 'enricher run' on the same input, each from an empty group. It
reports events/s of each and their ratio, p50/p99 latency at --rate events/s,
the children's peak RSS and CPU seconds per million events, the time to restore
the view from an empty data dir and a warm restart's time to ready, and (unless
--skip-scale) two enrichers in one group and a view of --scale-content rows.
It prints the table and writes results.json and RESULTS.md into --out.

--cpus 2,all runs all of it twice, first with this process (the in-process
broker) and its children pinned to the first 2 CPUs, as taskset -c 0,1 would,
then on every CPU, and adds a scaling table: CPU per event of each set, the
ratio on each. --profile-dir keeps a CPU and a heap profile of every enricher
child's throughput window (go tool pprof -top -cum ENRICHER_BINARY FILE).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.Brokers, err = cli.ParseBrokers(brokers); err != nil {
				return err
			}
			if cfg.CPUs, err = parseCPUs(cpus); err != nil {
				return err
			}
			cfg.Log = cmd.ErrOrStderr()
			cfg.Command = "enricher " + strings.Join(os.Args[1:], " ")
			return bench.Run(cmd.Context(), cfg, cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&brokers, "brokers", "", "Kafka brokers, comma-separated; empty: an in-process Kafka")
	fs.IntVar(&cfg.Content, "content", 100_000, "content rows loaded")
	fs.IntVar(&cfg.Events, "events", 1_000_000, "engagement events loaded")
	fs.IntVar(&cfg.Partitions, "partitions", 6, "partitions of the events and content topics")
	fs.Float64Var(&cfg.Rate, "rate", 20_000, "offered load of the latency measurement, events/s")
	fs.DurationVar(&cfg.LatencyFor, "latency-for", 10*time.Second, "how long the latency measurement offers --rate")
	fs.IntVar(&cfg.ScaleContent, "scale-content", 1_000_000, "content rows of the scale step (rows are added to reach it; 0 skips it)")
	fs.IntVar(&cfg.Rounds, "rounds", 3, "alternating passthrough/enricher rounds; the ratio reported is their median")
	fs.BoolVar(&cfg.SkipScale, "skip-scale", false, "skip the scale steps (two instances, --scale-content rows)")
	fs.StringVar(&cfg.OutDir, "out", "", "directory to write results.json and RESULTS.md into; empty: print only")
	fs.StringVar(&cfg.README, "readme", "", "a README whose bench block (between the bench:begin and bench:end comments) gets the results")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the first enricher child to this file")
	fs.StringVar(&cpus, "cpus", "", "CPU sets to run on, one whole run each, comma-separated: a count n (the first n CPUs) or all; empty: unpinned")
	fs.StringVar(&cfg.ProfileDir, "profile-dir", "", "write a CPU profile of every enricher child's throughput window (first to last output record) into this directory, one <configuration>.pprof each")
	fs.StringVar(&cfg.BrokerCPUProfile, "broker-cpuprofile", "", "write a CPU profile of this process (the in-process broker, loading, polling) to this file")
	cmd.AddCommand(newBenchPassthroughCmd(), newProfiledRunCmd())
	return cmd
}

// parseCPUs reads --cpus: counts and "all" (0).
func parseCPUs(s string) ([]int, error) {
	var out []int
	for _, w := range cli.SplitList(s) {
		if w == "all" {
			out = append(out, 0)
			continue
		}
		n, err := strconv.Atoi(w)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("--cpus: %q is neither a positive count nor all", w)
		}
		out = append(out, n)
	}
	return out, nil
}

// newBenchPassthroughCmd is the baseline child of `enricher bench`.
func newBenchPassthroughCmd() *cobra.Command {
	var cfg enricher.PassthroughConfig
	var brokers, topics string
	cmd := &cobra.Command{
		Use:    "passthrough",
		Short:  "Consume topics and produce the same bytes to another topic (bench baseline)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.Brokers, err = cli.ParseBrokers(brokers); err != nil {
				return err
			}
			cfg.Topics = cli.SplitList(topics)
			return bench.Passthrough(cmd.Context(), cfg)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&brokers, "brokers", "localhost:9092", "Kafka brokers, comma-separated")
	fs.StringVar(&topics, "topics", "", "topics to consume, comma-separated")
	fs.StringVar(&cfg.Group, "group", "bench-passthrough", "consumer group")
	fs.StringVar(&cfg.OutputTopic, "output-topic", "", "topic to produce to")
	return cmd
}

// newProfiledRunCmd runs `enricher run` with the arguments after -- under a
// CPU profile, for `enricher bench --cpuprofile` (the whole life) and
// `--profile-dir` (--window: between SIGUSR1 and SIGUSR2).
func newProfiledRunCmd() *cobra.Command {
	var file string
	var window bool
	cmd := &cobra.Command{
		Use:    "profiled-run --cpuprofile FILE -- [run flags]",
		Short:  "enricher run under a CPU profile (bench)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			start := bench.StartCPUProfile
			if window {
				start = bench.WindowCPUProfile
			}
			stop, err := start(file)
			if err != nil {
				return err
			}
			defer stop()
			run := newRunCmd()
			run.SetArgs(args)
			run.SilenceUsage, run.SilenceErrors = true, true
			return run.ExecuteContext(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&file, "cpuprofile", "", "CPU profile file")
	cmd.Flags().BoolVar(&window, "window", false, "profile only from SIGUSR1 to SIGUSR2")
	return cmd
}
