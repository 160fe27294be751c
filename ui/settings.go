package ui

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// Settings are the store-wide settings the UI uses, kept in the CRDT so
// every till shares them.
type Settings struct {
	// DiscountLimitBP is the largest discount, in basis points of what
	// it applies to, a cashier may give without a manager's PIN.
	DiscountLimitBP int64 `json:"discount_limit_bp"`
	// Currency of cash movements and shifts (ISO 4217).
	Currency string `json:"currency"`
	// ScanGapMS is the longest gap between the keys of a keyboard-wedge
	// scan; LockAfterS locks an idle till screen (0: never).
	ScanGapMS  int64 `json:"scan_gap_ms"`
	LockAfterS int64 `json:"lock_after_s"`
	// RefundLimit and CashOutLimit (minor units) are the largest refund
	// and cash-out that the refund and cash_out permissions cover;
	// above them refund_large and cash_out_large apply.
	RefundLimit  int64 `json:"refund_limit"`
	CashOutLimit int64 `json:"cash_out_limit"`
	// OfflineRefunds lets a supervisor approve a refund while the sale's
	// till cannot be reached, up to OfflineLimit (minor units) per till
	// in any 24 hours (node/grants.go).
	OfflineRefunds bool  `json:"offline_refunds"`
	OfflineLimit   int64 `json:"offline_limit"`
	// LoyaltyPerUnit points are earned per whole currency unit paid,
	// except for SKUs starting with one of LoyaltyExcluded (comma-
	// separated prefixes); 0 earns none (node/balances.go).
	LoyaltyPerUnit  int64  `json:"loyalty_points_per_unit"`
	LoyaltyExcluded string `json:"loyalty_excluded_skus"`
	// CardPrefixes are the chain's gift card and store credit number
	// prefixes (comma-separated); a card that starts with none of them
	// belongs to another chain. Empty: any number (node/balances.go).
	CardPrefixes string `json:"card_prefixes"`
	// Permissions is the store's permission table.
	Permissions PermissionTable `json:"permissions"`
	// TaxIncluded: catalog prices include tax (VAT); false adds tax at
	// the total (US sales tax). OverrideLimitBP is the largest price
	// cut, in basis points of the list price, the price_override
	// permission covers; deeper cuts and raises need
	// price_override_large.
	TaxIncluded     bool  `json:"tax_included"`
	OverrideLimitBP int64 `json:"override_limit_bp"`
	// The smallest amount in use and cash rounding (money.go).
	MoneySettings
	// VariableLayouts read price- and weight-embedded labels (scan.go).
	VariableLayouts []basket.Layout `json:"variable_layouts"`

	// Language of the store's screens and receipts (ui/language.go):
	// "en", "ru" or "uz".
	Language string `json:"language"`
	// TimeZone of the store's screens, receipts and reports: an IANA
	// name; "" is the till's own zone (ui/language.go).
	TimeZone string `json:"time_zone"`
}

// Setting names in the CRDT. Values are decimal text.
const (
	SettingDiscountLimit = "discount_limit_bp"
	SettingCurrency      = "currency"
	SettingScanGap       = "scan_gap_ms"
	SettingLockAfter     = "lock_after_s"
	SettingRefundLimit   = "refund_limit"
	SettingCashOutLimit  = "cash_out_limit"
	// SettingOfflineRefunds is "allow" or "refuse" (the default).
	SettingOfflineRefunds = "offline_refunds"
	SettingOfflineLimit   = "offline_limit"
	SettingLoyaltyPerUnit = "loyalty_points_per_unit"
	SettingLoyaltyExclude = "loyalty_excluded_skus"
	SettingCardPrefixes   = "card_prefixes"
	// SettingPermissions is a JSON object: permission -> least role.
	SettingPermissions = "permissions"
	// SettingTaxIncluded is "true" or "false".
	SettingTaxIncluded   = "tax_included"
	SettingOverrideLimit = "override_limit_bp"
)

// DefaultSettings apply where a setting is unset or unreadable.
// Permissions is nil here: readSettings fills in DefaultPermissions.
var DefaultSettings = Settings{DiscountLimitBP: 1000, Currency: "EUR", ScanGapMS: 30, LockAfterS: 300,
	RefundLimit: 5000, CashOutLimit: 5000, OfflineLimit: DefaultOfflineLimit, TaxIncluded: true, OverrideLimitBP: 2000,
	Language: "en"}

// DefaultOfflineLimit is the offline refund limit where none is set, in
// euro cents (DefaultSettings' currency); a store in another currency
// gets DefaultLimit of its currency.
const DefaultOfflineLimit = 5000

// settingsTTL is how long settings are cached: every request reads them.
const settingsTTL = 2 * time.Second

