package ui_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestLoginSetsStrictCookieAndCSRFToken(t *testing.T) {
	e := serve(t)
	c := e.browser(t)
	resp, body := c.raw("POST", "/api/login", `{"staff":"2","pin":"0000"}`)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"csrf_token":"`) {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("%d cookies, want 1", len(cookies))
	}
	ck := cookies[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || !strings.HasPrefix(ck.Name, "tillmesh_session") || len(ck.Value) < 40 {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, a long random value", ck)
	}
	if strings.Contains(string(body), "0000") {
		t.Fatalf("login answer repeats the PIN: %s", body)
	}
}

func TestCSRFAndAuthOnStateChanges(t *testing.T) {
	e := serve(t)
	changes := []struct{ method, path, body string }{
		{"POST", "/api/sales", `{"idempotency_key":"k","lines":[{"sku":"1001","qty":1}],"tenders":[{"kind":"cash","amount":500}]}`},
		{"POST", "/api/cart/lines", `{"sku":"1001"}`},
		{"PUT", "/api/cart/discount", `{"kind":"percent","value":100}`},
		{"DELETE", "/api/cart", ``},
		{"POST", "/api/cart/checkout", `{"idempotency_key":"k","tenders":[{"kind":"cash","amount":500}]}`},
		{"POST", "/api/refunds", `{"idempotency_key":"k","sale":"1-1","lines":[{"line":0,"qty":1}]}`},
		{"POST", "/api/voids", `{"idempotency_key":"k","sale":"1-1","reason":"x"}`},
		{"POST", "/api/nosale", `{"idempotency_key":"k"}`},
		{"POST", "/api/cash", `{"idempotency_key":"k","direction":"in","amount":100,"reason":"x"}`},
		{"POST", "/api/shift/open", `{"idempotency_key":"k","float":0}`},
		{"POST", "/api/shift/close", `{"idempotency_key":"k","counted":[]}`},
		{"POST", "/api/logout", `{}`},
		{"POST", "/api/lock", `{}`},
		{"POST", "/api/unlock", `{"pin":"0000"}`},
		{"POST", "/api/products", `{"sku":"9","name":"x","price":1}`},
		{"PUT", "/api/settings", `{"discount_limit_bp":100}`},
		{"PUT", "/api/staff/5", `{"name":"x","role":"cashier","pin":"1234"}`},
		{"POST", "/api/stock/receive", `{"idempotency_key":"k","lines":[{"sku":"1001","qty":1}]}`},
	}
	anon := e.client(t)
	for _, ch := range changes {
		if code, out := anon.do(ch.method, ch.path, ch.body); code != http.StatusUnauthorized || out["need"] != "login" {
			t.Errorf("%s %s without a session: %d %v, want 401", ch.method, ch.path, code, out)
		}
	}
	c := e.login(t, "1", "1234") // a manager: every route is open to them
	good := c.csrf
	for _, token := range []string{"", "wrong", good + "x"} {
		c.csrf = token
		for _, ch := range changes {
			if code, out := c.do(ch.method, ch.path, ch.body); code != http.StatusForbidden || !strings.Contains(out["error"].(string), "CSRF") {
				t.Errorf("%s %s with token %q: %d %v, want 403", ch.method, ch.path, token, code, out)
			}
		}
	}
	if n := e.till.eventCount(); n != 0 {
		t.Fatalf("refused requests recorded %d events", n)
	}
	c.csrf = good
	c.must(http.StatusOK, "POST", "/api/cart/lines", `{"sku":"1001"}`)
	// Another session's token is no good either.
	other := e.login(t, "2", "0000")
	c.csrf = other.csrf
	c.fails(http.StatusForbidden, "CSRF", "DELETE", "/api/cart", "")
}

