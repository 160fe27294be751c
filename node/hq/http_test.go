package hq_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

func httpHQ(t *testing.T, stores ...*hqtest.Store) (*hq.HQ, *httptest.Server) {
	t.Helper()
	h := newHQ(t, backends[0].open(t, backends[0].place(t)), stores...)
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	return h, srv
}

func client(t *testing.T, url string, s *hqtest.Store, i int, now func() time.Time) *hqapi.Client {
	t.Helper()
	c, err := hqapi.NewClient(url, s.ID, s.Tills[i].Key, s.Certs[i], nil, now)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func status(err error) int {
	var se *hqapi.StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

func TestRelayAPIAuthentication(t *testing.T) {
	store := hqtest.NewStore(90, 2)
	h, srv := httpHQ(t, store)
	ctx := t.Context()

	// An enrolled till: its certificate travels in a header on first use.
	c := client(t, srv.URL, store, 0, nil)
	v, err := c.Vector(ctx, 0, nil)
	if err != nil {
		t.Fatalf("vector: %v", err)
	}
	if v.Store != store.ID || len(v.Vector) != 0 {
		t.Errorf("vector answer %+v", v)
	}
	if _, ok := h.Certificate(store.ID, store.Tills[0].ID); !ok {
		t.Error("HQ did not keep the certificate from the header")
	}

	// A clock far off: refused, with a reason naming the clock.
	old := client(t, srv.URL, store, 1, func() time.Time { return time.Now().Add(-10 * time.Minute) })
	if _, err := old.Vector(ctx, 0, nil); status(err) != http.StatusUnauthorized || !strings.Contains(err.Error(), "clock") {
		t.Errorf("old timestamp: %v, want 401 about the clock", err)
	}

	// A till whose certificate another CA signed.
	stranger := hqtest.NewStore(100, 1)
	stranger.ID = store.ID
	stranger.Tills[0].Store = store.ID
	sc := stranger.Tills[0].Certificate(stranger.CA, "Stranger", 1)
	sclient, _ := hqapi.NewClient(srv.URL, store.ID, stranger.Tills[0].Key, sc, nil, nil)
	if _, err := sclient.Vector(ctx, 0, nil); status(err) != http.StatusForbidden {
		t.Errorf("unenrolled till: %v, want 403", err)
	}

	// An unknown store.
	other := hqtest.NewStore(110, 1)
	oc := client(t, srv.URL, other, 0, nil)
	if _, err := oc.Vector(ctx, 0, nil); status(err) != http.StatusNotFound {
		t.Errorf("unknown store: %v, want 404", err)
	}

	// The same signed request twice: the second is a replay.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+hqapi.VectorPath(store.ID), nil)
	hqapi.Sign(req, store.Tills[0].Key, nil, nil, time.Now().UnixMilli())
	for i, want := range []int{http.StatusOK, http.StatusUnauthorized} {
		resp, err := http.DefaultClient.Do(req.Clone(ctx))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("request %d: status %d, want %d", i+1, resp.StatusCode, want)
		}
	}

	// A body other than the one signed.
	w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(1, 1)))
	u := &hqapi.Upload{Fence: 1, Events: raws(w.Sales(4, day0, 1000))}
	body, _ := hqapi.EncodeUpload(u)
	req, _ = http.NewRequest(http.MethodPost, srv.URL+hqapi.EventsPath(store.ID), bytes.NewReader(body))
	req.Header.Set("Content-Type", hqapi.ContentCBOR)
	tampered := bytes.Clone(body)
	tampered[len(tampered)-1] ^= 1 // same length, another body
	hqapi.Sign(req, store.Tills[0].Key, store.EncodedCerts()[0], tampered, time.Now().UnixMilli())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("tampered body: status %d, want 401", resp.StatusCode)
	}
	if h.Vector(store.ID).Total() != 0 {
		t.Error("a refused request stored events")
	}

	// The real upload, then a stale token over HTTP.
	res, err := c.Upload(ctx, &hqapi.Upload{Fence: 3, Certs: store.EncodedCerts(), Events: u.Events})
	if err != nil || res.Accepted != 4 {
		t.Fatalf("upload: %+v %v", res, err)
	}
	_, err = c.Upload(ctx, &hqapi.Upload{Fence: 2, Events: u.Events})
	if !errors.Is(err, hqapi.ErrStaleFence) {
		t.Fatalf("stale upload: %v, want ErrStaleFence", err)
	}
	var se *hqapi.StatusError
	if errors.As(err, &se); se.Status != http.StatusConflict || se.Body.Fence == nil || se.Body.Fence.Token != 3 {
		t.Errorf("stale answer: %+v", se)
	}
}

