package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/tillmesh/tillmesh/ui/i18n"
)

// Permission is something a role may be allowed to do at a till.
type Permission string

// Permissions. The store's permission table (the "permissions" setting,
// replicated like every setting) names the least role that has each.
const (
	PermRefund          Permission = "refund"            // refund up to the refund limit
	PermRefundLarge     Permission = "refund_large"      // refund above the refund limit
	PermRefundOtherTill Permission = "refund_other_till" // refund a sale made at another till
	PermRefundOffline   Permission = "refund_offline"    // approve a refund while the sale's till cannot be reached
	PermVoid            Permission = "void"              // void a whole sale
	PermCashIn          Permission = "cash_in"
	PermCashOut         Permission = "cash_out"       // cash out up to the cash-out limit
	PermCashOutLarge    Permission = "cash_out_large" // cash out above the cash-out limit
	PermNoSale          Permission = "no_sale"        // open the drawer without a sale
	PermPriceOverride   Permission = "price_override" // override a price within the override limit
	PermDiscount        Permission = "discount_above_limit"
	PermCatalog         Permission = "catalog"
	PermStock           Permission = "stock"
	PermStaff           Permission = "staff"
	PermSettings        Permission = "settings"
	PermReports         Permission = "reports"
	PermReprint         Permission = "reprint"       // the first copy of a receipt
	PermReprintAgain    Permission = "reprint_again" // further copies of one receipt
)

// Permissions of the cashier's day (issue 16).
const (
	PermPriceOverrideLarge Permission = "price_override_large" // a deeper cut than the override limit, or a raise
	PermReturnNoReceipt    Permission = "return_no_receipt"    // take goods back without a receipt, or exchange them
)

// PermissionInfo describes a permission for the manager's screen.
type PermissionInfo struct {
	Name    Permission `json:"name"`
	Label   string     `json:"label"`
	Default Role       `json:"default"`
	// Fixed permissions stay with managers: nobody can lock the store
	// out of its own staff list and settings.
	Fixed bool `json:"fixed,omitempty"`
}

// AllPermissions lists every permission with its default, the defaults
// a supermarket expects: cashiers sell, refund small amounts of any
// till's sales, take cash in and out up to a limit and reprint a receipt
// once; a supervisor approves the rest of the shop floor (voids, large
// refunds and cash-outs, no-sales, discounts above the limit, reports);
// a manager runs the back office.
var AllPermissions = []PermissionInfo{
	{PermRefund, "Refund up to the refund limit", RoleCashier, false},
	{PermRefundLarge, "Refund above the refund limit", RoleSupervisor, false},
	{PermRefundOtherTill, "Refund a sale made at another till", RoleCashier, false},
	{PermRefundOffline, "Approve a refund while the sale's till cannot be reached", RoleSupervisor, false},
	{PermVoid, "Void a sale", RoleSupervisor, false},
	{PermReturnNoReceipt, "Take goods back without a receipt (return, exchange)", RoleSupervisor, false},
	{PermCashIn, "Cash in", RoleCashier, false},
	{PermCashOut, "Cash out up to the cash-out limit", RoleCashier, false},
	{PermCashOutLarge, "Cash out above the cash-out limit", RoleSupervisor, false},
	{PermNoSale, "Open the drawer without a sale", RoleSupervisor, false},
	{PermPriceOverride, "Override a price within the override limit", RoleSupervisor, false},
	{PermPriceOverrideLarge, "Override a price beyond the override limit", RoleManager, false},
	{PermDiscount, "Discount above the discount limit", RoleSupervisor, false},
	{PermCatalog, "Edit the catalog", RoleManager, false},
	{PermStock, "Receive, adjust and count stock", RoleManager, false},
	{PermStaff, "Edit staff", RoleManager, true},
	{PermSettings, "Change settings and permissions", RoleManager, true},
	{PermReports, "See reports", RoleSupervisor, false},
	{PermReprint, "Reprint a receipt once", RoleCashier, false},
	{PermReprintAgain, "Reprint a receipt again", RoleSupervisor, false},
}

// rank orders roles; an unknown role ranks below every real one.
func rank(r Role) int {
	switch r {
	case RoleCashier:
		return 1
	case RoleSupervisor:
		return 2
	case RoleManager:
		return 3
	}
	return 0
}

// ValidRole reports whether r is a role staff can have.
func ValidRole(r Role) bool { return rank(r) > 0 }

// PermissionTable maps each permission to the least role that has it.
type PermissionTable map[Permission]Role

// DefaultPermissions returns a new table of the defaults.
func DefaultPermissions() PermissionTable {
	t := PermissionTable{}
	for _, p := range AllPermissions {
		t[p.Name] = p.Default
	}
	return t
}