func TestReadsNeedASessionExceptStatusAndStock(t *testing.T) {
	e := serve(t)
	anon := e.client(t)
	for _, p := range []string{"/api/cart", "/api/products", "/api/sales", "/api/shift", "/api/events", "/api/reports", "/api/settings", "/api/session", "/api/sales/1-1"} {
		anon.fails(http.StatusUnauthorized, "not logged in", "GET", p, "")
	}
	for _, p := range []string{"/api/status", "/api/stock", "/api/stock/1001", "/", "/assets/app.js", "/assets/app.css"} {
		if code, _ := anon.do("GET", p, ""); code != 200 {
			t.Errorf("GET %s: %d, want 200", p, code)
		}
	}
	// Public routes never change state.
	anon.fails(http.StatusMethodNotAllowed, "", "POST", "/api/status", "{}")
}

func TestManagerOnlyRoutes(t *testing.T) {
	e := serve(t)
	cashier := e.login(t, "2", "0000")
	manager := e.login(t, "1", "1234")
	for _, r := range []struct {
		method, path, body string
		ok                 int
	}{
		{"POST", "/api/products", `{"sku":"9001","name":"Jam","barcodes":["4000000900016"],"price":299,"tax_rate":700,"unit":"ea"}`, 201},
		{"PUT", "/api/products/1001", `{"sku":"1001","name":"Milk 1L","barcodes":["4000000100010"],"price":129,"tax_rate":700,"unit":"ea"}`, 200},
		{"POST", "/api/stock/receive", `{"idempotency_key":"s1","lines":[{"sku":"1001","qty":10}],"ref":"DN-1"}`, 201},
		{"POST", "/api/stock/adjust", `{"idempotency_key":"s2","lines":[{"sku":"1001","qty":-1}],"reason":"broken"}`, 201},
		{"POST", "/api/stock/count", `{"idempotency_key":"s3","lines":[{"sku":"1001","counted":7}]}`, 201},
		{"GET", "/api/reports", ``, 200},
		{"PUT", "/api/settings", `{"discount_limit_bp":500}`, 200},
		{"GET", "/api/staff", ``, 200},
		{"PUT", "/api/staff/7", `{"name":"New","role":"cashier","pin":"4321"}`, 200},
	} {
		before := e.till.eventCount()
		cashier.fails(http.StatusForbidden, "this needs a", r.method, r.path, r.body)
		if e.till.eventCount() != before {
			t.Fatalf("%s %s by a cashier recorded an event", r.method, r.path)
		}
		manager.must(r.ok, r.method, r.path, r.body)
	}
	// The count set the store's stock of 1001 to 7: 10 received, 1 broken,
	// counted 7 against 9 expected.
	out := manager.must(200, "GET", "/api/stock/1001", "")
	if num(out["total"]) != 7 {
		t.Fatalf("stock after receive/adjust/count: %v", out)
	}
	// A manager may not demote themselves.
	manager.fails(http.StatusBadRequest, "your own role", "PUT", "/api/staff/1", `{"name":"Maria","role":"cashier"}`)
}

func TestVoidNeedsAManager(t *testing.T) {
	e := serve(t)
	cashier := e.login(t, "2", "0000")
	cashier.must(201, "POST", "/api/sales", `{"idempotency_key":"s","lines":[{"sku":"1002","qty":2}],"tenders":[{"kind":"card","amount":498}]}`)
	out := cashier.fails(http.StatusForbidden, "a supervisor must approve", "POST", "/api/voids", `{"idempotency_key":"v","sale":"1-1","reason":"wrong item"}`)
	if out["need"] != "approval" {
		t.Fatalf("need %v, want approval", out["need"])
	}
	cashier.fails(http.StatusForbidden, "wrong approver number or PIN", "POST", "/api/voids", `{"idempotency_key":"v","sale":"1-1","reason":"x","manager":"1","manager_pin":"9999"}`)
	cashier.fails(http.StatusForbidden, "Carl is a cashier", "POST", "/api/voids", `{"idempotency_key":"v","sale":"1-1","reason":"x","manager":"2","manager_pin":"0000"}`)
	if e.till.eventCount() != 1 {
		t.Fatalf("refused voids recorded events")
	}
	out = cashier.must(201, "POST", "/api/voids", `{"idempotency_key":"v","sale":"1-1","reason":"wrong item","manager":"1","manager_pin":"1234"}`)
	if out["manager"] != "1" || num(out["total"]) != 498 || out["sale"].(map[string]any)["voided"] != true {
		t.Fatalf("void: %v", out)
	}
	cashier.must(200, "POST", "/api/voids", `{"idempotency_key":"v","sale":"1-1","reason":"wrong item","manager":"1","manager_pin":"1234"}`)
	manager := e.login(t, "1", "1234")
	manager.fails(http.StatusBadRequest, "already voided", "POST", "/api/voids", `{"idempotency_key":"v2","sale":"1-1","reason":"again"}`)
	manager.fails(http.StatusBadRequest, "already voided", "POST", "/api/refunds", `{"idempotency_key":"r","sale":"1-1","lines":[{"line":0,"qty":1}]}`)
}

