package node_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/ui"
)

// web is a browser-like client of one till's HTTP handler.
type web struct {
	t    *testing.T
	url  string
	http *http.Client
	csrf string
}

func serveUI(t *testing.T, r *runningTill) string {
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func login(t *testing.T, url, staff, pin string) *web {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	w := &web{t: t, url: url, http: &http.Client{Jar: jar}}
	out := w.must(200, "POST", "/api/login", fmt.Sprintf(`{"staff":%q,"pin":%q}`, staff, pin))
	w.csrf = out["csrf_token"].(string)
	return w
}

func (w *web) do(method, path, body string) (int, map[string]any) {
	w.t.Helper()
	req, _ := http.NewRequest(method, w.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", w.csrf)
	resp, err := w.http.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &out); err != nil {
			w.t.Fatalf("%s %s: not JSON: %s", method, path, b)
		}
	}
	return resp.StatusCode, out
}

func (w *web) must(code int, method, path, body string) map[string]any {
	w.t.Helper()
	got, out := w.do(method, path, body)
	if got != code {
		w.t.Fatalf("%s %s %s: %d, want %d: %v", method, path, body, got, code, out)
	}
	return out
}

func seedStaff(t *testing.T, r *runningTill) {
	t.Helper()
	if err := r.AddStaff(t.Context(), "1", "Maria", ui.RoleManager, "1234"); err != nil {
		t.Fatal(err)
	}
	if err := r.AddStaff(t.Context(), "2", "Carl", ui.RoleCashier, "0000"); err != nil {
		t.Fatal(err)
	}
}

func n(v any) int64 { f, _ := v.(float64); return int64(f) }

