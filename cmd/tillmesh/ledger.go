package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
	"github.com/tillmesh/tillmesh/node/pki"
	"github.com/tillmesh/tillmesh/ui"
)

func ledgerCommand() *cli.Command {
	data := &cli.StringFlag{Name: "data", Usage: "the till's data directory", Required: true, EnvVars: []string{"TILLMESH_DATA"}}
	return &cli.Command{
		Name:  "ledger",
		Usage: "inspect a till's ledger (the till must be stopped)",
		Subcommands: []*cli.Command{
			{
				Name:   "verify",
				Usage:  "check every stored event's signature and hash chain; exit 1 on any problem",
				Flags:  []cli.Flag{data},
				Action: ledgerVerify,
			},
			{
				Name:  "export",
				Usage: "print every event, one per line, with its EventID, receipt number and decoded body",
				Flags: []cli.Flag{data,
					&cli.StringFlag{Name: "format", Value: "jsonl", Usage: "jsonl or csv"}},
				Action: ledgerExport,
			},
		},
	}
}

func ledgerDir(c *cli.Context) (string, error) {
	dir := filepath.Join(c.String("data"), "ledger")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("--data %s: no ledger there (%w)", c.String("data"), err)
	}
	return dir, nil
}

func ledgerVerify(c *cli.Context) error {
	log, err := logger(c)
	if err != nil {
		return err
	}
	dir, err := ledgerDir(c)
	if err != nil {
		return err
	}
	rep, err := ledgerdb.Verify(dir, log)
	if err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "%-10s %8s %8s %6s  %s\n", "till", "events", "head", "held", "head event")
	problems := 0
	for _, ch := range rep.Chains {
		fmt.Fprintf(w, "%-10s %8d %8d %6d  %s\n", ch.Till.Short(), ch.Events, ch.Head, ch.Held, ch.HeadID)
		for _, p := range ch.Problems {
			fmt.Fprintf(w, "  PROBLEM %s\n", p)
			problems++
		}
	}
	if rep.Quarantined > 0 {
		fmt.Fprintf(w, "%d damaged records were moved aside by an earlier start\n", rep.Quarantined)
	}
	if rep.Evidence > 0 {
		fmt.Fprintf(w, "%d conflicting events kept as equivocation evidence\n", rep.Evidence)
		problems += rep.Evidence
	}
	if problems > 0 {
		return cli.Exit(fmt.Sprintf("ledger verify: %d problems", problems), 1)
	}
	fmt.Fprintf(w, "ok: %d chains verified, every signature checked\n", len(rep.Chains))
	return nil
}

// exported is one line of `ledger export`.
type exported struct {
	EventID string        `json:"event_id"`
	Store   string        `json:"store"`
	Till    string        `json:"till"`
	Seq     uint64        `json:"seq"`
	Receipt string        `json:"receipt"`
	Time    string        `json:"time"`
	HLC     string        `json:"hlc"`
	Kind    ledger.Kind   `json:"kind"`
	Key     string        `json:"idempotency_key,omitempty"`
	Total   *ledger.Money `json:"total,omitempty"`
	// Fiscal registration of a sale, refund, void or Z report, in a
	// store that registers them: "pending", "sent" (with the service's
	// number, sign and verification URL) or "rejected".
	Fiscal       string      `json:"fiscal,omitempty"`
	FiscalNumber string      `json:"fiscal_number,omitempty"`
	FiscalSign   string      `json:"fiscal_sign,omitempty"`
	FiscalURL    string      `json:"fiscal_url,omitempty"`
	Body         ledger.Body `json:"body"`
}

