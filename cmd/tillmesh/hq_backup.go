package main

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/node/hq"
)

// HQ's embedded storage is backed up with HQ stopped: Badger lets one
// process open a directory, and a second process opening it would first
// run the power-cut repairs on files the running HQ writes. A backup of a
// day's data takes seconds; tills keep selling meanwhile and the relays
// send HQ what it lacks when it is back.

func hqBackupCommand() *cli.Command {
	return &cli.Command{
		Name:      "backup",
		Usage:     "back up HQ's embedded storage to a file (stop HQ first)",
		ArgsUsage: " ",
		Description: "Writes Badger's own backup stream with a header and a SHA-256 trailer. --data defaults to\n" +
			"\"data\" in HQ's configuration file. For PostgreSQL use pg_dump (see README, \"Backups\").",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Usage: "HQ's storage directory (default: \"data\" in --config)", EnvVars: []string{"TILLMESH_HQ_DATA"}},
			&cli.StringFlag{Name: "out", Required: true, Usage: "the backup file to write (replaced only when the backup is complete)"},
			&cli.StringFlag{Name: "config", Value: "/etc/tillmesh/hq.conf", Usage: "HQ's configuration file, for its \"data\"", EnvVars: []string{"TILLMESH_HQ_CONFIG"}},
		},
		Action: func(c *cli.Context) error {
			log, err := logger(c)
			if err != nil {
				return err
			}
			dir, err := hqDataDir(c)
			if err != nil {
				return err
			}
			info, err := hq.BackupBadgerFile(c.Context, dir, c.String("out"), time.Now(), log)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "backed up %s to %s: %d bytes\n", dir, c.String("out"), info.Bytes)
			printEvents(c, info)
			return nil
		},
	}
}

func hqRestoreCommand() *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "restore HQ's embedded storage from a backup into an empty directory (HQ stopped)",
		ArgsUsage: " ",
		Description: "Checks the whole file first; a truncated or damaged file, or one that is not an HQ backup,\n" +
			"is refused and nothing is written. The directory must be new or empty: move the old one aside.\n" +
			"Start HQ afterwards: the stores' relays send it every event it lacks.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Usage: "HQ's storage directory, missing or empty (default: \"data\" in --config)", EnvVars: []string{"TILLMESH_HQ_DATA"}},
			&cli.StringFlag{Name: "in", Required: true, Usage: "the backup file written by tillmesh hq backup"},
			&cli.StringFlag{Name: "config", Value: "/etc/tillmesh/hq.conf", Usage: "HQ's configuration file, for its \"data\"", EnvVars: []string{"TILLMESH_HQ_CONFIG"}},
		},
		Action: func(c *cli.Context) error {
			log, err := logger(c)
			if err != nil {
				return err
			}
			dir, err := hqDataDir(c)
			if err != nil {
				return err
			}
			info, err := hq.RestoreBadgerFile(c.Context, dir, c.String("in"), log)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "restored %s from %s (backup of %s)\n", dir, c.String("in"),
				time.UnixMilli(info.Created).UTC().Format(time.RFC3339))
			printEvents(c, info)
			return nil
		},
	}
}

// hqDataDir is --data, or "data" in HQ's configuration file.
func hqDataDir(c *cli.Context) (string, error) {
	if d := c.String("data"); d != "" {
		return d, nil
	}
	path := c.String("config")
	lines, err := readConfig(path)
	if errors.Is(err, fs.ErrNotExist) && !c.IsSet("config") {
		return "", errors.New("--data is missing: give it, or set \"data\" in HQ's configuration file (--config)")
	}
	if err != nil {
		return "", err
	}
	keys := map[string]bool{}
	for _, f := range hqCommand().Flags {
		keys[f.Names()[0]] = true
	}
	for _, f := range c.App.Flags {
		keys[f.Names()[0]] = true
	}
	dir := ""
	for _, l := range lines {
		if !keys[l.key] || l.key == "config" {
			return "", fmt.Errorf("configuration %s line %d: unknown key %q", path, l.line, l.key)
		}
		switch {
		case l.key == "data":
			dir = l.value
		case l.key == "postgres" && l.value != "":
			return "", fmt.Errorf("configuration %s line %d: HQ stores its data in PostgreSQL: back it up with pg_dump or base backups (README, \"Backups\")", path, l.line)
		}
	}
	if dir == "" {
		return "", fmt.Errorf("--data is missing and %s sets no \"data\"", path)
	}
	return dir, nil
}

func printEvents(c *cli.Context, info hq.BackupInfo) {
	for _, name := range slices.Sorted(maps.Keys(info.Events)) {
		fmt.Fprintf(c.App.Writer, "  store %q: %d events\n", name, info.Events[name])
	}
}
