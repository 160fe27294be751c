package hq

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// reportCSVHeader names the columns of the report export: one row per
// store, day, till, hour and product of the report. Amounts are in the
// row's currency with its own number of decimals and a "." (12.50 EUR,
// 12000 UZS), as a spreadsheet reads them; rounding is the cash rounding
// (ledger.Report.Rounding).
var reportCSVHeader = []string{"section", "key", "name", "sales", "items", "sales_total", "refunds", "refunded",
	"voids", "voided", "net", "tax", "total", "cash", "card", "other", "rounding", "currency"}

func reportRow(section, key, name string, r *ledger.Report, cur i18n.Currency) []string {
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	if r.Currency != "" && r.Currency != cur.Code {
		if c, err := i18n.LookupCurrency(r.Currency); err == nil {
			cur = c
		}
	}
	m := func(v ledger.Money) string { // no grouping marks: a spreadsheet misreads them
		return strings.ReplaceAll(i18n.FormatNumber(i18n.English, int64(v), cur.Digits), ",", "")
	}
	return []string{section, key, name, i(int64(r.Sales)), i(r.Items), m(r.SalesTotal), i(int64(r.Refunds)),
		m(r.Refunded), i(int64(r.Voids)), m(r.Voided), m(r.Net), m(r.Tax), m(r.Total),
		m(r.Tenders[ledger.Cash]), m(r.Tenders[ledger.Card]), m(r.Tenders[ledger.Other]), m(r.Rounding), cur.Code}
}

// apiReportCSV is GET /hq/api/report.csv?store=&from=&to=: the report
// the dashboard shows, as CSV for a spreadsheet. The chain's (store=all)
// is served from the materialized chain report, as the dashboard's is.
func (h *HQ) apiReportCSV(w http.ResponseWriter, r *http.Request, _ *session) {
	q := r.URL.Query()
	store, err := storeParam(q.Get("store"))
	if err != nil || !validDay(q.Get("from")) || !validDay(q.Get("to")) {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, "want store=<id>|all, from= and to= as YYYY-MM-DD")
		return
	}
	query := Query{Store: store, From: q.Get("from"), To: q.Get("to"), TopN: 1000}
	var rep Report
	if store != nil { // one store's report is cheap: computed now
		rep = h.Report(query)
	} else {
		// The chain's, from the materialized answer for this shape
		// (chainreport.go): a query writes rows, and Last-Modified says
		// when the figures were known current.
		served, err := h.ChainReport(r.Context(), query)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		rep = *served.Report
		w.Header().Set("Last-Modified", served.AsOf.UTC().Format(http.TimeFormat))
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="tillmesh-report.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	cw.Write(reportCSVHeader)
	cw.Write(reportRow("total", "", "", &rep.Total, h.currency))
	for _, s := range rep.Stores {
		cw.Write(reportRow("store", s.Store.String(), s.Name, &s.Report, h.currency))
	}
	for _, d := range rep.Days {
		cw.Write(reportRow("day", d.Day, "", &d.Report, h.currency))
	}
	for _, t := range rep.Tills {
		cw.Write(reportRow("till", t.Store.String()+"/"+strconv.FormatUint(uint64(t.Number), 10), t.Name, &t.Report, h.currency))
	}
	for _, hs := range rep.Hours {
		r := ledger.NewReport()
		r.Sales, r.SalesTotal = hs.Sales, hs.Total
		r.Currency = rep.Total.Currency
		cw.Write(reportRow("hour", hs.Start.Format(time.RFC3339), "", &r, h.currency))
	}
	for _, p := range rep.Products {
		r := ledger.NewReport()
		r.Items, r.SalesTotal = p.Qty, p.Amount
		r.Currency = rep.Total.Currency
		cw.Write(reportRow("product", p.SKU, p.Name, &r, h.currency))
	}
	cw.Flush()
}
