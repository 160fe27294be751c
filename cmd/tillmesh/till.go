package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/hw"
	"github.com/tillmesh/tillmesh/hw/sim"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/p2p"
	"github.com/tillmesh/tillmesh/node/pki"
)

func tillCommand() *cli.Command {
	return configured(&cli.Command{
		Name:  "till",
		Usage: "run a till: ledger, mesh with the store's other tills, inventory and API",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "data", Required: true, Usage: "the till's data directory (enrolled with `tillmesh store enroll`)", EnvVars: []string{"TILLMESH_DATA"}},
			&cli.StringFlag{Name: "store", Usage: "the store file (default: store.json in --data)", EnvVars: []string{"TILLMESH_STORE"}},
			&cli.StringFlag{Name: "http", Value: "127.0.0.1:8081", Usage: "address of the UI and API; keep it on loopback", EnvVars: []string{"TILLMESH_HTTP"}},
			&cli.StringSliceFlag{Name: "listen", Value: cli.NewStringSlice("/ip4/0.0.0.0/tcp/0"), Usage: "libp2p listen multiaddr (repeatable)"},
			&cli.StringSliceFlag{Name: "peer", Usage: "static peer multiaddr with /p2p/<id> (repeatable), for LANs that block multicast"},
			&cli.BoolFlag{Name: "no-mdns", Usage: "do not discover peers by mDNS"},
			&cli.DurationFlag{Name: "inventory-snapshot-wait", Value: 5 * time.Second, Usage: "with an empty inventory, how long to wait for a peer (--peer or found by mDNS) to serve the store's inventory as a snapshot (0: walk the DAG from peers)"},
			&cli.StringFlag{Name: "hw", Usage: "devices: a device config file (JSON, see hw.LoadFile), or \"sim\" for simulated ones whose receipts show at /sim/receipts", EnvVars: []string{"TILLMESH_HW"}},
			&cli.StringFlag{Name: "hq", Usage: "HQ's URL; one till of the store relays the ledger there", EnvVars: []string{"TILLMESH_HQ"}},
			&cli.StringFlag{Name: "mem-report", Hidden: true, Usage: "measuring: write where the process's memory is to this file on SIGUSR1, and at its peak RSS to the file + .peak (%p: the process ID)", EnvVars: []string{"TILLMESH_MEM_REPORT"}},
			&cli.StringFlag{Name: "cpu-profile", Hidden: true, Usage: "measuring: write CPU profiles of 5 s each to this path + -1, -2, ... (%p: the process ID)", EnvVars: []string{"TILLMESH_CPU_PROFILE"}},
		}, tillTestnetFlags()...),
		Action: func(c *cli.Context) error {
			if setTillRuntimeLimits(os.Getenv) {
				go followLiveHeap(c.Context)
			}
			if p := c.String("mem-report"); p != "" {
				serveMemReports(c.Context, p)
			} else {
				// No heap profile is ever read: its buckets cost 1.7 MB
				// of a till's RSS (BENCHMARKS.md, "Footprint").
				runtime.MemProfileRate = 0
			}
			if p := c.String("cpu-profile"); p != "" {
				serveCPUProfiles(c.Context, p, 5*time.Second)
			}
			log, err := logger(c)
			if err != nil {
				return err
			}
			storePath := c.String("store")
			if storePath == "" {
				storePath = filepath.Join(c.String("data"), pki.StoreFileName)
			}
			store, err := pki.LoadStoreFile(storePath)
			if err != nil {
				return err
			}
			cfg := node.DefaultConfig()
			cfg.DataDir, cfg.Store, cfg.Logger = c.String("data"), store, log
			cfg.Release = releaseName()
			cfg.HTTPAddr, cfg.ListenAddrs, cfg.StaticPeers = c.String("http"), c.StringSlice("listen"), c.StringSlice("peer")
			cfg.MDNS, cfg.HQ = !c.Bool("no-mdns"), c.String("hq")
			cfg.InventorySnapshotWait = c.Duration("inventory-snapshot-wait")
			switch hwArg := c.String("hw"); hwArg {
			case "":
			case "sim":
				cfg.Sim = sim.NewSet()
				cfg.HW.Devices = cfg.Sim.Devices()
			default:
				f, err := hw.LoadFile(hwArg)
				if err != nil {
					return err
				}
				cfg.HW.Devices = f.Devices
			}
			clock := newSkewClock(c.Duration("clock-skew"))
			cfg.Now = clock.Now
			var shaper *p2p.Shaper
			if c.Bool("testnet-control") {
				shaper = p2p.NewShaper(c.Uint64("shape-seed"))
				cfg.Shaper = shaper
			}
			till, err := node.New(c.Context, cfg)
			if err != nil {
				return err
			}
			defer till.Close()
			dropStartupText()
			if c.Bool("testnet-control") {
				go testnetControl(c.Context, os.Stdin, c.App.Writer, till, clock, shaper)
			}
			fmt.Fprintf(c.App.Writer, "till %d of store %q: http://%s  peer %s\n", till.Number(), store.Name, cfg.HTTPAddr, till.Host().ID())
			for _, a := range till.Host().Addrs() {
				fmt.Fprintf(c.App.Writer, "  listening %s\n", a)
			}
			if code, path, open, err := till.SetupCode(c.Context); err != nil {
				return err
			} else if open {
				fmt.Fprintf(c.App.Writer, "no manager yet: open http://%s/setup on this machine and enter the set-up code %s (also in %s)\n", cfg.HTTPAddr, code, path)
			}
			return till.Run(c.Context)
		},
	}, "TILLMESH_", "/etc/tillmesh/till.conf")
}
