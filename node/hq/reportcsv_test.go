package hq_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
)

// The dashboard's transfers view and report CSV, over HTTP behind the
// login.
func TestDashboardTransfersAndReportCSV(t *testing.T) {
	a, b := newChainStore(10), newChainStore(20)
	h, srv := httpHQ(t, a.Store, b.Store)
	if err := h.SetPassword(t.Context(), "boss", "correct horse"); err != nil {
		t.Fatal(err)
	}
	a.record(t, &ledger.StockReceive{Lines: []ledger.StockLine{sl("X", 9)}, Staff: "1"}, day0)
	a.record(t, &ledger.TransferOut{Number: "n-1", To: b.ID, Lines: []ledger.StockLine{sl("X", 2)}, Staff: "1"}, day0+1000)
	a.upload(t, h)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := hc.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return resp, buf.Bytes()
	}
	if resp, _ := get("/hq/api/transfers"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("transfers without login: %d, want 401", resp.StatusCode)
	}
	body, _ := json.Marshal(map[string]string{"user": "boss", "password": "correct horse"})
	resp, err := hc.Post(srv.URL+"/hq/api/login", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	resp, raw := get("/hq/api/transfers?status=in_transit")
	var out struct {
		Transfers []struct {
			Number string `json:"number"`
			Status string `json:"status"`
		} `json:"transfers"`
		InTransit map[string]int64 `json:"in_transit"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || len(out.Transfers) != 1 || out.InTransit["X"] != 2 {
		t.Fatalf("transfers in transit: %d %s", resp.StatusCode, raw)
	}
	if resp, raw := get("/hq/api/transfers?status=lost"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(raw), "want in_transit") {
		t.Fatalf("unknown status: %d %s", resp.StatusCode, raw)
	}
	resp, raw = get("/hq/api/report.csv?store=all")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("report CSV: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil || len(rows) < 3 || rows[0][0] != "section" || rows[1][0] != "total" {
		t.Fatalf("report CSV rows %v: %v", rows, err)
	}
	if resp.Header.Get("Last-Modified") == "" {
		t.Fatalf("the chain's report CSV does not say when its figures were current (Last-Modified)")
	}
	// The chain's CSV is the materialized chain report's: asked again
	// with nothing moved, it computes nothing; after an upload it
	// reaches the new figures within a refresh.
	waitIdle(t, h)
	computed := h.ChainStats().Computed
	get("/hq/api/report.csv?store=all")
	waitIdle(t, h)
	if n := h.ChainStats().Computed; n != computed {
		t.Fatalf("the chain's report CSV asked again with nothing moved computed %d reports", n-computed)
	}
	items := func(raw []byte) string {
		rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
		if err != nil || len(rows) < 2 {
			t.Fatalf("report CSV rows %v: %v", rows, err)
		}
		return rows[1][4] // the total's items
	}
	before := items(raw)
	a.record(t, &ledger.Sale{Currency: "EUR", TaxIncluded: true, Staff: "1", Lines: []ledger.Line{{SKU: "X", Qty: 3, UnitPrice: 100}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 300}}}, day0+3000)
	a.upload(t, h)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, raw := get("/hq/api/report.csv?store=all")
		if items(raw) != before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the chain's report CSV kept %s items for 20 s after a sale was uploaded", before)
		}
		time.Sleep(5 * time.Millisecond) // poll interval, not a wait for an event
	}
	if resp, _ := get("/hq/api/report.csv?from=yesterday"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad date: %d, want 400", resp.StatusCode)
	}
}