// TestUIAcrossTills drives two real tills over HTTP: a cashier sells at
// till 1 by scanning, a cashier at till 2 refunds a line of that sale
// once it has arrived, and the manager-only routes refuse the cashier.
func TestUIAcrossTills(t *testing.T) {
	s := newStore(t, 2)
	a := s.start(t, s.tills[0])
	b := s.start(t, s.tills[1], a.addr())
	seed(t, a, 10)
	seedStaff(t, a)
	waitFor(t, "staff and catalog on till 2", func() bool {
		_, err1 := b.Authenticate(t.Context(), "2", "0000")
		_, err2 := b.Product(t.Context(), "10003")
		return err1 == nil && err2 == nil
	})
	ua, ub := serveUI(t, a), serveUI(t, b)
	cat := node.DemoCatalog(10)

	ca := login(t, ua, "2", "0000")
	ca.must(200, "POST", "/api/cart/lines", fmt.Sprintf(`{"barcode":%q}`, cat[0].Barcodes[0]))
	ca.must(200, "POST", "/api/cart/lines", fmt.Sprintf(`{"barcode":%q}`, cat[1].Barcodes[0]))
	cart := ca.must(200, "POST", "/api/cart/lines", fmt.Sprintf(`{"barcode":%q}`, cat[1].Barcodes[0]))
	if ls := cart["lines"].([]any); len(ls) != 2 || n(ls[1].(map[string]any)["qty"]) != 2 {
		t.Fatalf("cart: %v", cart)
	}
	wrong := cat[0].Barcodes[0][:12] + string('0'+(cat[0].Barcodes[0][12]-'0'+1)%10)
	if code, out := ca.do("POST", "/api/cart/lines", fmt.Sprintf(`{"barcode":%q}`, wrong)); code != 400 || !strings.Contains(out["error"].(string), "check digit") {
		t.Fatalf("wrong check digit: %d %v", code, out)
	}
	total := n(cart["total"])
	res := ca.must(201, "POST", "/api/cart/checkout", fmt.Sprintf(`{"idempotency_key":"web-1","tenders":[{"kind":"cash","amount":%d}]}`, total+1000))
	sale := res["sale"].(map[string]any)
	receipt := sale["receipt"].(string)
	if n(sale["change"]) != 1000 || sale["staff"] != "2" || !strings.HasPrefix(receipt, "1-") {
		t.Fatalf("sale: %v", sale)
	}
	if again := ca.must(200, "POST", "/api/cart/checkout", fmt.Sprintf(`{"idempotency_key":"web-1","tenders":[{"kind":"cash","amount":%d}]}`, total+1000)); again["replayed"] != true {
		t.Fatalf("retry: %v", again)
	}
	st, _ := a.Stock(t.Context(), cat[1].SKU)
	if st.Total != 98 {
		t.Fatalf("stock of %s on till 1: %d, want 98", cat[1].SKU, st.Total)
	}

	cb := login(t, ub, "2", "0000")
	waitFor(t, "the sale on till 2", func() bool { code, _ := cb.do("GET", "/api/sales/"+receipt, ""); return code == 200 })
	cb.must(201, "POST", "/api/shift/open", `{"idempotency_key":"open-2","float":0}`)
	ref := cb.must(201, "POST", "/api/refunds", fmt.Sprintf(`{"idempotency_key":"ref-1","sale":%q,"lines":[{"line":1,"qty":1}],"tender":"cash"}`, receipt))
	if !strings.HasPrefix(ref["receipt"].(string), "2-") || n(ref["total"]) != int64(cat[1].Price) {
		t.Fatalf("refund at till 2: %v", ref)
	}
	if code, out := cb.do("POST", "/api/refunds", fmt.Sprintf(`{"idempotency_key":"ref-2","sale":%q,"lines":[{"line":1,"qty":2}]}`, receipt)); code != 400 || !strings.Contains(out["error"].(string), "1 remain") {
		t.Fatalf("over-refund: %d %v", code, out)
	}
	// Till 1 learns of the refund: what remains is the same there.
	waitFor(t, "the refund on till 1", func() bool {
		out := ca.must(200, "GET", "/api/sales/"+receipt, "")
		return n(out["remaining"].([]any)[1].(map[string]any)["qty"]) == 1
	})

	// Roles are enforced by the server.
	if code, _ := cb.do("POST", "/api/stock/receive", fmt.Sprintf(`{"idempotency_key":"rc","lines":[{"sku":%q,"qty":5}]}`, cat[2].SKU)); code != 403 {
		t.Fatalf("cashier receiving stock: %d, want 403", code)
	}
	if code, _ := cb.do("POST", "/api/voids", fmt.Sprintf(`{"idempotency_key":"v","sale":%q,"reason":"x"}`, receipt)); code != 403 {
		t.Fatalf("cashier voiding: %d, want 403", code)
	}
	mb := login(t, ub, "1", "1234")
	mb.must(201, "POST", "/api/stock/receive", fmt.Sprintf(`{"idempotency_key":"rc","lines":[{"sku":%q,"qty":5}],"ref":"DN 7"}`, cat[2].SKU))
	waitFor(t, "received stock on till 1", func() bool { st, _ := a.Stock(t.Context(), cat[2].SKU); return st.Total == 105 })
	// The session cookie of till 2 is no good at till 1.
	req, _ := http.NewRequest("GET", ua+"/api/cart", nil)
	for _, c := range mb.http.Jar.Cookies(mustURL(ub)) {
		req.AddCookie(c)
	}
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("till 2's session at till 1: %v %v", resp.StatusCode, err)
	}
	rep := mb.must(200, "GET", "/api/reports", "")
	if store := rep["store"].(map[string]any); n(store["sales"]) != 1 || n(store["refunds"]) != 1 {
		t.Fatalf("store report on till 2: %v", store)
	}
}

func TestShiftOverHTTP(t *testing.T) {
	s := newStore(t, 1)
	a := s.start(t, s.tills[0])
	seed(t, a, 5)
	seedStaff(t, a)
	w := login(t, serveUI(t, a), "2", "0000")
	w.must(201, "POST", "/api/shift/open", `{"idempotency_key":"o","float":5000}`)
	cat := node.DemoCatalog(5)
	sale := w.must(201, "POST", "/api/sales", fmt.Sprintf(`{"idempotency_key":"s","lines":[{"sku":%q,"qty":1}],"tenders":[{"kind":"cash","amount":5000}]}`, cat[0].SKU))
	z := w.must(201, "POST", "/api/shift/close", `{"idempotency_key":"z","counted":[{"value":5000,"count":1},{"value":1000,"count":1}]}`)["z"].(map[string]any)
	want := 5000 + n(sale["total"])
	if n(z["expected"]) != want || n(z["counted"]) != 6000 || n(z["over_short"]) != 6000-want {
		t.Fatalf("Z: %v", z)
	}
}