func (a *API) settings(ctx context.Context) Settings {
	now := a.cfg.Now()
	a.setMu.Lock()
	if !a.setAt.IsZero() && now.Sub(a.setAt) < settingsTTL && now.Sub(a.setAt) >= 0 {
		s := a.setCache
		a.setMu.Unlock()
		return s
	}
	a.setMu.Unlock()
	s := a.readSettings(ctx)
	a.setMu.Lock()
	a.setCache, a.setAt = s, now
	a.setMu.Unlock()
	return s
}

func (a *API) forgetSettings() {
	a.setMu.Lock()
	a.setAt = time.Time{}
	a.setMu.Unlock()
}

func (a *API) readSettings(ctx context.Context) Settings {
	s := DefaultSettings
	num := func(name string, dst *int64, lo, hi int64) bool {
		if v, ok, err := a.till.Setting(ctx, name); err == nil && ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= lo && n <= hi {
				*dst = n
				return true
			}
		}
		return false
	}
	num(SettingDiscountLimit, &s.DiscountLimitBP, 0, 10000)
	num(SettingScanGap, &s.ScanGapMS, 5, 500)
	num(SettingLockAfter, &s.LockAfterS, 0, 86400)
	// The limits in money default to the currency's DefaultLimit, once
	// the currency is known (below).
	var setLimit [3]bool
	setLimit[0] = num(SettingRefundLimit, &s.RefundLimit, 0, ledger.MaxPrice)
	setLimit[1] = num(SettingCashOutLimit, &s.CashOutLimit, 0, ledger.MaxPrice)
	setLimit[2] = num(SettingOfflineLimit, &s.OfflineLimit, 0, ledger.MaxPrice)
	num(SettingLoyaltyPerUnit, &s.LoyaltyPerUnit, 0, 10_000)
	if v, ok, err := a.till.Setting(ctx, SettingLoyaltyExclude); err == nil && ok {
		s.LoyaltyExcluded = v
	}
	if v, ok, err := a.till.Setting(ctx, SettingCardPrefixes); err == nil && ok {
		s.CardPrefixes = v
	}
	if v, ok, err := a.till.Setting(ctx, SettingOfflineRefunds); err == nil && ok {
		s.OfflineRefunds = v == "allow"
	}
	num(SettingOverrideLimit, &s.OverrideLimitBP, 0, 10000)
	a.readMoneySettings(ctx, &s) // money.go
	if v, ok, err := a.till.Setting(ctx, SettingTaxIncluded); err == nil && ok {
		s.TaxIncluded = TaxIncludedSetting(v)
	}
	s.VariableLayouts = basket.DefaultLayouts()
	if v, ok, err := a.till.Setting(ctx, SettingVariableLayouts); err == nil && ok {
		if ls, ok := parseLayouts(v); ok {
			s.VariableLayouts = ls
		}
	}
	a.readLanguage(ctx, &s) // ui/language.go
	s.Permissions = DefaultPermissions()
	if v, ok, err := a.till.Setting(ctx, SettingPermissions); err == nil && ok {
		s.Permissions = parsePermissions(v)
	}
	if v, ok, err := a.till.Setting(ctx, SettingCurrency); err == nil && ok && validCurrency(v) {
		s.Currency = v
	} else if ps, err := a.till.SearchProducts(ctx, "", 1); err == nil && len(ps) == 1 {
		s.Currency = ps[0].Currency
	}
	for i, dst := range []*int64{&s.RefundLimit, &s.CashOutLimit, &s.OfflineLimit} {
		if !setLimit[i] {
			*dst = int64(DefaultLimit(s.Currency))
		}
	}
	return s
}

func validCurrency(c string) bool {
	return len(c) == 3 && strings.ToUpper(c) == c && strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == ""
}

func (a *API) getSettings(w http.ResponseWriter, r *http.Request, _ *session) {
	writeJSON(w, http.StatusOK, a.settings(r.Context()))
}

// SettingsChange is the body of PUT /api/settings: the settings to change.
type SettingsChange struct {
	DiscountLimitBP *int64  `json:"discount_limit_bp,omitempty"`
	Currency        *string `json:"currency,omitempty"`
	ScanGapMS       *int64  `json:"scan_gap_ms,omitempty"`
	LockAfterS      *int64  `json:"lock_after_s,omitempty"`
	RefundLimit     *int64  `json:"refund_limit,omitempty"`
	CashOutLimit    *int64  `json:"cash_out_limit,omitempty"`
	OfflineRefunds  *bool   `json:"offline_refunds,omitempty"`
	OfflineLimit    *int64  `json:"offline_limit,omitempty"`
	LoyaltyPerUnit  *int64  `json:"loyalty_points_per_unit,omitempty"`
	LoyaltyExcluded *string `json:"loyalty_excluded_skus,omitempty"`
	CardPrefixes    *string `json:"card_prefixes,omitempty"`

	// The cashier's day (issue 16).
	TaxIncluded     *bool            `json:"tax_included,omitempty"`
	VariableLayouts *[]basket.Layout `json:"variable_layouts,omitempty"`
	OverrideLimitBP *int64           `json:"override_limit_bp,omitempty"`

	// The store's language and time zone (ui/language.go).
	Language *string `json:"language,omitempty"`
	TimeZone *string `json:"time_zone,omitempty"`

	// The smallest amount in use and cash rounding (money.go).
	MoneyChange

	// Permissions changes the least role of the permissions named.
	Permissions map[Permission]Role `json:"permissions,omitempty"`
}