func ledgerExport(c *cli.Context) error {
	log, err := logger(c)
	if err != nil {
		return err
	}
	format := c.String("format")
	if format != "jsonl" && format != "csv" {
		return fmt.Errorf("--format %q: want jsonl or csv", format)
	}
	dir, err := ledgerDir(c)
	if err != nil {
		return err
	}
	// The whole till (stopped) when it opens, for the fiscal
	// registrations its inventory holds; else the ledger alone.
	var db *ledgerdb.DB
	var fiscalOf func(ev *ledger.Event) (ui.FiscalRecord, bool)
	quiet := slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn})) // the export is the output
	if t, err := node.OpenStopped(c.Context, c.String("data"), quiet); err == nil {
		defer t.Close()
		db = t.DB()
		fiscalOf = func(ev *ledger.Event) (ui.FiscalRecord, bool) {
			switch ev.Body.(type) {
			case *ledger.Sale, *ledger.Refund, *ledger.Void, *ledger.ShiftClose:
			default:
				return ui.FiscalRecord{}, false
			}
			r, err := t.FiscalRecord(c.Context, ev.ID().String())
			return r, err == nil && r.State != "off"
		}
	} else {
		log.Warn("ledger export without fiscal registrations: the till does not open", "err", err)
		store, err := pki.LoadStoreFile(filepath.Join(c.String("data"), pki.StoreFileName))
		if err != nil {
			return fmt.Errorf("ledger export: the store's ID: %w", err)
		}
		cfg := ledgerdb.DefaultConfig(dir, store.ID)
		cfg.Logger, cfg.Ballast = log, 0
		if db, err = ledgerdb.Open(cfg); err != nil {
			return err
		}
		defer db.Close()
	}
	certs, err := db.Certificates()
	if err != nil {
		return err
	}
	var tills []ledger.TillID
	db.View(func(s *ledger.State) { tills = s.Tills() })
	out := newExporter(c.App.Writer, format)
	for _, t := range tills {
		number := uint32(0)
		if ct := certs[t]; ct != nil {
			number = ct.Number
		}
		err := db.Range(t, 1, func(ev *ledger.Event) bool {
			var n uint64
			db.View(func(s *ledger.State) { n, _ = s.ReceiptNumber(ev.Till, ev.Seq) })
			x := toExported(ev, number, n)
			if fiscalOf != nil {
				if r, ok := fiscalOf(ev); ok {
					x.Fiscal, x.FiscalNumber, x.FiscalSign, x.FiscalURL = r.State, r.Number, r.Sign, r.URL
				}
			}
			err = out.write(x)
			return err == nil
		})
		if err != nil {
			return err
		}
	}
	return out.flush()
}

// toExported is one line of the export: n is the event's receipt number
// (0 for an event that takes none: its receipt column is empty), number
// its till's number (0 if unknown: "?-n").
func toExported(ev *ledger.Event, number uint32, n uint64) exported {
	receipt := ""
	switch {
	case n > 0 && number > 0:
		receipt = ledger.ReceiptNo(number, n)
	case n > 0:
		receipt = "?-" + strconv.FormatUint(n, 10)
	}
	x := exported{
		EventID: ev.ID().String(), Store: ev.Store.String(), Till: ev.Till.String(), Seq: ev.Seq,
		Receipt: receipt, Time: time.UnixMilli(ev.Time.Wall).UTC().Format(time.RFC3339Nano),
		HLC: ev.Time.String(), Kind: ev.Kind(), Key: ev.Key, Body: ev.Body,
	}
	var total ledger.Money
	switch b := ev.Body.(type) {
	case *ledger.Sale:
		t, _ := b.Totals()
		total = t.Total
		x.Total = &total
	case *ledger.Refund:
		for _, l := range b.Lines {
			total -= l.Amount
		}
		x.Total = &total
	case *ledger.Void:
		total = -b.Total
		x.Total = &total
	}
	return x
}

type exporter struct {
	format string
	enc    *json.Encoder
	csv    *csv.Writer
	header bool
}

func newExporter(w io.Writer, format string) *exporter {
	e := &exporter{format: format}
	if format == "csv" {
		e.csv = csv.NewWriter(w)
	} else {
		e.enc = json.NewEncoder(w)
	}
	return e
}

func (e *exporter) write(x exported) error {
	if e.enc != nil {
		return e.enc.Encode(x)
	}
	if !e.header {
		e.header = true
		if err := e.csv.Write([]string{"event_id", "till", "seq", "receipt", "time", "kind", "total", "fiscal", "fiscal_number", "fiscal_sign", "fiscal_url", "body"}); err != nil {
			return err
		}
	}
	body, err := json.Marshal(x.Body)
	if err != nil {
		return err
	}
	total := ""
	if x.Total != nil {
		total = strconv.FormatInt(int64(*x.Total), 10)
	}
	return e.csv.Write([]string{x.EventID, x.Till, strconv.FormatUint(x.Seq, 10), x.Receipt, x.Time, string(x.Kind), total,
		x.Fiscal, x.FiscalNumber, x.FiscalSign, x.FiscalURL, string(body)})
}

func (e *exporter) flush() error {
	if e.csv != nil {
		e.csv.Flush()
		return e.csv.Error()
	}
	return nil
}