func TestLoginBackoff(t *testing.T) {
	e := serve(t)
	c := e.browser(t)
	for i := range 3 {
		c.fails(http.StatusUnauthorized, "wrong staff number or PIN", "POST", "/api/login", `{"staff":"2","pin":"1111"}`)
		_ = i
	}
	// Now even the right PIN must wait: it is not even checked.
	auths := e.till.auths
	resp, b := c.raw("POST", "/api/login", `{"staff":"2","pin":"0000"}`)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "try again in") {
		t.Fatalf("fourth attempt: %d %s (Retry-After %q)", resp.StatusCode, b, resp.Header.Get("Retry-After"))
	}
	if e.till.auths != auths {
		t.Fatal("the PIN was checked during the back-off")
	}
	e.clock.add(1500 * time.Millisecond)
	c.fails(http.StatusUnauthorized, "wrong", "POST", "/api/login", `{"staff":"2","pin":"2222"}`)
	resp, _ = c.raw("POST", "/api/login", `{"staff":"2","pin":"0000"}`)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after a fourth failure: %d, want a longer back-off", resp.StatusCode)
	}
	e.clock.add(1500 * time.Millisecond) // 2 s after the fourth: doubled
	if resp, _ = c.raw("POST", "/api/login", `{"staff":"2","pin":"0000"}`); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("back-off did not double: %d", resp.StatusCode)
	}
	e.clock.add(time.Second)
	c.must(200, "POST", "/api/login", `{"staff":"2","pin":"0000"}`)
	// Success clears the strikes.
	c.fails(http.StatusUnauthorized, "wrong", "POST", "/api/login", `{"staff":"2","pin":"1111"}`)
	c.must(200, "POST", "/api/login", `{"staff":"2","pin":"0000"}`)
	// Unknown staff numbers answer the same as wrong PINs.
	c.fails(http.StatusUnauthorized, "wrong staff number or PIN", "POST", "/api/login", `{"staff":"77","pin":"0000"}`)
	c.fails(http.StatusBadRequest, "required", "POST", "/api/login", `{"staff":"","pin":""}`)
	c.fails(http.StatusBadRequest, "unknown field", "POST", "/api/login", `{"staff":"2","pin":"0000","role":"manager"}`)
}

func TestBackoffPerClientAcrossStaff(t *testing.T) {
	e := serve(t)
	c := e.browser(t)
	// Guessing one PIN across many staff numbers trips the client's limit.
	for i := range 9 {
		c.fails(http.StatusUnauthorized, "wrong", "POST", "/api/login", `{"staff":"`+string(rune('a'+i))+`","pin":"1234"}`)
	}
	resp, _ := c.raw("POST", "/api/login", `{"staff":"1","pin":"1234"}`)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("10th guess from one client: %d, want 429", resp.StatusCode)
	}
}

