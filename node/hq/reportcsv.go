package hq

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// reportCSVHeader names the columns of the report export: one row per
// store, day, till, hour and product of the report, money in minor units.
var reportCSVHeader = []string{"section", "key", "name", "sales", "items", "sales_total", "refunds", "refunded",
	"voids", "voided", "net", "tax", "total", "cash", "card", "other"}

func reportRow(section, key, name string, r *ledger.Report) []string {
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	return []string{section, key, name, i(int64(r.Sales)), i(r.Items), i(int64(r.SalesTotal)), i(int64(r.Refunds)),
		i(int64(r.Refunded)), i(int64(r.Voids)), i(int64(r.Voided)), i(int64(r.Net)), i(int64(r.Tax)), i(int64(r.Total)),
		i(int64(r.Tenders[ledger.Cash])), i(int64(r.Tenders[ledger.Card])), i(int64(r.Tenders[ledger.Other]))}
}

// apiReportCSV is GET /hq/api/report.csv?store=&from=&to=: the report
// the dashboard shows, as CSV for a spreadsheet.
func (h *HQ) apiReportCSV(w http.ResponseWriter, r *http.Request, _ *session) {
	q := r.URL.Query()
	store, err := storeParam(q.Get("store"))
	if err != nil || !validDay(q.Get("from")) || !validDay(q.Get("to")) {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, "want store=<id>|all, from= and to= as YYYY-MM-DD")
		return
	}
	rep := h.Report(Query{Store: store, From: q.Get("from"), To: q.Get("to"), TopN: 1000})
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="tillmesh-report.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	cw.Write(reportCSVHeader)
	cw.Write(reportRow("total", "", "", &rep.Total))
	for _, s := range rep.Stores {
		cw.Write(reportRow("store", s.Store.String(), s.Name, &s.Report))
	}
	for _, d := range rep.Days {
		cw.Write(reportRow("day", d.Day, "", &d.Report))
	}
	for _, t := range rep.Tills {
		cw.Write(reportRow("till", t.Store.String()+"/"+strconv.FormatUint(uint64(t.Number), 10), t.Name, &t.Report))
	}
	for _, hs := range rep.Hours {
		r := ledger.NewReport()
		r.Sales, r.SalesTotal = hs.Sales, hs.Total
		cw.Write(reportRow("hour", hs.Start.Format(time.RFC3339), "", &r))
	}
	for _, p := range rep.Products {
		r := ledger.NewReport()
		r.Items, r.SalesTotal = p.Qty, p.Amount
		cw.Write(reportRow("product", p.SKU, p.Name, &r))
	}
	cw.Flush()
}
