package testnet

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is the outcome of a run. OK is true only when every invariant
// held: nothing acknowledged lost or counted twice, every ledger and
// stock identical, every signature valid, no over-refund, unique
// receipts, and convergence within the run's bound.
type Report struct {
	Scenario string `json:"scenario"`
	Seed     uint64 `json:"seed"`
	Mode     string `json:"mode"`
	Scale    string `json:"scale"`
	Stores   int    `json:"stores"`
	Tills    int    `json:"tills"`    // till positions, over every store
	Enrolled int    `json:"enrolled"` // tills enrolled: a wiped till comes back as a new one
	Events   uint64 `json:"events"`   // in the merged ledgers
	Acked    int    `json:"acked"`    // events the tills acknowledged to the workload
	Sales    int    `json:"sales"`    // acknowledged
	Refunds  int    `json:"refunds"`  // acknowledged
	Replays  int    `json:"replays"`  // requests in doubt (their till died) found recorded when asked again
	// Transfers are stock transfers sent between stores and, of them,
	// those received (transfers.go).
	Transfers         int `json:"transfers,omitempty"`
	TransfersReceived int `json:"transfers_received,omitempty"`

	Converged        bool    `json:"converged"`
	ConvergenceMS    float64 `json:"convergence_ms"` // from the last step until every till and HQ agreed
	Lost             int     `json:"lost"`
	Duplicated       int     `json:"duplicated"`
	StockMismatches  int     `json:"stock_mismatches"`
	LedgersIdentical bool    `json:"ledgers_identical"`
	SignaturesOK     int     `json:"signatures_verified"`
	Anomalies        int     `json:"anomalies"`
	ReceiptsUnique   bool    `json:"receipts_unique"` // and gapless per till, the same in every copy
	HQEvents         uint64  `json:"hq_events"`

	PropagationSamples int       `json:"propagation_samples"`
	PropagationP50MS   float64   `json:"propagation_p50_ms"`
	PropagationP99MS   float64   `json:"propagation_p99_ms"`
	CatchupMS          float64   `json:"catchup_ms"` // longest, from a heal until converged
	Catchups           []float64 `json:"catchups_ms,omitempty"`
	MaxRSSMB           float64   `json:"max_rss_mb"`
	// History is Config.History; TillFigures each incarnation's start
	// times (until it could sell) and peak RSS (process modes).
	History     int          `json:"history,omitempty"`
	TillFigures []TillFigure `json:"till_figures,omitempty"`
	RSSScope    string       `json:"rss_scope"`
	DurationMS  float64      `json:"duration_ms"`

	// Power cuts (the power-cut step): how many of each kind, till
	// starts that failed after one, and how long after its restart each
	// till sold again (every till, every cut).
	PowerModel       string  `json:"power_model,omitempty"`
	PowerCuts        int     `json:"power_cuts,omitempty"`
	PowerCutsSelling int     `json:"power_cuts_selling,omitempty"`
	PowerCutsIdle    int     `json:"power_cuts_idle,omitempty"`
	PowerCutsStartup int     `json:"power_cuts_startup,omitempty"`
	FailedStarts     int     `json:"failed_starts"`
	SellAgainSamples int     `json:"sell_again_samples,omitempty"`
	SellAgainP50MS   float64 `json:"sell_again_p50_ms,omitempty"`
	SellAgainMaxMS   float64 `json:"sell_again_max_ms,omitempty"`

	// Rolling upgrade: tills moved to the new release, events of a kind
	// the previous release does not know, and tills on the previous
	// release seen warning about them.
	Upgrades      int `json:"upgrades,omitempty"`
	NewKindEvents int `json:"new_kind_events,omitempty"`
	NewerWarnings int `json:"newer_warnings,omitempty"`

	Abandoned      int      `json:"abandoned"`       // requests in doubt when their till was wiped
	RefundsSkipped int      `json:"refunds_skipped"` // refunds of sales the till had not received yet
	Violations     []string `json:"violations"`
	Notes          []string `json:"notes,omitempty"`
	OK             bool     `json:"ok"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) {
	verdict := "PASS"
	if !r.OK {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "\n%s  scenario %s, seed %d, mode %s, scale %s, %.1f s\n", verdict, r.Scenario, r.Seed, r.Mode, r.Scale, r.DurationMS/1000)
	fmt.Fprintf(w, "  stores %d, tills %d (%d enrolled), events %d, acknowledged %d (%d sales, %d refunds, %d replays)\n",
		r.Stores, r.Tills, r.Enrolled, r.Events, r.Acked, r.Sales, r.Refunds, r.Replays)
	if r.Transfers > 0 {
		fmt.Fprintf(w, "  transfers between stores: %d sent, %d received\n", r.Transfers, r.TransfersReceived)
	}
	fmt.Fprintf(w, "  converged %v in %.0f ms; ledgers identical %v; HQ holds %d events\n", r.Converged, r.ConvergenceMS, r.LedgersIdentical, r.HQEvents)
	fmt.Fprintf(w, "  lost %d, duplicated %d, stock mismatches %d, anomalies %d, receipts unique %v, signatures verified %d\n",
		r.Lost, r.Duplicated, r.StockMismatches, r.Anomalies, r.ReceiptsUnique, r.SignaturesOK)
	if r.PropagationSamples > 0 {
		fmt.Fprintf(w, "  propagation to every other till (%d samples): p50 %.2f ms, p99 %.2f ms\n", r.PropagationSamples, r.PropagationP50MS, r.PropagationP99MS)
	}
	if len(r.Catchups) > 0 {
		parts := make([]string, len(r.Catchups))
		for i, c := range r.Catchups {
			parts[i] = fmt.Sprintf("%.0f ms", c)
		}
		fmt.Fprintf(w, "  catch-up after heal: %s\n", strings.Join(parts, ", "))
	}
	if r.PowerCuts > 0 {
		fmt.Fprintf(w, "  power cuts %d (%s model: %d selling, %d idle, %d in start-up), failed starts %d; sold again after restart (%d): p50 %.0f ms, max %.0f ms\n",
			r.PowerCuts, r.PowerModel, r.PowerCutsSelling, r.PowerCutsIdle, r.PowerCutsStartup, r.FailedStarts, r.SellAgainSamples, r.SellAgainP50MS, r.SellAgainMaxMS)
	}
	if r.Upgrades > 0 {
		fmt.Fprintf(w, "  rolling upgrade: %d till(s) upgraded, %d event(s) of a kind the previous release does not know, %d warning(s) seen on previous-release tills\n",
			r.Upgrades, r.NewKindEvents, r.NewerWarnings)
	}
	if r.MaxRSSMB > 0 {
		fmt.Fprintf(w, "  peak RSS %.1f MB (%s)\n", r.MaxRSSMB, r.RSSScope)
	}
	if r.History > 0 {
		fmt.Fprintf(w, "  history: %d sales of the past year at each store's first till\n", r.History)
	}
	for _, f := range r.TillFigures {
		fmt.Fprintf(w, "  till %s (number %d): %d start(s), first %.0f ms, slowest %.0f ms", f.Till, f.Number, f.Starts, f.FirstStartMS, f.MaxStartMS)
		if f.MaxRSSMB > 0 {
			fmt.Fprintf(w, ", peak RSS %.1f MB", f.MaxRSSMB)
		}
		fmt.Fprintln(w)
	}
	if r.Abandoned > 0 || r.RefundsSkipped > 0 {
		fmt.Fprintf(w, "  requests abandoned at a wipe %d; refunds skipped (sale not yet at that till) %d\n", r.Abandoned, r.RefundsSkipped)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	const maxShown = 30
	for i, v := range r.Violations {
		if i == maxShown {
			fmt.Fprintf(w, "  ... and %d more violations\n", len(r.Violations)-maxShown)
			break
		}
		fmt.Fprintf(w, "  VIOLATION: %s\n", v)
	}
}

// TillFigure is what one incarnation of a till cost: how long each start
// took until it could sell, and its peak RSS (0 in inproc mode, where the
// tills share the harness's process).
type TillFigure struct {
	Till         string  `json:"till"`
	Number       uint32  `json:"number"`
	Starts       int     `json:"starts"`
	FirstStartMS float64 `json:"first_start_ms"`
	MaxStartMS   float64 `json:"max_start_ms"`
	MaxRSSMB     float64 `json:"max_rss_mb,omitempty"`
}
