package fiscalsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/node/outbox/fiscal"
	"github.com/tillmesh/tillmesh/testnet/fiscalsim"
)

func post(t *testing.T, url, key, body string) (int, fiscal.Answer) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/api/v1/receipts", strings.NewReader(body))
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a fiscal.Answer
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &a)
	return resp.StatusCode, a
}

// TestRepeatsAnsweredFromTheKey: the same ID gets the same fiscal number
// and counts as a repeat; bad requests are refused with a code and
// register nothing.
func TestRepeatsAnsweredFromTheKey(t *testing.T) {
	s := fiscalsim.NewSim()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	s.SetBase(srv.URL)
	body := `{"id":"e1","type":"sale","store_tin":"123","items":[],"total":100}`
	c1, a1 := post(t, srv.URL, "e1", body)
	c2, a2 := post(t, srv.URL, "e1", body)
	if c1 != 200 || c2 != 200 || !a1.OK || a1.FiscalNumber == "" || a1 != a2 {
		t.Fatalf("answers %d %+v, %d %+v", c1, a1, c2, a2)
	}
	for _, c := range []struct{ key, body, code string }{
		{"", body, "idempotency_key"},
		{"e2", body, "idempotency_key"},
		{"e3", `{"id":"e3","type":"sale"}`, "no_tin"},
		{"e4", `{"id":"e4","type":"gift","store_tin":"1"}`, "bad_type"},
		{"e5", `{"id":`, "bad_json"},
	} {
		code, a := post(t, srv.URL, c.key, c.body)
		if code < 400 || a.Error == nil || a.Error.Code != c.code {
			t.Errorf("%q: %d %+v, want code %s", c.body, code, a, c.code)
		}
	}
	st := s.Stats()
	if st.Registered != 1 || st.Duplicates != 1 || st.Rejected != 5 || st.Requests != 7 {
		t.Fatalf("stats %+v", st)
	}
	resp, err := http.Get(srv.URL + "/check?n=" + a1.FiscalNumber + "&s=" + a1.FiscalSign)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("verification page: %v %v", resp, err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(a1.QRURL, srv.URL+"/check?n=") {
		t.Fatalf("QR URL %q", a1.QRURL)
	}
	// Control refuses what it does not know.
	r2, _ := http.Post(srv.URL+"/control", "application/json", strings.NewReader(`{"dwon":true}`))
	if r2.StatusCode != 400 {
		t.Fatalf("control with an unknown field: %d", r2.StatusCode)
	}
	r2.Body.Close()
}

// TestMaxAheadFollowsTheServiceClock: with MaxAhead set, a receipt dated
// a day after the service's clock is refused (and registers nothing)
// until the service's clock (SetNow) moves a day on too.
func TestMaxAheadFollowsTheServiceClock(t *testing.T) {
	s := fiscalsim.NewSim()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	s.Set(fiscalsim.Faults{MaxAhead: fiscalsim.Duration(10 * time.Minute)})
	day := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339Nano)
	body := `{"id":"e1","type":"sale","store_tin":"123","time":"` + day + `","items":[],"total":100}`
	if code, a := post(t, srv.URL, "e1", body); code != http.StatusUnprocessableEntity || a.Error == nil || a.Error.Code != "future_time" {
		t.Fatalf("a receipt a day ahead: %d %+v, want 422 future_time", code, a)
	}
	if n := s.Stats().Registered; n != 0 {
		t.Fatalf("registered %d after a refusal", n)
	}
	s.SetNow(func() time.Time { return time.Now().Add(24 * time.Hour) })
	if code, a := post(t, srv.URL, "e1", body); code != 200 || !a.OK {
		t.Fatalf("with the service a day on: %d %+v", code, a)
	}
}
