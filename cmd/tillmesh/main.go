// Command tillmesh runs a till, HQ, the demo store and the tools around
// them. Each subcommand lives in its own file; flags map onto component
// configs here and nowhere else.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app().RunContext(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "tillmesh:", err)
		os.Exit(1)
	}
}

func app() *cli.App {
	return &cli.App{
		Name:  "tillmesh",
		Usage: "an offline-first point-of-sale mesh for stores with several tills",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: []string{"TILLMESH_LOG_LEVEL"}},
		},
		Commands: []*cli.Command{demoCommand(), tillCommand(), hqCommand(), storeCommand(), ledgerCommand(), benchCommand(), testnetCommand(), hwCommand(), staffCommand(), catalogCommand(), versionCommand()},
	}
}

// logger builds the process logger from the global flags.
func logger(c *cli.Context) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.String("log-level"))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})), nil
}
