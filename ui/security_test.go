package ui_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
)

// gatedBurst is burst with PIN checks held, as a slow hash holds them on
// a till, until every request but the allowed checks has been answered
// (or a deadline passes: a limiter that lets every request through to
// the check never answers the rest early).
func gatedBurst(t *testing.T, f *fakeTill, allowed int, reqs []func() int) map[int]int {
	t.Helper()
	gate := make(chan struct{})
	f.mu.Lock()
	f.authGate = gate
	f.mu.Unlock()
	var answered atomic.Int32
	counted := make([]func() int, len(reqs))
	for i, r := range reqs {
		counted[i] = func() int { code := r(); answered.Add(1); return code }
	}
	done := make(chan map[int]int)
	go func() { done <- burst(t, counted) }()
	deadline := time.Now().Add(3 * time.Second)
	for int(answered.Load()) < len(reqs)-allowed && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // poll interval
	}
	f.mu.Lock()
	f.authGate = nil
	f.mu.Unlock()
	close(gate)
	return <-done
}

// burst sends every request at once from goroutines released together
// and returns the statuses. Each request runs on its client.
func burst(t *testing.T, reqs []func() int) map[int]int {
	t.Helper()
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[int]int{}
	for _, f := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code := f()
			mu.Lock()
			got[code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return got
}

// post is a request safe to send from a goroutine: it reports errors as
// status 0 instead of failing the test.
func (c *client) post(path, body string) int {
	req, _ := http.NewRequest("POST", c.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (f *fakeTill) authCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.auths
}

// browser is a client that has loaded the page, so it has its client
// cookie like a real browser.
func (e *env) browser(t *testing.T) *client {
	c := e.client(t)
	c.must(200, "GET", "/api/status", "") // any answer sets the cookie
	return c
}

// TestPINBurstFromOneClient is finding 1: 100 wrong PINs sent at once
// were all checked. Now at most FreeAttempts are.
func TestPINBurstFromOneClient(t *testing.T) {
	e := serve(t)
	c := e.browser(t)
	before := e.till.authCount()
	var reqs []func() int
	for i := range 100 {
		reqs = append(reqs, func() int { return c.post("/api/login", fmt.Sprintf(`{"staff":"1","pin":"%04d"}`, i)) })
	}
	got := gatedBurst(t, e.till, 3, reqs)
	if checked := e.till.authCount() - before; checked > 3 {
		t.Fatalf("a burst of 100 wrong PINs from one client checked %d, want at most 3 (statuses %v)", checked, got)
	}
	if got[http.StatusUnauthorized] > 3 || got[http.StatusTooManyRequests] < 97 {
		t.Fatalf("statuses %v: want at most 3 x 401, the rest 429", got)
	}
}

// TestPINBurstFromManyClients: a guesser who spreads over 100 clients
// still gets no more than the staff member's ceiling of checks, and the
// manager, from their own screen, waits seconds and not minutes.
func TestPINBurstFromManyClients(t *testing.T) {
	e := serve(t)
	var reqs []func() int
	for i := range 100 {
		c := e.browser(t)
		reqs = append(reqs, func() int { return c.post("/api/login", fmt.Sprintf(`{"staff":"1","pin":"%04d"}`, 5000+i)) })
	}
	before := e.till.authCount()
	got := gatedBurst(t, e.till, 10, reqs)
	if checked := e.till.authCount() - before; checked > 10 {
		t.Fatalf("100 clients checked %d PINs of one manager, want at most the ceiling of 10 (statuses %v)", checked, got)
	}
	// The manager at their own till: slowed, not locked out.
	m := e.browser(t)
	resp, _ := m.raw("POST", "/api/login", `{"staff":"1","pin":"1234"}`)
	if resp.StatusCode == http.StatusTooManyRequests {
		wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		if wait < 1 || wait > 10 {
			t.Fatalf("manager told to wait %q s, want 1..10", resp.Header.Get("Retry-After"))
		}
		e.clock.add(time.Duration(wait) * time.Second)
	}
	m.must(200, "POST", "/api/login", `{"staff":"1","pin":"1234"}`)
}

// TestLockoutIsNotADenialOfService is finding 2: a burst from one client
// made the manager's right PIN from another client wait 297 s, and a
// cashier's wrong PINs in an approval locked the manager out of their
// own login.
func TestLockoutIsNotADenialOfService(t *testing.T) {
	e := serve(t)
	attacker := e.browser(t)
	var reqs []func() int
	for i := range 50 {
		reqs = append(reqs, func() int { return attacker.post("/api/login", fmt.Sprintf(`{"staff":"1","pin":"%04d"}`, i)) })
	}
	gatedBurst(t, e.till, 3, reqs)
	other := e.browser(t)
	other.must(200, "POST", "/api/login", `{"staff":"1","pin":"1234"}`)
	if code, _ := attacker.do("POST", "/api/login", `{"staff":"1","pin":"1234"}`); code != http.StatusTooManyRequests {
		t.Fatalf("the guessing client: %d, want 429 (its own back-off)", code)
	}

	// A cashier types wrong manager PINs into void approvals, at once.
	screen := e.browser(t)
	code, out := screen.do("POST", "/api/login", `{"staff":"2","pin":"0000"}`)
	if code != 200 {
		t.Fatalf("cashier login: %d %v", code, out)
	}
	screen.csrf = out["csrf_token"].(string)
	e.till.addPeerSale(peerSale())
	reqs = nil
	for i := range 20 {
		reqs = append(reqs, func() int {
			return screen.post("/api/voids", fmt.Sprintf(`{"idempotency_key":"v%d","sale":"2-1","reason":"x","manager":"1","manager_pin":"9%03d"}`, i, i))
		})
	}
	before := e.till.authCount()
	got := gatedBurst(t, e.till, 3, reqs)
	if checked := e.till.authCount() - before; checked > 3 {
		t.Fatalf("20 approvals at once checked %d manager PINs, want at most 3 (%v)", checked, got)
	}
	// The manager walks up to the same screen and logs in at once.
	screen.must(200, "POST", "/api/logout", "")
	screen.csrf = ""
	screen.must(200, "POST", "/api/login", `{"staff":"1","pin":"1234"}`)
}

func peerSale() *ledger.Sale {
	return &ledger.Sale{Currency: "EUR", TaxIncluded: true, Staff: "9",
		Lines: []ledger.Line{{SKU: "1001", Qty: 1, UnitPrice: 119, TaxRate: 700}}, Tenders: []ledger.Tender{{Kind: ledger.Card, Amount: 119}}}
}

// TestApprovalBoundToWhatWasApproved is finding 3: a manager approved
// 50% off one item, the cashier then set the quantity to 50 and the sale
// took 50 times the approved amount off; a cart discount approved on a
// small cart still applied after 20 more items.
func TestApprovalBoundToWhatWasApproved(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000")
	c.must(200, "POST", "/api/cart/lines", `{"sku":"2001"}`)
	out := c.must(200, "PUT", "/api/cart/lines/0", `{"discount":{"kind":"percent","value":5000},"approver":"1","approver_pin":"1234"}`)
	if out["approver"] != "1" {
		t.Fatalf("approved line: %v", out)
	}
	out = c.fails(http.StatusForbidden, "a supervisor must approve", "PUT", "/api/cart/lines/0", `{"qty":50}`)
	if out["need"] != "approval" {
		t.Fatalf("quantity change of an approved line: %v, want need approval", out)
	}
	if cart := c.must(200, "GET", "/api/cart", ""); num(lines(cart)[0]["qty"]) != 1 || cart["approver"] != "1" {
		t.Fatalf("the refused change altered the cart: %v", cart)
	}
	// Removing another line or scanning keeps a line approval bound to
	// its own line.
	c.must(200, "POST", "/api/cart/lines", `{"sku":"1001"}`)
	c.must(200, "DELETE", "/api/cart/lines/1", "")
	sale := c.must(201, "POST", "/api/cart/checkout", `{"idempotency_key":"k1","tenders":[{"kind":"card","amount":299}]}`)
	if s := sale["sale"].(map[string]any); s["approver"] != "1" || num(s["total"]) != 299 {
		t.Fatalf("sale: %v", s)
	}

	// A cart discount approved on 1.19 ...
	c.must(200, "POST", "/api/cart/lines", `{"sku":"1001"}`)
	c.must(200, "PUT", "/api/cart/discount", `{"kind":"percent","value":5000,"approver":"1","approver_pin":"1234"}`)
	// ... then 20 more items: the scans go through, the approval does not.
	for range 20 {
		c.must(200, "POST", "/api/cart/lines", `{"sku":"1002"}`)
	}
	cart := c.must(200, "GET", "/api/cart", "")
	if cart["approver"] != nil {
		t.Fatalf("cart discount still approved after 20 more items: %v", cart)
	}
	sales := e.till.sales()
	out = c.fails(http.StatusForbidden, "a supervisor must approve", "POST", "/api/cart/checkout", `{"idempotency_key":"k2","tenders":[{"kind":"cash","amount":100000}]}`)
	if out["need"] != "approval" || e.till.sales() != sales {
		t.Fatalf("checkout with a void approval: %v (sales %d -> %d)", out, sales, e.till.sales())
	}
	sale = c.must(201, "POST", "/api/cart/checkout", `{"idempotency_key":"k2","tenders":[{"kind":"cash","amount":100000}],"approver":"1","approver_pin":"1234"}`)
	if s := sale["sale"].(map[string]any); s["approver"] != "1" {
		t.Fatalf("re-approved sale: %v", s)
	}
}

// TestDiscountsStackedAboveTheLimit is finding 4: 10% off a line and 10%
// off the cart gave 19% against a 10% limit, with no approval.
func TestDiscountsStackedAboveTheLimit(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000")
	c.must(200, "POST", "/api/cart/lines", `{"sku":"2001"}`)
	c.must(200, "PUT", "/api/cart/lines/0", `{"discount":{"kind":"percent","value":1000}}`)
	out := c.fails(http.StatusForbidden, "in all", "PUT", "/api/cart/discount", `{"kind":"percent","value":1000}`)
	if out["need"] != "approval" {
		t.Fatalf("stacked discounts: %v", out)
	}
	if cart := c.must(200, "GET", "/api/cart", ""); cart["discount"] != nil {
		t.Fatalf("the refused cart discount is in the cart: %v", cart)
	}
	// 10% off one line and 10% off another is 10% in all: allowed, even
	// with a rounded cent (10% of 1.19 is 0.12).
	c.must(200, "POST", "/api/cart/lines", `{"sku":"1001"}`)
	c.must(200, "PUT", "/api/cart/lines/1", `{"discount":{"kind":"percent","value":1000}}`)
	// The same through POST /api/sales, in amounts.
	c.fails(http.StatusForbidden, "in all", "POST", "/api/sales",
		`{"idempotency_key":"s1","lines":[{"sku":"2001","qty":1,"discount":59}],"cart_discount":54,"tenders":[{"kind":"card","amount":486}]}`)
	c.must(201, "POST", "/api/sales",
		`{"idempotency_key":"s1","lines":[{"sku":"2001","qty":1,"discount":59}],"cart_discount":54,"tenders":[{"kind":"card","amount":486}],"approver":"1","approver_pin":"1234"}`)
}

// TestIdempotencyKeyReusedWithAnotherBody is finding 5: a key sent again
// with a different request answered the first event as if it were the
// same request (and /api/cash did not even say so). Now a retry of the
// same request answers 200 replayed, another request 409 with the event
// the key made, and nothing is recorded.
func TestIdempotencyKeyReusedWithAnotherBody(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000")
	c.must(201, "POST", "/api/shift/open", `{"idempotency_key":"o","float":1000}`)
	first := c.must(201, "POST", "/api/cash", `{"idempotency_key":"c1","direction":"in","amount":500,"reason":"change"}`)
	again := c.must(200, "POST", "/api/cash", `{"idempotency_key":"c1","direction":"in","amount":500,"reason":"change"}`)
	if again["replayed"] != true || again["event_id"] != first["event_id"] {
		t.Fatalf("retry: %v, want replayed and the first event", again)
	}
	sale := c.must(201, "POST", "/api/sales", `{"idempotency_key":"s1","lines":[{"sku":"1001","qty":1}],"tenders":[{"kind":"cash","amount":200}]}`)
	n := e.till.eventCount()
	for _, tc := range []struct{ path, body, event string }{
		{"/api/cash", `{"idempotency_key":"c1","direction":"out","amount":90000,"reason":"change"}`, first["event_id"].(string)},
		{"/api/cash", `{"idempotency_key":"c1","direction":"in","amount":501,"reason":"change"}`, first["event_id"].(string)},
		{"/api/sales", `{"idempotency_key":"s1","lines":[{"sku":"1001","qty":9}],"tenders":[{"kind":"cash","amount":2000}]}`, sale["event_id"].(string)},
		{"/api/sales", `{"idempotency_key":"s1","lines":[{"sku":"1001","qty":1}],"tenders":[{"kind":"card","amount":119}]}`, sale["event_id"].(string)},
		{"/api/sales", `{"idempotency_key":"c1","lines":[{"sku":"1001","qty":1}],"tenders":[{"kind":"card","amount":119}]}`, first["event_id"].(string)},
		{"/api/refunds", `{"idempotency_key":"s1","sale":"1-1","lines":[{"line":0,"qty":1}]}`, sale["event_id"].(string)},
		{"/api/nosale", `{"idempotency_key":"s1"}`, sale["event_id"].(string)},
		{"/api/cart/checkout", `{"idempotency_key":"s1","tenders":[{"kind":"cash","amount":5000}]}`, sale["event_id"].(string)},
	} {
		out := c.fails(http.StatusConflict, "different request", "POST", tc.path, tc.body)
		if out["event_id"] != tc.event {
			t.Errorf("%s %s: event_id %v, want the first event %s", tc.path, tc.body, out["event_id"], tc.event)
		}
	}
	if e.till.eventCount() != n {
		t.Fatalf("refused requests recorded %d events", e.till.eventCount()-n)
	}
	if out := c.must(200, "POST", "/api/sales", `{"idempotency_key":"s1","lines":[{"sku":"1001","qty":1}],"tenders":[{"kind":"cash","amount":200}]}`); out["replayed"] != true {
		t.Fatalf("sale retry: %v", out)
	}
	// A refund and its retry; then the same key for more.
	c.must(201, "POST", "/api/refunds", `{"idempotency_key":"r1","sale":"1-1","lines":[{"line":0,"qty":1}]}`)
	c.must(200, "POST", "/api/refunds", `{"idempotency_key":"r1","sale":"1-1","lines":[{"line":0,"qty":1}]}`)
	c.fails(http.StatusConflict, "different request", "POST", "/api/refunds", `{"idempotency_key":"r1","sale":"1-1","lines":[{"line":0,"qty":1}],"tender":"card"}`)
}

// TestWrongStatuses is finding 10: an idempotency key over 128 bytes
// gave 500 and an ERROR log line, a 10 MB body 400.
func TestWrongStatuses(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000")
	long := strings.Repeat("k", 129)
	for _, p := range []struct{ path, body string }{
		{"/api/nosale", `{"idempotency_key":"` + long + `"}`},
		{"/api/sales", `{"idempotency_key":"` + long + `","lines":[{"sku":"1001","qty":1}],"tenders":[{"kind":"cash","amount":200}]}`},
		{"/api/cash", `{"idempotency_key":"` + long + `","direction":"in","amount":1,"reason":"x"}`},
		{"/api/cart/checkout", `{"idempotency_key":"` + long + `","tenders":[{"kind":"cash","amount":200}]}`},
	} {
		c.fails(http.StatusBadRequest, "at most 128", "POST", p.path, p.body)
	}
	if strings.Contains(e.logs.String(), "level=ERROR") {
		t.Fatalf("a client's mistake logged at ERROR:\n%s", e.logs.String())
	}
	big := `{"idempotency_key":"k","reason":"` + strings.Repeat("x", 10<<20) + `"}`
	c.fails(http.StatusRequestEntityTooLarge, "limit", "POST", "/api/nosale", big)
	// Without a Content-Length the counting reader stops it.
	req, _ := http.NewRequest("POST", c.srv.URL+"/api/nosale", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked 10 MB body: %d, want 413", resp.StatusCode)
	}
}

// TestTenderAndChangeBounded is finding 6: a cash tender of 2^63-1 on a
// 0.49 sale was accepted and its receipt printed the change.
func TestTenderAndChangeBounded(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000")
	n := e.till.eventCount()
	for _, tc := range []struct{ tenders, reason string }{
		{`[{"kind":"cash","amount":9223372036854775807}]`, "above 100000000.00"},
		{`[{"kind":"cash","amount":10000000001}]`, "above"},
		{`[{"kind":"cash","amount":10000000000},{"kind":"cash","amount":10000000000}]`, "change of"},
		{`[{"kind":"card","amount":500}]`, "change comes from cash only"},
		{`[{"kind":"cash","amount":-5}]`, "must be positive"},
	} {
		c.fails(http.StatusBadRequest, tc.reason, "POST", "/api/sales", `{"idempotency_key":"s","lines":[{"sku":"1001","qty":1}],"tenders":`+tc.tenders+`}`)
		c.must(200, "POST", "/api/cart/lines", `{"sku":"1001"}`)
		c.fails(http.StatusBadRequest, tc.reason, "POST", "/api/cart/checkout", `{"idempotency_key":"k","tenders":`+tc.tenders+`}`)
		c.must(200, "DELETE", "/api/cart", "")
	}
	c.fails(http.StatusBadRequest, "above", "POST", "/api/cash", `{"idempotency_key":"c","direction":"in","amount":9223372036854775807,"reason":"x"}`)
	c.fails(http.StatusBadRequest, "nor above", "POST", "/api/shift/open", `{"idempotency_key":"o","float":9223372036854775807}`)
	// Nothing but the five carts cleared (each a cart_cleared event).
	if got := e.till.eventCount() - n; got != 5 {
		t.Fatalf("refused tenders recorded %d events, want the 5 cleared carts only", got)
	}
	out := c.must(201, "POST", "/api/sales", `{"idempotency_key":"s","lines":[{"sku":"1001","qty":1}],"tenders":[{"kind":"cash","amount":10000000000}]}`)
	if num(out["change"]) != 10000000000-119 {
		t.Fatalf("largest cash tender: %v", out)
	}
}

// TestSessionsCappedPerStaffMember is finding 7: 64 logins by a cashier
// ended the manager's session on that till.
func TestSessionsCappedPerStaffMember(t *testing.T) {
	e := serve(t)
	m := e.login(t, "1", "1234")
	first := e.login(t, "2", "0000")
	var last *client
	for range 64 {
		e.clock.add(time.Second) // each login newer than the last
		last = e.login(t, "2", "0000")
	}
	m.must(200, "GET", "/api/session", "")
	last.must(200, "GET", "/api/session", "")
	first.fails(http.StatusUnauthorized, "not logged in", "GET", "/api/session", "") // the cashier's own oldest
}