func (a *API) putSettings(w http.ResponseWriter, r *http.Request, s *session) {
	var req SettingsChange
	if !decode(w, r, &req) {
		return
	}
	put := map[string]string{}
	check := func(name string, v *int64, lo, hi int64, what string) bool {
		if v == nil {
			return true
		}
		if *v < lo || *v > hi {
			a.fail(w, r, badRequest("%s %d: want %d..%d", what, *v, lo, hi))
			return false
		}
		put[name] = strconv.FormatInt(*v, 10)
		return true
	}
	if !check(SettingDiscountLimit, req.DiscountLimitBP, 0, 10000, "discount limit (basis points)") ||
		!check(SettingScanGap, req.ScanGapMS, 5, 500, "scan gap (ms)") ||
		!check(SettingLockAfter, req.LockAfterS, 0, 86400, "lock after (s)") ||
		!check(SettingRefundLimit, req.RefundLimit, 0, ledger.MaxPrice, "refund limit (minor units)") ||
		!check(SettingCashOutLimit, req.CashOutLimit, 0, ledger.MaxPrice, "cash-out limit (minor units)") ||
		!check(SettingOfflineLimit, req.OfflineLimit, 0, ledger.MaxPrice, "offline refund limit (minor units)") ||
		!check(SettingOverrideLimit, req.OverrideLimitBP, 0, 10000, "price override limit (basis points)") ||
		!check(SettingLoyaltyPerUnit, req.LoyaltyPerUnit, 0, 10_000, "loyalty points per currency unit") {
		return
	}
	if err := putLanguage(req, put); err != nil { // ui/language.go
		a.fail(w, r, err)
		return
	}
	if err := putTimeZone(req, put); err != nil { // ui/language.go
		a.fail(w, r, err)
		return
	}
	if err := putMoneyChange(req.MoneyChange, put); err != nil {
		a.fail(w, r, err)
		return
	}
	if req.LoyaltyExcluded != nil {
		if len(*req.LoyaltyExcluded) > ledger.MaxTextLen {
			a.fail(w, r, badRequest("excluded SKUs: at most %d characters", ledger.MaxTextLen))
			return
		}
		put[SettingLoyaltyExclude] = *req.LoyaltyExcluded
	}
	if req.CardPrefixes != nil {
		if len(*req.CardPrefixes) > ledger.MaxTextLen {
			a.fail(w, r, badRequest("card prefixes: at most %d characters", ledger.MaxTextLen))
			return
		}
		put[SettingCardPrefixes] = *req.CardPrefixes
	}
	if req.OfflineRefunds != nil {
		put[SettingOfflineRefunds] = map[bool]string{true: "allow", false: "refuse"}[*req.OfflineRefunds]
	}
	if req.TaxIncluded != nil {
		put[SettingTaxIncluded] = strconv.FormatBool(*req.TaxIncluded)
	}
	if req.VariableLayouts != nil {
		for i, l := range *req.VariableLayouts {
			if err := l.Validate(); err != nil {
				a.fail(w, r, badRequest("variable-measure layout %d: %v", i+1, err))
				return
			}
		}
		b, _ := json.Marshal(*req.VariableLayouts)
		put[SettingVariableLayouts] = string(b)
	}
	if len(req.Permissions) > 0 {
		t, err := a.settings(r.Context()).Permissions.merge(req.Permissions)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		b, _ := json.Marshal(t)
		put[SettingPermissions] = string(b)
	}
	if req.Currency != nil {
		if !validCurrency(*req.Currency) {
			a.fail(w, r, badRequest("currency %q is not an ISO 4217 code like EUR", *req.Currency))
			return
		}
		if _, err := i18n.LookupCurrency(*req.Currency); err != nil { // the pages need its digits (ui/language.go)
			a.fail(w, r, badRequestErr(err))
			return
		}
		put[SettingCurrency] = *req.Currency
	}
	for name, v := range put {
		if err := a.till.PutSetting(r.Context(), name, v); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	a.forgetSettings()
	a.log.Info("settings changed", "by", s.staff.ID, "n", len(put))
	writeJSON(w, http.StatusOK, a.settings(r.Context()))
}