// Allows reports whether role r has permission p. An unknown permission
// is allowed to nobody.
func (t PermissionTable) Allows(r Role, p Permission) bool {
	least, ok := t[p]
	return ok && rank(r) > 0 && rank(r) >= rank(least)
}

// Of lists the permissions role r has, sorted.
func (t PermissionTable) Of(r Role) []Permission {
	out := []Permission{}
	for p := range t {
		if t.Allows(r, p) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// merge applies changes to a copy of t after checking them: known
// permissions, real roles, fixed ones left to managers.
func (t PermissionTable) merge(changes map[Permission]Role) (PermissionTable, error) {
	out := DefaultPermissions()
	for p, r := range t {
		out[p] = r
	}
	for p, r := range changes {
		var info *PermissionInfo
		for i := range AllPermissions {
			if AllPermissions[i].Name == p {
				info = &AllPermissions[i]
			}
		}
		switch {
		case info == nil:
			return nil, badRequest("permission %q: no such permission", p)
		case !ValidRole(r):
			return nil, badRequest("permission %s: role %q: want cashier, supervisor or manager", p, r)
		case info.Fixed && r != RoleManager:
			return nil, badRequest("permission %s stays with managers", p)
		}
		out[p] = r
	}
	return out, nil
}

// parsePermissions reads the permissions setting over the defaults; a
// damaged entry is skipped (the default stands) rather than failing
// every request.
func parsePermissions(s string) PermissionTable {
	t := DefaultPermissions()
	var m map[Permission]Role
	if json.Unmarshal([]byte(s), &m) != nil {
		return t
	}
	for p, r := range m {
		if _, known := t[p]; known && ValidRole(r) {
			t[p] = r
		}
	}
	for _, p := range AllPermissions {
		if p.Fixed {
			t[p.Name] = RoleManager
		}
	}
	return t
}

// leastRole names who may do p, for messages: "a supervisor".
func (t PermissionTable) leastRole(p Permission) string { return "a " + string(t.least(p)) }

// least is the least role with permission p.
func (t PermissionTable) least(p Permission) Role {
	if r := t[p]; r != "" {
		return r
	}
	return RoleManager
}

// authorize makes sure an action needing perms is allowed: to the
// session's own role, or else to the approver whose number and PIN came
// with the request. It returns who allowed it (the session's staff
// member or the approver).
func (a *API) authorize(ctx context.Context, r *http.Request, s *session, ap approval, what string, perms ...Permission) (string, error) {
	table := a.settings(ctx).Permissions
	missing := []Permission{}
	for _, p := range perms {
		if !table.Allows(s.staff.Role, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return s.staff.ID, nil
	}
	need, needRole := table.leastRole(missing[0]), table.least(missing[0])
	for _, p := range missing[1:] {
		if rank(table[p]) > rank(table[missing[0]]) {
			need, needRole = table.leastRole(p), table.least(p)
		}
	}
	if ap.Approver == "" {
		return "", &needError{status: http.StatusForbidden, need: "approval", reason: fmt.Sprintf("%s: %s must approve", what, need),
			cause: i18n.Errorf("till.error.approval", "least", string(needRole))}
	}
	m, err := a.checkPIN(ctx, r, s, ap.Approver, ap.ApproverPIN)
	if errors.Is(err, ErrBadCredentials) {
		// Not the session's credentials: a 401 would log the cashier out.
		return "", &needError{status: http.StatusForbidden, need: "approval", reason: "wrong approver number or PIN",
			cause: i18n.Errorf("till.error.bad_approver")}
	}
	if err != nil {
		return "", err
	}
	for _, p := range missing {
		if !table.Allows(m.Role, p) {
			return "", &needError{status: http.StatusForbidden, need: "approval",
				reason: fmt.Sprintf("%s is a %s: %s: %s must approve", m.Name, m.Role, what, table.leastRole(p)),
				cause:  i18n.Errorf("till.error.approver_role", "name", m.Name, "role", string(m.Role), "least", string(table.least(p)))}
		}
	}
	a.log.Info("approved", "what", what, "approver", m.ID, "staff", s.staff.ID)
	return m.ID, nil
}

// PermissionView is a permission with the role the store gives it now.
type PermissionView struct {
	PermissionInfo
	Role Role `json:"role"`
}

// getPermissions answers the table with labels and defaults, for the
// manager's screen.
func (a *API) getPermissions(w http.ResponseWriter, r *http.Request, _ *session) {
	t := a.settings(r.Context()).Permissions
	out := make([]PermissionView, len(AllPermissions))
	for i, p := range AllPermissions {
		out[i] = PermissionView{PermissionInfo: p, Role: t[p.Name]}
	}
	writeJSON(w, http.StatusOK, out)
}