func TestRelayAPIJSONUploadAndChanges(t *testing.T) {
	store := hqtest.NewStore(120, 1)
	h, srv := httpHQ(t, store)
	ctx := t.Context()
	w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(2, 2)))
	evs := w.Sales(5, day0, 1000)
	body, _ := json.Marshal(hqapi.Upload{Fence: 1, Certs: store.EncodedCerts(), Events: raws(evs)})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+hqapi.EventsPath(store.ID), bytes.NewReader(body))
	req.Header.Set("Content-Type", hqapi.ContentJSON)
	hqapi.Sign(req, store.Tills[0].Key, store.EncodedCerts()[0], body, time.Now().UnixMilli())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var res hqapi.UploadResult
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || res.Accepted != 5 || res.Vector[store.Tills[0].ID] != 5 {
		t.Fatalf("json upload: status %d, %+v", resp.StatusCode, res)
	}

	if _, err := h.PutProduct(ctx, nil, hqapi.Product{SKU: "9", Name: "Tea", Price: 250, Currency: "EUR", TaxRate: 700, Unit: "ea"}, "t"); err != nil {
		t.Fatal(err)
	}
	c := client(t, srv.URL, store, 0, nil)
	cs, err := c.Changes(ctx, 0, 10)
	if err != nil || len(cs.Changes) != 1 || cs.Changes[0].Product.Name != "Tea" || cs.Next != 1 {
		t.Fatalf("changes: %+v %v", cs, err)
	}
	// The relay's vector in a GET sets the backlog HQ shows.
	mine := ledger.Vector{store.Tills[0].ID: 8}
	if _, err := c.Vector(ctx, 1, mine); err != nil {
		t.Fatal(err)
	}
	if v, _ := h.Store(store.ID); v.Backlog != 3 || v.RelayNumber != 1 || v.LastContact == 0 {
		t.Errorf("store view after contact: backlog %d, relay %d, contact %d", v.Backlog, v.RelayNumber, v.LastContact)
	}
}

