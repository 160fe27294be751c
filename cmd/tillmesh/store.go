package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/pki"
)

func storeCommand() *cli.Command {
	dir := &cli.StringFlag{Name: "dir", Usage: "the store directory (holds the CA key: keep it off the tills)", Required: true}
	return &cli.Command{
		Name:  "store",
		Usage: "set up a store and enroll its tills",
		Subcommands: []*cli.Command{
			{
				Name:  "init",
				Usage: "create a store: ID, LAN mesh key (PSK) and certificate authority",
				Flags: []cli.Flag{dir, &cli.StringFlag{Name: "name", Required: true, Usage: "the store's name"}},
				Action: func(c *cli.Context) error {
					s, err := pki.InitStore(c.String("dir"), c.String("name"))
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "store %q (%s) created in %s\n", s.Name, s.ID, c.String("dir"))
					fmt.Fprintf(c.App.Writer, "  %s  goes to every till (secret: it holds the mesh key)\n", pki.StoreFileName)
					fmt.Fprintf(c.App.Writer, "  %s  signs till certificates; keep it with whoever enrolls tills\n", pki.CAKeyFileName)
					return nil
				},
			},
			{
				Name:  "enroll",
				Usage: "certify a till: binds its key to the store, a till number and a name",
				Flags: []cli.Flag{dir,
					&cli.StringFlag{Name: "till-data", Required: true, Usage: "the till's data directory (its key is created there if missing)"},
					&cli.UintFlag{Name: "number", Required: true, Usage: "the till's number, unique in the store; receipts are <number>-<seq>"},
					&cli.StringFlag{Name: "name", Usage: "the till's name", Value: ""},
				},
				Action: func(c *cli.Context) error {
					name := c.String("name")
					if name == "" {
						name = fmt.Sprintf("Till %d", c.Uint("number"))
					}
					cert, err := pki.Enroll(c.String("dir"), c.String("till-data"), uint32(c.Uint("number")), name, time.Now())
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "till %d %q (%s) enrolled; certificate and store file written to %s\n",
						cert.Number, cert.Name, cert.Till.Short(), c.String("till-data"))
					return nil
				},
			},
			{
				Name:  "revoke",
				Usage: "withdraw a till's certificate (lost, stolen, retired): writes a revocation signed by the store CA",
				Description: "Upload the file it writes on any till's manager screen (or POST it to /api/revocations);\n" +
					"it spreads to every till, which then refuses the till's connections and its events after\n" +
					"--after-seq: its receipts up to <number>-<after-seq> stay valid and counted, later ones\n" +
					"leave every till's reports and stock and HQ's, even where they had already arrived.\n" +
					"--after-seq is required: the till's last seq shows on any till's status page and in\n" +
					"HQ's store view; 0 counts none of its events.",
				Flags: []cli.Flag{dir,
					&cli.UintFlag{Name: "number", Required: true, Usage: "the till's number"},
					&cli.Uint64Flag{Name: "after-seq", Required: true, Usage: "the last seq (receipt <number>-<seq>) of the till that stays valid; 0 for none"},
					&cli.StringFlag{Name: "reason", Usage: "why, for the record"},
				},
				Action: func(c *cli.Context) error {
					r, path, err := node.RevokeTill(c.String("dir"), uint32(c.Uint("number")), c.Uint64("after-seq"), c.String("reason"), time.Now())
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "till %d (%s) revoked after seq %d; revocation written to %s\n", r.Number, r.Till.Short(), r.AfterSeq, path)
					fmt.Fprintln(c.App.Writer, "  upload it on any till's manager screen (Settings); it spreads to every till")
					return nil
				},
			},
		},
	}
}
