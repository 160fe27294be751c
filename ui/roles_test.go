package ui_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ui"
)

func TestPermissionDefaults(t *testing.T) {
	e := serve(t)
	cashier := e.login(t, "2", "0000")
	super := e.login(t, "3", "3333")
	cashier.must(201, "POST", "/api/shift/open", `{"idempotency_key":"o","float":100000}`)
	sale := cashier.must(201, "POST", "/api/sales", `{"idempotency_key":"s","lines":[{"sku":"2001","qty":10}],"tenders":[{"kind":"cash","amount":5990}]}`)

	// Refunds up to 50.00: the cashier; above: a supervisor.
	cashier.must(201, "POST", "/api/refunds", `{"idempotency_key":"r1","sale":"1-1","lines":[{"line":0,"qty":1}]}`)
	out := cashier.fails(http.StatusForbidden, "a supervisor must approve", "POST", "/api/refunds", `{"idempotency_key":"r2","sale":"1-1","lines":[{"line":0,"qty":9}]}`)
	if out["need"] != "approval" {
		t.Fatalf("large refund: %v", out)
	}
	cashier.fails(http.StatusForbidden, "wrong approver", "POST", "/api/refunds", `{"idempotency_key":"r2","sale":"1-1","lines":[{"line":0,"qty":9}],"approver":"3","approver_pin":"0000"}`)
	cashier.must(201, "POST", "/api/refunds", `{"idempotency_key":"r2","sale":"1-1","lines":[{"line":0,"qty":9}],"approver":"3","approver_pin":"3333"}`)
	_ = sale

	// Cash out up to 50.00: the cashier; above: a supervisor.
	cashier.must(201, "POST", "/api/cash", `{"idempotency_key":"c1","direction":"out","amount":2000,"reason":"window cleaner"}`)
	cashier.fails(http.StatusForbidden, "a supervisor must approve", "POST", "/api/cash", `{"idempotency_key":"c2","direction":"out","amount":6000,"reason":"bank"}`)
	super.must(201, "POST", "/api/cash", `{"idempotency_key":"c3","direction":"out","amount":6000,"reason":"bank"}`)

	// Reprints: once by anyone, again by a supervisor.
	id := sale["event_id"].(string)
	cashier.must(http.StatusAccepted, "POST", "/api/reprint", `{"event_id":"`+id+`"}`)
	cashier.fails(http.StatusForbidden, "a supervisor must approve", "POST", "/api/reprint", `{"event_id":"`+id+`"}`)
	super.must(http.StatusAccepted, "POST", "/api/reprint", `{"event_id":"`+id+`"}`)

	// Supervisors see reports and void, but do not edit the catalog.
	super.must(200, "GET", "/api/reports", "")
	super.fails(http.StatusForbidden, "Sue is a supervisor: this needs a manager", "PUT", "/api/settings", `{"discount_limit_bp":500}`)
	super.fails(http.StatusForbidden, "needs a manager", "POST", "/api/products", `{"sku":"9001","name":"Jam","price":299,"tax_rate":700,"unit":"ea"}`)
	super.must(201, "POST", "/api/sales", `{"idempotency_key":"s2","lines":[{"sku":"1001","qty":1}],"tenders":[{"kind":"card","amount":119}]}`)
	super.must(201, "POST", "/api/voids", `{"idempotency_key":"v","sale":"1-4","reason":"test"}`)

	// The session says what the role may do, for the page.
	s := cashier.must(200, "GET", "/api/session", "")
	perms := []string{}
	for _, p := range s["permissions"].([]any) {
		perms = append(perms, p.(string))
	}
	if !slices.Contains(perms, "refund") || slices.Contains(perms, "void") || slices.Contains(perms, "catalog") {
		t.Fatalf("cashier's permissions: %v", perms)
	}
}