func TestHostAllowlist(t *testing.T) {
	e := serve(t)
	c := e.client(t)
	for host, want := range map[string]int{
		"evil.example":           http.StatusMisdirectedRequest,
		"evil.example:8081":      http.StatusMisdirectedRequest,
		"127.0.0.1.nip.io:8081":  http.StatusMisdirectedRequest,
		"localhost.evil.example": http.StatusMisdirectedRequest,
		"localhost:8081":         http.StatusOK,
		"127.0.0.1:8081":         http.StatusOK,
		"[::1]:8081":             http.StatusOK,
		"192.168.1.20:8081":      http.StatusOK,
		"LOCALHOST.:8081":        http.StatusOK,
	} {
		c.hdr["Host"] = host
		if code, out := c.do("GET", "/api/status", ""); code != want {
			t.Errorf("Host %s: %d %v, want %d", host, code, out, want)
		}
	}
	c.hdr["Host"] = "evil.example"
	c.fails(http.StatusMisdirectedRequest, "not allowed", "POST", "/api/login", `{"staff":"1","pin":"1234"}`)
}

func TestCrossOriginRequestsRefused(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000")
	c.hdr["Sec-Fetch-Site"] = "cross-site"
	c.fails(http.StatusForbidden, "cross-origin", "POST", "/api/cart/lines", `{"sku":"1001"}`)
	delete(c.hdr, "Sec-Fetch-Site")
	c.hdr["Origin"] = "http://evil.example"
	c.fails(http.StatusForbidden, "cross-origin", "POST", "/api/cart/lines", `{"sku":"1001"}`)
	// A login from another site is refused too (login CSRF).
	c.fails(http.StatusForbidden, "cross-origin", "POST", "/api/login", `{"staff":"2","pin":"0000"}`)
	c.hdr["Origin"] = e.srv.URL
	c.must(200, "POST", "/api/cart/lines", `{"sku":"1001"}`)
	// Reads are not blocked (the browser keeps their answers from the
	// other site).
	c.hdr["Origin"] = "http://evil.example"
	c.hdr["Sec-Fetch-Site"] = "cross-site"
	if code, _ := c.do("GET", "/api/status", ""); code != 200 {
		t.Fatalf("cross-site GET: %d", code)
	}
}

func TestLockAndUnlock(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000")
	out := c.must(200, "POST", "/api/lock", `{}`)
	if out["locked"] != true {
		t.Fatalf("lock: %v", out)
	}
	c.fails(http.StatusLocked, "locked", "POST", "/api/cart/lines", `{"sku":"1001"}`)
	c.fails(http.StatusLocked, "locked", "GET", "/api/cart", "")
	if out = c.must(200, "GET", "/api/session", ""); out["locked"] != true {
		t.Fatalf("session while locked: %v", out)
	}
	c.fails(http.StatusUnauthorized, "wrong", "POST", "/api/unlock", `{"pin":"1234"}`)
	c.must(200, "POST", "/api/unlock", `{"pin":"0000"}`)
	c.must(200, "POST", "/api/cart/lines", `{"sku":"1001"}`)
	c.must(200, "POST", "/api/logout", `{}`)
	c.fails(http.StatusUnauthorized, "not logged in", "GET", "/api/cart", "")
}

func TestSessionsExpireWhenIdle(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000")
	c.must(200, "GET", "/api/cart", "")
	e.clock.add(13 * time.Hour)
	c.fails(http.StatusUnauthorized, "not logged in", "GET", "/api/cart", "")
}

func TestPagesAndSecurityHeaders(t *testing.T) {
	e := serve(t)
	c := e.client(t)
	resp, body := c.raw("GET", "/", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `<script src="/assets/app.js"`) {
		t.Fatalf("page: %d %.200s", resp.StatusCode, body)
	}
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "script-src 'self'"} {
		if got := resp.Header.Get(h); !strings.Contains(got, want) {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	for path, ct := range map[string]string{"/assets/app.js": "javascript", "/assets/app.css": "text/css", "/assets/icon.svg": "image/svg+xml"} {
		resp, _ := c.raw("GET", path, "")
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), ct) {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	for _, path := range []string{"/assets/", "/assets/nope.js", "/nothing"} {
		if resp, _ := c.raw("GET", path, ""); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}
