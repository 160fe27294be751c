package testnet

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Mode says how the tills of a run are built.
type Mode string

// Modes.
const (
	// InProc runs every till as a full node.Till in this process, each
	// with its own libp2p host on loopback. Partitions use Host.Block;
	// kill stops a till abruptly but lets the operation in progress end.
	InProc Mode = "inproc"
	// Process runs every till as a `tillmesh till` child process on
	// loopback with static peers: kill is SIGKILL, memory is each
	// process's RSS. Partitions and clock skew go through the till's
	// hidden --testnet-control stdin.
	Process Mode = "process"
	// Netns runs every till process in its own network namespace, joined
	// to its store's bridge by a veth pair, finding its peers by mDNS
	// only. A partition takes the till's link down (or moves a group of
	// tills onto a bridge of their own). Root only.
	Netns Mode = "netns"
)

// ParseMode checks a mode name.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case InProc, Process, Netns:
		return m, nil
	}
	return "", fmt.Errorf("mode %q: want inproc, process or netns", s)
}

// Config configures a run. Start from DefaultConfig.
type Config struct {
	Mode Mode
	// Seed drives every random choice of the workload (baskets, refunds,
	// tenders, rates). The network's timing is not under its control, so
	// two runs with one seed make the same requests, not the same ledger.
	Seed uint64
	// Binary is the tillmesh binary for the process and netns modes.
	Binary string
	// OldBinary is the previous release's tillmesh binary, for scenarios
	// with an upgrade step (rolling-upgrade): tills start on it and an
	// upgrade moves them to Binary, which must be built with -tags
	// testnethooks for the newkind step.
	OldBinary string
	// Dir is the work directory; empty means a temporary one, removed
	// after the run. A given Dir is kept (logs of child tills are there).
	Dir string
	// Logger receives the tills' and HQ's logs in inproc mode and the
	// harness's own debug lines. Child tills log to files in Dir.
	Logger *slog.Logger
	// Progress receives a line per step; nil for none.
	Progress io.Writer
	// Wait bounds a `wait` step without its own timeout, and the final
	// convergence.
	Wait time.Duration
	// ChildLogLevel is the --log-level of till processes.
	ChildLogLevel string
	// History is how many sales each store's first till holds before the
	// scenario starts, spread over the past year and written into its
	// ledger as if it had made them: every other till and HQ take them
	// over, and the report gives each till's start times and peak RSS.
	// 1,000,000 is a busy store's year; zero is none.
	History int
}

// DefaultConfig returns an inproc config with seed 1.
func DefaultConfig() Config {
	return Config{Mode: InProc, Seed: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Wait: 2 * time.Minute, ChildLogLevel: "warn"}
}

// Validate reports what is missing.
func (c Config) Validate() error {
	if _, err := ParseMode(string(c.Mode)); err != nil {
		return err
	}
	switch {
	case c.Mode != InProc && c.Binary == "":
		return fmt.Errorf("testnet: mode %s needs the tillmesh binary", c.Mode)
	case c.Logger == nil:
		return errors.New("testnet: no logger")
	case c.Wait <= 0:
		return errors.New("testnet: wait bound must be positive")
	case c.History < 0:
		return fmt.Errorf("testnet: history of %d events", c.History)
	}
	return nil
}
