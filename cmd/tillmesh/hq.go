package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/pki"
)

func hqCommand() *cli.Command {
	return configured(&cli.Command{
		Name:  "hq",
		Usage: "run HQ: verified ingest of every store's ledger, reports, catalog downlink, dashboard",
		Description: "Storage is embedded (--data, the default) or PostgreSQL (--postgres). Relays reach the API\n" +
			"under /v1 at --http; HQ staff use the dashboard at the same address.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Value: ".data/hq", Usage: "directory of the embedded storage", EnvVars: []string{"TILLMESH_HQ_DATA"}},
			&cli.StringFlag{Name: "postgres", Usage: "PostgreSQL DSN (postgres://user@host/db); replaces --data", EnvVars: []string{"TILLMESH_HQ_POSTGRES"}},
			&cli.IntFlag{Name: "postgres-conns", Value: 8, Usage: "PostgreSQL connections to keep"},
			&cli.StringFlag{Name: "http", Value: "127.0.0.1:8080", Usage: "address of the relay API and the dashboard (put TLS in front when it leaves loopback)", EnvVars: []string{"TILLMESH_HQ_HTTP"}},
			&cli.StringSliceFlag{Name: "register", Usage: "register the store of a store file (store.json) at start (repeatable)"},
			&cli.StringFlag{Name: "admin-password", Usage: "create or reset the dashboard login \"admin\"", EnvVars: []string{"TILLMESH_HQ_ADMIN_PASSWORD"}},
			&cli.BoolFlag{Name: "secure-cookies", Usage: "mark session cookies Secure (HQ served over HTTPS)"},
			&cli.BoolFlag{Name: "verify-every-signature", Usage: "check each event's signature instead of one per run plus the hash chain"},
			&cli.StringFlag{Name: "tz", Value: "UTC", Usage: "time zone of report days and hours (IANA name)"},
			&cli.StringFlag{Name: "currency", Value: "EUR", Usage: "the chain's currency, in which the dashboard writes amounts (ISO 4217: EUR, UZS)", EnvVars: []string{"TILLMESH_HQ_CURRENCY"}},
			&cli.Int64Flag{Name: "smallest-amount", Value: 0, Usage: "smallest amount in use, in minor units of --currency (100: so'm prices in hundreds); 0: any", EnvVars: []string{"TILLMESH_HQ_SMALLEST_AMOUNT"}},
		},
		Action:      runHQ,
		Subcommands: []*cli.Command{hqBackupCommand(), hqRestoreCommand()},
	}, "TILLMESH_HQ_", "/etc/tillmesh/hq.conf")
}

func runHQ(c *cli.Context) error {
	log, err := logger(c)
	if err != nil {
		return err
	}
	loc, err := time.LoadLocation(c.String("tz"))
	if err != nil {
		return fmt.Errorf("--tz %q: %w", c.String("tz"), err)
	}
	var st hq.Storage
	if dsn := c.String("postgres"); dsn != "" {
		st, err = hq.OpenPostgres(c.Context, dsn, c.Int("postgres-conns"))
	} else {
		st, err = hq.OpenBadger(c.String("data"), log)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	cfg := hq.DefaultConfig()
	cfg.Storage, cfg.Logger, cfg.HTTPAddr, cfg.Location = st, log, c.String("http"), loc
	cfg.AdminPassword, cfg.SecureCookies = c.String("admin-password"), c.Bool("secure-cookies")
	cfg.Currency, cfg.SmallestAmount = c.String("currency"), ledger.Money(c.Int64("smallest-amount"))
	cfg.VerifyEverySignature = c.Bool("verify-every-signature")
	h, err := hq.New(c.Context, cfg)
	if err != nil {
		return err
	}
	for _, path := range c.StringSlice("register") {
		sf, err := pki.LoadStoreFile(path)
		if err != nil {
			return err
		}
		if err := h.RegisterStore(c.Context, sf.ID, sf.Name, sf.CA); err != nil {
			return fmt.Errorf("register %s: %w", path, err)
		}
		fmt.Fprintf(c.App.Writer, "store %q (%s) registered\n", sf.Name, sf.ID)
	}
	users, err := h.HasUsers(c.Context)
	if err != nil {
		return err
	}
	if !users {
		b := make([]byte, 9)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		pw := hex.EncodeToString(b)
		if err := h.SetPassword(c.Context, "admin", pw); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "no dashboard login yet: created user admin with password %s (change it with --admin-password)\n", pw)
	}
	fmt.Fprintf(c.App.Writer, "hq  http://%s\n", cfg.HTTPAddr)
	if err := h.Run(c.Context); err != nil && !errors.Is(err, c.Context.Err()) {
		return err
	}
	return nil
}
