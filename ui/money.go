package ui

import (
	"context"
	"strconv"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// Money in use (issue 20): how the store's cash works, beside its
// currency. Both are minor units of the store's currency.
const (
	// SettingSmallestAmount is the smallest amount prices are written in
	// (0: any): 100 for so'm prices in whole hundreds. A catalog price or
	// a price override that is not a multiple is refused.
	SettingSmallestAmount = "smallest_amount"
	// SettingCashRounding is the step a cash payment's due amount rounds
	// to (0: none): 100 or 1000 for so'm, 5 for a Swiss store's 0.05. The
	// rounding is a line of its own in the signed sale (ledger.Sale.Rounding).
	SettingCashRounding = "cash_rounding"
)

// MoneySettings are the settings of money in use (see above).
type MoneySettings struct {
	SmallestAmount ledger.Money `json:"smallest_amount"`
	CashRounding   ledger.Money `json:"cash_rounding"`
}

// MoneyChange is the part of PUT /api/settings that changes them.
type MoneyChange struct {
	SmallestAmount *int64 `json:"smallest_amount,omitempty"`
	CashRounding   *int64 `json:"cash_rounding,omitempty"`
}

// ParseMoneySetting reads a smallest_amount or cash_rounding setting:
// decimal minor units in 0..ledger.MaxRoundStep; anything else is 0.
func ParseMoneySetting(v string) ledger.Money {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > ledger.MaxRoundStep {
		return 0
	}
	return ledger.Money(n)
}

func (a *API) readMoneySettings(ctx context.Context, s *Settings) {
	if v, ok, err := a.till.Setting(ctx, SettingSmallestAmount); err == nil && ok {
		s.SmallestAmount = ParseMoneySetting(v)
	}
	if v, ok, err := a.till.Setting(ctx, SettingCashRounding); err == nil && ok {
		s.CashRounding = ParseMoneySetting(v)
	}
}

// putMoneyChange adds the money settings of c to put, or says what is
// wrong with them.
func putMoneyChange(c MoneyChange, put map[string]string) error {
	for _, f := range []struct {
		name, what string
		v          *int64
	}{{SettingSmallestAmount, "smallest amount in use (minor units)", c.SmallestAmount},
		{SettingCashRounding, "cash rounding step (minor units)", c.CashRounding}} {
		if f.v == nil {
			continue
		}
		if *f.v < 0 || *f.v > ledger.MaxRoundStep {
			return badRequest("%s %d: want 0..%d", f.what, *f.v, ledger.MaxRoundStep)
		}
		put[f.name] = strconv.FormatInt(*f.v, 10)
	}
	return nil
}

// checkSmallest refuses a price that is not a multiple of the store's
// smallest amount in use.
func (a *API) checkSmallest(ctx context.Context, what string, m ledger.Money) error {
	set := a.settings(ctx)
	if err := basket.CheckSmallest(what, m, set.SmallestAmount, moneyText(set.Currency)); err != nil {
		return badRequest("%v", err)
	}
	return nil
}

// moneyText writes amounts of currency code as an English message reads
// them (12,000 UZS, €1.25): the currency's own decimals, never cents of
// a so'm.
func moneyText(code string) func(ledger.Money) string {
	cur, err := i18n.LookupCurrency(code)
	if err != nil {
		return func(m ledger.Money) string { return m.String() + " " + code }
	}
	return func(m ledger.Money) string { return i18n.FormatMoney(i18n.English, cur, m) }
}

// defaultLimitMajor is the refund, cash-out and offline limits' default
// in major units for currencies whose unit is worth little, each about
// what 50 euros are (a till must not need a manager for every refund of
// a bottle of milk in so'm); any other currency's default is 50 of its
// major units.
var defaultLimitMajor = map[string]int64{
	"UZS": 500_000, "KZT": 25_000, "KGS": 5_000, "TJS": 500, "RUB": 5_000, "UAH": 2_000, "BYN": 150,
	"JPY": 5_000, "KRW": 50_000, "CNY": 400, "INR": 5_000, "TRY": 2_000, "HUF": 20_000, "CZK": 1_000,
	"PLN": 200, "SEK": 500, "NOK": 500, "DKK": 400, "IDR": 800_000, "VND": 1_000_000,
}

// DefaultLimit is the default of the refund, cash-out and offline
// refund limits (refund_limit, cash_out_limit, offline_limit) in a store
// whose currency is cur, in its minor units: 5,000 for euros (€50.00),
// 500,000 for so'm. An unknown currency counts two minor digits.
func DefaultLimit(cur string) ledger.Money {
	c, err := i18n.LookupCurrency(cur)
	if err != nil {
		c = i18n.Currency{Code: cur, Digits: 2}
	}
	major, ok := defaultLimitMajor[c.Code]
	if !ok {
		major = 50
	}
	return ledger.Money(major) * c.Unit()
}
