package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/testnet/fiscalsim"
)

// fiscalSimCommand is `tillmesh testnet fiscal-sim`: the fiscal service
// simulator the tests and the demo use, and `... fiscal-sim set` to
// change its faults while it runs.
func fiscalSimCommand() *cli.Command {
	faults := []cli.Flag{
		&cli.BoolFlag{Name: "down", Usage: "answer every request 503 (the service is down)"},
		&cli.DurationFlag{Name: "delay", Usage: "wait this long before each answer (e.g. 20ms)"},
		&cli.IntFlag{Name: "reject", Usage: "refuse this percentage of receipts (0-100), chosen by their ID"},
		&cli.StringFlag{Name: "reject-code", Value: "invalid_receipt", Usage: "the code refused receipts get"},
		&cli.StringFlag{Name: "token", Usage: "require this API token (Authorization: Bearer)"},
	}
	return &cli.Command{
		Name:  "fiscal-sim",
		Usage: "run a simulated fiscal (tax) service: registers receipts, answers repeats by idempotency key, can be down, slow or refusing",
		Description: "Speaks the reference fiscal provider's JSON (POST /api/v1/receipts and\n" +
			"/api/v1/zreports with an Idempotency-Key); GET /stats counts requests,\n" +
			"registrations and repeats; GET /check?n=NUMBER&s=SIGN is the verification page\n" +
			"a receipt's QR code points at; POST /control (or `fiscal-sim set`) changes the\n" +
			"faults while it runs. Point a store at it on a till's manager screen\n" +
			"(Outbox: fiscal service URL).",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "http", Value: "127.0.0.1:8090", Usage: "address to serve on"},
		}, faults...),
		Action: runFiscalSim,
		Subcommands: []*cli.Command{{
			Name:   "set",
			Usage:  "change a running simulator's faults (each unset flag turns its fault off)",
			Flags:  append([]cli.Flag{&cli.StringFlag{Name: "url", Value: "http://127.0.0.1:8090", Usage: "the simulator's address"}}, faults...),
			Action: setFiscalSim,
		}},
	}
}

func faultsOf(c *cli.Context) (fiscalsim.Faults, error) {
	f := fiscalsim.Faults{Down: c.Bool("down"), Delay: fiscalsim.Duration(c.Duration("delay")),
		RejectPercent: c.Int("reject"), RejectCode: c.String("reject-code"), Token: c.String("token")}
	if f.RejectPercent < 0 || f.RejectPercent > 100 {
		return f, fmt.Errorf("--reject %d: want a percentage 0-100", f.RejectPercent)
	}
	if c.Duration("delay") < 0 || c.Duration("delay") > time.Hour {
		return f, fmt.Errorf("--delay %s: want 0 to 1h", c.Duration("delay"))
	}
	return f, nil
}

func runFiscalSim(c *cli.Context) error {
	f, err := faultsOf(c)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.String("http"))
	if err != nil {
		return fmt.Errorf("listen %s: %w", c.String("http"), err)
	}
	s := fiscalsim.NewSim()
	s.Set(f)
	fmt.Fprintf(c.App.Writer, "fiscal-sim  http://%s  (stats: /stats, faults: /control)\n", ln.Addr())
	if err := s.Serve(c.Context, ln); err != nil {
		return err
	}
	st := s.Stats()
	fmt.Fprintf(c.App.Writer, "fiscal-sim: %d requests, %d registered, %d repeats answered from the idempotency key, %d refused\n",
		st.Requests, st.Registered, st.Duplicates, st.Rejected)
	return nil
}

func setFiscalSim(c *cli.Context) error {
	f, err := faultsOf(c)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(f)
	cl := &http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Post(c.String("url")+"/control", "application/json", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("set the simulator's faults: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("set the simulator's faults: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	fmt.Fprintf(c.App.Writer, "%s", body)
	return nil
}
