package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/testnet"
)

func testnetCommand() *cli.Command {
	return &cli.Command{
		Name:  "testnet",
		Usage: "build whole stores on this machine, cut links, kill tills, skew clocks, and check that nothing was lost or counted twice",
		Subcommands: []*cli.Command{
			fiscalSimCommand(), // testnet_fiscalsim.go
			{
				Name:  "run",
				Usage: "run a scenario and report; exit status 0 only when every invariant holds",
				Description: "Builds the scenario's stores (N stores x M tills, HQ behind a gate that can cut\n" +
					"them off), runs its steps (sales, refunds, shifts, deliveries, partitions, kills,\n" +
					"wipes, clock skew, slow and lossy links, HQ outages), waits for every till and HQ to agree, and checks:\n" +
					"every acknowledged event on every till and at HQ, no EventID twice, identical\n" +
					"ledgers, CRDT stock equal to the fold of the ledger everywhere, every signature,\n" +
					"no over-refund, unique receipt numbers.\n\n" +
					"Modes: inproc (every till a node in this process), process (every till a\n" +
					"`tillmesh till` child; kill is SIGKILL; RSS per till), netns (root: every till\n" +
					"process in its own network namespace on a bridge, peers found by mDNS only).\n" +
					"--scenario is a built-in name (tillmesh testnet list) or a file.",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "scenario", Required: true, Usage: "a built-in scenario's name or a scenario file"},
					&cli.Uint64Flag{Name: "seed", Usage: "seed of the workload (default: a random one, printed)"},
					&cli.StringFlag{Name: "mode", Value: "inproc", Usage: "inproc, process or netns"},
					&cli.StringFlag{Name: "scale", Value: "full", Usage: "full (as written) or small (the CI sizes the scenario gives)"},
					&cli.BoolFlag{Name: "json", Usage: "print the report as one JSON object (progress goes to stderr)"},
					&cli.StringFlag{Name: "dir", Usage: "work directory, kept afterwards (default: a temporary one, removed)"},
					&cli.DurationFlag{Name: "wait", Value: 2 * time.Minute, Usage: "bound of each wait step and of the final convergence"},
					&cli.IntFlag{Name: "history", Usage: "sales of the past year in each store's first till before the scenario (a year: 1000000); the report gives each till's start times and peak RSS"},
				},
				Action: runTestnet,
			},
			{
				Name:  "list",
				Usage: "list the built-in scenarios",
				Action: func(c *cli.Context) error {
					for _, name := range testnet.Builtins() {
						sc, err := testnet.Load(name, testnet.Full)
						if err != nil {
							return err
						}
						doc := strings.TrimPrefix(strings.Join(strings.Fields(sc.Doc), " "), name+": ")
						if i := strings.Index(doc, ". "); i >= 0 {
							doc = doc[:i+1]
						}
						fmt.Fprintf(c.App.Writer, "%-16s %s\n", name, doc)
					}
					return nil
				},
			},
			{
				Name:      "show",
				Usage:     "print a built-in scenario, to start your own from",
				ArgsUsage: "NAME",
				Action: func(c *cli.Context) error {
					text, err := testnet.Source(c.Args().First())
					if err != nil {
						return err
					}
					_, err = io.WriteString(c.App.Writer, text)
					return err
				},
			},
		},
	}
}

func runTestnet(c *cli.Context) error {
	mode, err := testnet.ParseMode(c.String("mode"))
	if err != nil {
		return fmt.Errorf("--mode: %w", err)
	}
	scale := testnet.Scale(c.String("scale"))
	sc, err := testnet.Load(c.String("scenario"), scale)
	if err != nil {
		return err
	}
	cfg := testnet.DefaultConfig()
	cfg.Mode, cfg.Dir, cfg.Wait, cfg.History = mode, c.String("dir"), c.Duration("wait"), c.Int("history")
	cfg.Seed = c.Uint64("seed")
	if !c.IsSet("seed") {
		cfg.Seed = rand.Uint64N(1_000_000)
	}
	if c.IsSet("log-level") {
		if cfg.Logger, err = logger(c); err != nil {
			return err
		}
		cfg.ChildLogLevel = c.String("log-level")
	} else {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if mode != testnet.InProc {
		if cfg.Binary, err = os.Executable(); err != nil {
			return err
		}
	}
	out := c.App.Writer
	cfg.Progress = out
	if c.Bool("json") {
		cfg.Progress = c.App.ErrWriter
		if cfg.Progress == nil {
			cfg.Progress = os.Stderr
		}
	}
	rep, err := testnet.Run(c.Context, sc, cfg)
	if errors.Is(err, testnet.ErrNoNetns) {
		return fmt.Errorf("%w (try --mode process)", err)
	}
	if err != nil {
		return fmt.Errorf("scenario %s (seed %d): %w", sc.Name, cfg.Seed, err)
	}
	if c.Bool("json") {
		enc := json.NewEncoder(out)
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.WriteText(out)
	}
	if !rep.OK {
		return fmt.Errorf("scenario %s (seed %d, mode %s): %d invariant violation(s); rerun with --seed %d", sc.Name, cfg.Seed, mode, len(rep.Violations), cfg.Seed)
	}
	return nil
}