func TestStaffPINsAreArgon2idHashes(t *testing.T) {
	s := newStore(t, 1)
	a := s.start(t, s.tills[0])
	seedStaff(t, a)
	st, err := a.Inventory().Staff(t.Context(), "2")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(st.PINHash), "$argon2id$v=19$m=7168,t=5,p=1$") || strings.Contains(string(st.PINHash), "0000") || st.Role != crdt.RoleCashier {
		t.Fatalf("stored staff %+v", st)
	}
	if m, err := a.Authenticate(t.Context(), "2", "0000"); err != nil || m.Role != ui.RoleCashier || m.Name != "Carl" {
		t.Fatalf("right PIN: %+v %v", m, err)
	}
	for _, c := range [][2]string{{"2", "0001"}, {"2", ""}, {"9", "0000"}, {"bad/id", "0000"}} {
		if _, err := a.Authenticate(t.Context(), c[0], c[1]); err != ui.ErrBadCredentials {
			t.Errorf("Authenticate(%q, %q) = %v, want ErrBadCredentials", c[0], c[1], err)
		}
	}
	// Editing without a PIN keeps it; a new member needs one; PINs are digits.
	if err := a.PutStaff(t.Context(), ui.StaffMember{ID: "2", Name: "Carla", Role: ui.RoleManager}, ""); err != nil {
		t.Fatal(err)
	}
	if m, err := a.Authenticate(t.Context(), "2", "0000"); err != nil || m.Role != ui.RoleManager || m.Name != "Carla" {
		t.Fatalf("after edit: %+v %v", m, err)
	}
	for _, c := range []struct{ id, pin string }{{"5", ""}, {"5", "12"}, {"5", "12ab"}, {"5", "1234567890123"}} {
		if err := a.PutStaff(t.Context(), ui.StaffMember{ID: c.id, Name: "X", Role: ui.RoleCashier}, c.pin); err == nil {
			t.Errorf("PutStaff with PIN %q accepted", c.pin)
		}
	}
	if err := a.PutStaff(t.Context(), ui.StaffMember{ID: "5", Name: "X", Role: "boss"}, "1234"); err == nil {
		t.Error("unknown role accepted")
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// TestDeactivatedStaffEndEverywhere: a manager deactivates a cashier at
// till 1; at till 2 the cashier's open session ends and their PIN stops
// working once the change arrives. Removal does the same for good, and
// their sale stays in the ledger.
func TestDeactivatedStaffEndEverywhere(t *testing.T) {
	s := newStore(t, 2)
	a := s.start(t, s.tills[0])
	b := s.start(t, s.tills[1], a.addr())
	seed(t, a, 5)
	seedStaff(t, a)
	waitFor(t, "staff on till 2", func() bool {
		_, err := b.Authenticate(t.Context(), "2", "0000")
		return err == nil
	})
	ua, ub := serveUI(t, a), serveUI(t, b)
	manager := login(t, ua, "1", "1234")
	cashier := login(t, ub, "2", "0000")
	cat := node.DemoCatalog(5)
	cashier.must(201, "POST", "/api/sales", fmt.Sprintf(`{"idempotency_key":"s","lines":[{"sku":%q,"qty":1}],"tenders":[{"kind":"card","amount":%d}]}`, cat[0].SKU, cat[0].Price))

	manager.must(200, "PUT", "/api/staff/2", `{"name":"Carl","role":"cashier","inactive":true}`)
	waitFor(t, "the deactivation at till 2", func() bool {
		code, _ := cashier.do("GET", "/api/cart", "")
		return code == http.StatusUnauthorized
	})
	if _, err := b.Authenticate(t.Context(), "2", "0000"); err != ui.ErrBadCredentials {
		t.Fatalf("deactivated PIN at till 2: %v", err)
	}
	manager.must(200, "PUT", "/api/staff/2", `{"name":"Carl","role":"cashier"}`)
	waitFor(t, "the reactivation at till 2", func() bool {
		_, err := b.Authenticate(t.Context(), "2", "0000")
		return err == nil
	})
	manager.must(200, "DELETE", "/api/staff/2", "")
	waitFor(t, "the removal at till 2", func() bool {
		_, err := b.Authenticate(t.Context(), "2", "0000")
		return err == ui.ErrBadCredentials
	})
	st, err := b.Inventory().Staff(t.Context(), "2")
	if err != nil || !st.Removed || len(st.PINHash) != 0 || st.Name != "Carl" {
		t.Fatalf("removed entry at till 2: %+v %v", st, err)
	}
	if err := a.PutStaff(t.Context(), ui.StaffMember{ID: "2", Name: "Carl", Role: ui.RoleCashier}, "0000"); !errors.Is(err, ui.ErrConflict) {
		t.Fatalf("editing a removed member: %v, want ErrConflict", err)
	}
	if sale := manager.must(200, "GET", "/api/sales/2-1", ""); sale["staff"] != "2" {
		t.Fatalf("the removed cashier's sale: %v", sale)
	}
}

// TestFirstRunSetupCode: a store's tills without a manager each make a
// one-time code in a 0600 file; one of them creates the first manager;
// the manager reaches the other till and voids its code there too.
func TestFirstRunSetupCode(t *testing.T) {
	s := newStore(t, 2)
	a := s.start(t, s.tills[0])
	b := s.start(t, s.tills[1], a.addr())
	codeA, pathA, open, err := a.SetupCode(t.Context())
	if err != nil || !open || len(codeA) != 14 {
		t.Fatalf("set-up code at till 1: %q %v %v", codeA, open, err)
	}
	if fi, err := os.Stat(pathA); err != nil || fi.Mode().Perm() != 0o600 || filepath.Dir(pathA) != s.tills[0] {
		t.Fatalf("code file %s: %v %v", pathA, fi, err)
	}
	if again, _, _, _ := a.SetupCode(t.Context()); again != codeA {
		t.Fatalf("a restart changed the unused code: %q, then %q", codeA, again)
	}
	codeB, pathB, _, err := b.SetupCode(t.Context())
	if err != nil || codeB == codeA {
		t.Fatalf("till 2's code %q (till 1's %q): %v", codeB, codeA, err)
	}
	m := ui.StaffMember{ID: "1", Name: "Maria"}
	if err := a.FirstManager(t.Context(), codeB, m, "1234"); !errors.Is(err, ui.ErrWrongCode) {
		t.Fatalf("another till's code: %v, want ErrWrongCode", err)
	}
	if err := a.FirstManager(t.Context(), codeA, m, "12"); !errors.Is(err, ui.ErrBadRequest) {
		t.Fatalf("a bad PIN: %v, want ErrBadRequest", err)
	}
	if list, _ := a.StaffList(t.Context()); len(list) != 0 {
		t.Fatalf("refused set-ups stored staff: %v", list)
	}
	if err := a.FirstManager(t.Context(), strings.ToLower(codeA), m, "1234"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pathA); !os.IsNotExist(err) {
		t.Fatalf("used code file still there: %v", err)
	}
	if err := a.FirstManager(t.Context(), codeA, ui.StaffMember{ID: "9", Name: "Eve"}, "1234"); !errors.Is(err, ui.ErrSetupDone) {
		t.Fatalf("reused code: %v, want ErrSetupDone", err)
	}
	waitFor(t, "the first manager at till 2", func() bool {
		open, err := b.SetupOpen(t.Context())
		return err == nil && !open
	})
	if err := b.FirstManager(t.Context(), codeB, ui.StaffMember{ID: "9", Name: "Eve"}, "1234"); !errors.Is(err, ui.ErrSetupDone) {
		t.Fatalf("till 2's code after a manager exists: %v, want ErrSetupDone", err)
	}
	if _, _, open, _ := b.SetupCode(t.Context()); open {
		t.Fatal("till 2 still offers the set-up")
	}
	if _, err := os.Stat(pathB); !os.IsNotExist(err) {
		t.Fatalf("till 2's void code file still there: %v", err)
	}
	if _, err := b.Authenticate(t.Context(), "1", "1234"); err != nil {
		t.Fatalf("the first manager at till 2: %v", err)
	}
}

// TestEditAtTillKeepsReorderPoint: a manager's edit on the till's catalog
// screen (which has no reorder point field) keeps the reorder point a
// catalog import set, instead of writing zero over it.
func TestEditAtTillKeepsReorderPoint(t *testing.T) {
	s := newStore(t, 1)
	a := s.start(t, s.tills[0])
	seed(t, a, 3)
	seedStaff(t, a)
	ctx := t.Context()
	sku := node.DemoCatalog(3)[0].SKU
	p, err := a.Inventory().Product(ctx, sku)
	if err != nil {
		t.Fatal(err)
	}
	p.Reorder = 12
	if err := a.Inventory().PutProduct(ctx, p); err != nil {
		t.Fatal(err)
	}
	w := login(t, serveUI(t, a), "1", "1234")
	got := w.must(200, "GET", "/api/products/"+sku, "")
	got["price"] = n(got["price"]) + 10
	b, _ := json.Marshal(got)
	w.must(200, "PUT", "/api/products/"+sku, string(b))
	after, err := a.Inventory().Product(ctx, sku)
	if err != nil {
		t.Fatal(err)
	}
	if after.Reorder != 12 || int64(after.Price) != int64(p.Price)+10 {
		t.Fatalf("after the edit: reorder %d (want 12), price %d (want %d)", after.Reorder, after.Price, int64(p.Price)+10)
	}
}