func TestManagerEditsPermissionTable(t *testing.T) {
	e := serve(t)
	m := e.login(t, "1", "1234")
	cashier := e.login(t, "2", "0000")
	cashier.must(201, "POST", "/api/shift/open", `{"idempotency_key":"o","float":0}`)
	cashier.fails(http.StatusForbidden, "a supervisor must approve", "POST", "/api/nosale", `{"idempotency_key":"n1"}`)
	for _, bad := range []struct{ body, reason string }{
		{`{"permissions":{"staff":"cashier"}}`, "stays with managers"},
		{`{"permissions":{"settings":"supervisor"}}`, "stays with managers"},
		{`{"permissions":{"open_safe":"cashier"}}`, "no such permission"},
		{`{"permissions":{"no_sale":"admin"}}`, "want cashier, supervisor or manager"},
		{`{"refund_limit":-1}`, "refund limit"},
	} {
		m.fails(http.StatusBadRequest, bad.reason, "PUT", "/api/settings", bad.body)
	}
	cashier.fails(http.StatusForbidden, "this needs a manager", "PUT", "/api/settings", `{"permissions":{"no_sale":"cashier"}}`)
	out := m.must(200, "PUT", "/api/settings", `{"permissions":{"no_sale":"cashier","reports":"manager"},"refund_limit":100}`)
	if p := out["permissions"].(map[string]any); p["no_sale"] != "cashier" || p["reports"] != "manager" || p["void"] != "supervisor" {
		t.Fatalf("table after the edit: %v", p)
	}
	cashier.must(201, "POST", "/api/nosale", `{"idempotency_key":"n1"}`)
	super := e.login(t, "3", "3333")
	super.fails(http.StatusForbidden, "needs a manager", "GET", "/api/reports", "")
	// The table is a setting like any other: every till reads the same.
	if v, ok, _ := e.till.Setting(t.Context(), "permissions"); !ok || v == "" {
		t.Fatal("permissions not stored as a setting")
	}
	list := m.must(200, "GET", "/api/permissions", "")
	_ = list
}

func TestDeactivateAndRemoveStaff(t *testing.T) {
	e := serve(t)
	m := e.login(t, "1", "1234")
	cashier := e.login(t, "2", "0000")
	cashier.must(201, "POST", "/api/sales", `{"idempotency_key":"s","lines":[{"sku":"1001","qty":1}],"tenders":[{"kind":"card","amount":119}]}`)

	m.fails(http.StatusBadRequest, "deactivate yourself", "PUT", "/api/staff/1", `{"name":"Maria","role":"manager","inactive":true}`)
	m.must(200, "PUT", "/api/staff/2", `{"name":"Carl","role":"cashier","inactive":true}`)
	cashier.fails(http.StatusUnauthorized, "deactivated or removed", "GET", "/api/cart", "")
	cashier.fails(http.StatusUnauthorized, "not logged in", "GET", "/api/cart", "") // the session is gone
	e.browser(t).fails(http.StatusUnauthorized, "wrong staff number or PIN", "POST", "/api/login", `{"staff":"2","pin":"0000"}`)
	m.must(200, "PUT", "/api/staff/2", `{"name":"Carl","role":"cashier"}`)
	cashier = e.login(t, "2", "0000")

	m.fails(http.StatusBadRequest, "remove yourself", "DELETE", "/api/staff/1", "")
	m.must(200, "DELETE", "/api/staff/2", "")
	cashier.fails(http.StatusUnauthorized, "deactivated or removed", "GET", "/api/cart", "")
	e.browser(t).fails(http.StatusUnauthorized, "wrong staff number or PIN", "POST", "/api/login", `{"staff":"2","pin":"0000"}`)
	m.fails(http.StatusConflict, "removed", "PUT", "/api/staff/2", `{"name":"Carl","role":"cashier","pin":"1111"}`)
	// Past events stay: the sale still names Carl's number.
	if s := m.must(200, "GET", "/api/sales/1-1", ""); s["staff"] != "2" {
		t.Fatalf("the removed cashier's sale: %v", s)
	}

	// A deactivation merged from another till ends the session too, once
	// the staff list is read again.
	super := e.login(t, "3", "3333")
	e.till.setStaff("3", func(m *ui.StaffMember) { m.Inactive = true })
	e.clock.add(3 * time.Second)
	super.fails(http.StatusUnauthorized, "deactivated or removed", "GET", "/api/cart", "")
	// A role change merged from a peer applies to open sessions.
	e.till.setStaff("1", func(m *ui.StaffMember) { m.Role = ui.RoleCashier })
	e.clock.add(3 * time.Second)
	m.fails(http.StatusForbidden, "Maria is a cashier", "GET", "/api/staff", "")
}