func TestDashboard(t *testing.T) {
	store := hqtest.NewStore(130, 1)
	h, srv := httpHQ(t, store)
	ctx := context.Background()
	if err := h.SetPassword(ctx, "boss", "correct horse"); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	call := func(method, path, csrf string, body any) (int, map[string]any) {
		t.Helper()
		var rd *bytes.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		req.Header.Set("Content-Type", "application/json")
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		var raw json.RawMessage
		json.NewDecoder(resp.Body).Decode(&raw)
		json.Unmarshal(raw, &out)
		return resp.StatusCode, out
	}
	if code, _ := call("GET", "/hq/api/stores", "", nil); code != http.StatusUnauthorized {
		t.Errorf("stores without login: %d, want 401", code)
	}
	if code, _ := call("POST", "/hq/api/login", "", map[string]string{"user": "boss", "password": "wrong"}); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", code)
	}
	code, me := call("POST", "/hq/api/login", "", map[string]string{"user": "boss", "password": "correct horse"})
	if code != http.StatusOK || me["csrf"] == "" {
		t.Fatalf("login: %d %v", code, me)
	}
	csrf := me["csrf"].(string)
	if code, _ := call("GET", "/hq/api/stores", "", nil); code != http.StatusOK {
		t.Errorf("stores after login: %d", code)
	}
	prod := map[string]any{"store": "all", "product": map[string]any{"sku": "5", "name": "Soap", "price": 199, "currency": "EUR", "tax_rate": 1900, "unit": "ea"}}
	if code, _ := call("POST", "/hq/api/products", "", prod); code != http.StatusForbidden {
		t.Errorf("product change without CSRF token: %d, want 403", code)
	}
	if code, out := call("POST", "/hq/api/products", csrf, prod); code != http.StatusOK {
		t.Errorf("product change: %d %v", code, out)
	}
	// A price edit from the form names its field: the name stays.
	edit := map[string]any{"store": "all", "fields": []string{"price"}, "product": map[string]any{"sku": "5", "name": "", "price": 249, "currency": "EUR", "tax_rate": 1900, "unit": "ea"}}
	if code, out := call("POST", "/hq/api/products", csrf, edit); code != http.StatusOK || out["product"].(map[string]any)["name"] != "Soap" {
		t.Errorf("price edit: %d %v (want the name kept)", code, out)
	}
	edit["fields"] = []string{"colour"}
	if code, _ := call("POST", "/hq/api/products", csrf, edit); code != http.StatusBadRequest {
		t.Errorf("edit of an unknown field: %d, want 400", code)
	}
	st := map[string]any{"store": store.ID.String(), "id": "7", "name": "Ana", "role": "supervisor", "removed": true}
	if code, _ := call("POST", "/hq/api/staff/status", "", st); code != http.StatusForbidden {
		t.Errorf("staff removal without CSRF token: %d, want 403", code)
	}
	if code, out := call("POST", "/hq/api/staff/status", csrf, st); code != http.StatusOK || out["staff"].(map[string]any)["removed"] != true {
		t.Errorf("staff removal: %d %v", code, out)
	}
	if code, _ := call("POST", "/hq/api/staff/status", csrf, map[string]any{"store": "all", "id": "7", "name": "Ana", "role": "boss"}); code != http.StatusBadRequest {
		t.Errorf("staff status with an unknown role: %d, want 400", code)
	}
	if code, _ := call("GET", "/hq/api/report?store="+store.ID.String(), "", nil); code != http.StatusOK {
		t.Errorf("report: %d", code)
	}
	if code, _ := call("GET", "/hq/api/report?from=yesterday", "", nil); code != http.StatusBadRequest {
		t.Errorf("report with a bad day: %d, want 400", code)
	}
	// The chain report, materialized: gzip-compressed for a client that
	// takes it (Go's client asks and checks the CRC and length), plain
	// for one that does not; the same figures, with as_of and age_ms.
	reports := map[string]map[string]any{}
	for _, accept := range []string{"", "identity", "gzip;q=0"} {
		req, _ := http.NewRequest("GET", srv.URL+"/hq/api/report?store=all", nil)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		raw, err := io.ReadAll(resp.Body) // to the end: the gzip trailer is checked there
		resp.Body.Close()
		if err == nil {
			err = json.Unmarshal(raw, &out)
		}
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("chain report, Accept-Encoding %q: %d %v", accept, resp.StatusCode, err)
		}
		if resp.Uncompressed != (accept == "") || resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("chain report, Accept-Encoding %q: compressed %v, want %v", accept, resp.Uncompressed, accept == "")
		}
		if out["as_of"] == nil || out["age_ms"] == nil || out["total"] == nil {
			t.Errorf("chain report without as_of, age_ms or total: %v", out)
		}
		delete(out, "as_of")
		delete(out, "age_ms")
		reports[accept] = out
	}
	if !reflect.DeepEqual(reports[""], reports["identity"]) || !reflect.DeepEqual(reports[""], reports["gzip;q=0"]) {
		t.Errorf("chain report compressed and plain differ:\n%v\n%v", reports[""], reports["identity"])
	}
	cs, _ := h.ChangesFor(ctx, store.ID, 0, 10)
	if len(cs.Changes) != 3 || cs.Changes[0].By != "boss" || cs.Changes[1].Product.Price != 249 || len(cs.Changes[1].Fields) != 1 {
		t.Errorf("the dashboard's change did not reach the downlink: %+v", cs)
	}
	// The page itself is served.
	resp, err := hc.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("index: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	if code, _ := call("POST", "/hq/api/logout", csrf, nil); code != http.StatusOK {
		t.Errorf("logout: %d", code)
	}
	if code, _ := call("GET", "/hq/api/stores", "", nil); code != http.StatusUnauthorized {
		t.Errorf("stores after logout: %d, want 401", code)
	}
}
