package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"

	"github.com/tillmesh/tillmesh/ui/i18n"
)

// The till's languages (issue 20). The store's language is the setting
// "language" (en when unset); a staff member's own language is the store
// setting "language.<staff id>", so it follows them to every till of the
// store without a new field in the staff record. A session speaks the
// staff member's language, else the store's; receipts stay in the
// store's. The pages fetch their words from /i18n/<lang>.json and
// /assets/i18n.js (package i18n).

// Setting names of the languages.
const (
	SettingLanguage = "language"
	// SettingTimeZone is the store's IANA time zone ("Asia/Tashkent");
	// unset, the till's own.
	SettingTimeZone = "time_zone"
	// SettingStaffLanguage prefixes a staff member's own language:
	// "language.1001". The value "store" follows the store.
	SettingStaffLanguage = "language."
)

// followStore is the staff language value that means "the store's".
const followStore = "store"

// readLanguage reads the store's language into s: en where unset or not
// a language the till speaks.
func (a *API) readLanguage(ctx context.Context, s *Settings) {
	s.Language = string(i18n.English)
	if v, ok, err := a.till.Setting(ctx, SettingLanguage); err == nil && ok {
		if l, err := i18n.ParseLang(v); err == nil {
			s.Language = string(l)
		}
	}
	if v, ok, err := a.till.Setting(ctx, SettingTimeZone); err == nil && ok {
		if _, err := time.LoadLocation(v); err == nil {
			s.TimeZone = v
		}
	}
}

// putLanguage checks a settings change's language into put.
func putLanguage(req SettingsChange, put map[string]string) error {
	if req.Language == nil {
		return nil
	}
	l, err := i18n.ParseLang(*req.Language)
	if err != nil {
		return badRequestErr(err)
	}
	put[SettingLanguage] = string(l)
	return nil
}

// putTimeZone checks a settings change's time zone into put: an IANA
// name this machine's zone database knows, or "" for the till's own.
func putTimeZone(req SettingsChange, put map[string]string) error {
	if req.TimeZone == nil {
		return nil
	}
	tz := strings.TrimSpace(*req.TimeZone)
	if tz == "Local" {
		tz = ""
	}
	if tz != "" {
		if _, err := time.LoadLocation(tz); err != nil {
			return badRequest("time zone %q: not an IANA time zone name such as Asia/Tashkent", *req.TimeZone)
		}
	}
	put[SettingTimeZone] = tz
	return nil
}

// staffLanguage is the staff member's own language, "" when they follow
// the store's.
func (a *API) staffLanguage(ctx context.Context, id string) string {
	v, ok, err := a.till.Setting(ctx, SettingStaffLanguage+id)
	if err != nil || !ok {
		return ""
	}
	l, err := i18n.ParseLang(v)
	if err != nil {
		return ""
	}
	return string(l)
}

// sessionLanguage is the language the session speaks: the staff
// member's own, else the store's.
func (a *API) sessionLanguage(ctx context.Context, s session) string {
	if l := a.staffLanguage(ctx, s.staff.ID); l != "" {
		return l
	}
	return a.settings(ctx).Language
}

// languageInfo answers GET /api/language (public: the log-in screen
// speaks the store's language before anyone logs in) and is part of the
// session.
type languageInfo struct {
	// Language is what the page should speak: the session's, or the
	// store's without a session.
	Language string `json:"language"`
	Store    string `json:"store"`
	// Own is the staff member's own choice, "" when they follow the
	// store.
	Own       string         `json:"own,omitempty"`
	Languages []languageName `json:"languages"`
}

type languageName struct {
	Code string `json:"code"`
	Name string `json:"name"` // in the language itself
}

func (a *API) languages(ctx context.Context, s *session) languageInfo {
	store := a.settings(ctx).Language
	info := languageInfo{Language: store, Store: store}
	if s != nil {
		info.Own = a.staffLanguage(ctx, s.staff.ID)
		if info.Own != "" {
			info.Language = info.Own
		}
	}
	for _, l := range i18n.Langs {
		info.Languages = append(info.Languages, languageName{Code: string(l), Name: l.Name()})
	}
	return info
}

func (a *API) getLanguage(w http.ResponseWriter, r *http.Request, _ *session) {
	writeJSON(w, http.StatusOK, a.languages(r.Context(), a.session(r)))
}

// putOwnLanguage sets the session's staff member's own language: a
// language code, or "" to follow the store. Anyone may choose their own.
func (a *API) putOwnLanguage(w http.ResponseWriter, r *http.Request, s *session) {
	var req struct {
		Language string `json:"language"`
	}
	if !decode(w, r, &req) {
		return
	}
	v := followStore
	if req.Language != "" {
		l, err := i18n.ParseLang(req.Language)
		if err != nil {
			a.fail(w, r, badRequestErr(err))
			return
		}
		v = string(l)
	}
	if err := a.till.PutSetting(r.Context(), SettingStaffLanguage+s.staff.ID, v); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("staff language", "staff", s.staff.ID, "language", v)
	writeJSON(w, http.StatusOK, a.languages(r.Context(), s))
}

// pageCurrency is the store's currency for the pages' money format.
// pageLocale is the store's currency and time zone (the store setting
// time_zone, which receipts use too) for the pages.
func (a *API) pageLocale(r *http.Request) i18n.Locale {
	tz := ""
	if v, ok, err := a.till.Setting(r.Context(), SettingTimeZone); err == nil && ok {
		tz = v // the handler drops a zone it cannot load
	}
	return i18n.Locale{Currency: a.pageCurrency(r), TimeZone: tz}
}

func (a *API) pageCurrency(r *http.Request) i18n.Currency {
	c, err := i18n.LookupCurrency(a.settings(r.Context()).Currency)
	if err != nil {
		c, _ = i18n.LookupCurrency(DefaultSettings.Currency)
	}
	return c
}

// serveScript serves the pages' i18n.js.
func serveScript(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(i18n.Script())
}

// badRequestErr marks err (an *i18n.Error, say) as bad input, keeping
// it in the chain for its catalog key.
func badRequestErr(err error) error { return fmt.Errorf("%w: %w", ErrBadRequest, err) }

// errKey is the catalog key, with its arguments, of err: an *i18n.Error
// in its chain, else one of the errors a cashier meets in a normal day.
// "" for the rest, which the pages show in English.
func errKey(err error) (string, map[string]string) {
	var e *i18n.Error
	if errors.As(err, &e) {
		args := map[string]string{}
		for i := 0; i+1 < len(e.Args); i += 2 {
			if name, ok := e.Args[i].(string); ok {
				args[name] = argText(e.Args[i+1])
			}
		}
		return e.Key, args
	}
	if tm := (*tooManyError)(nil); errors.As(err, &tm) {
		return "till.error.too_many_pins", map[string]string{"seconds": strconv.Itoa(int((tm.wait + time.Second - 1) / time.Second))}
	}
	for _, k := range sentinelKeys {
		if errors.Is(err, k.err) {
			return k.key, nil
		}
	}
	return "", nil
}

// sentinelKeys are the catalog keys of errors the ledger and the till
// return without one, checked in order.
var sentinelKeys = []struct {
	err error
	key string
}{
	{ErrBadCredentials, "till.error.bad_pin"},
	{basket.ErrCheckDigit, "till.error.check_digit"},
	{ErrWrongCode, "till.error.wrong_setup_code"},
	{ledger.ErrTendersShort, "till.error.tenders_short"},
	{ledger.ErrOverRefund, "till.error.over_refund"},
	{ledger.ErrOverRedeem, "till.error.over_redeem"},
	{ledger.ErrAlreadyVoided, "till.error.already_voided"},
	{ledger.ErrUnknownSale, "till.error.unknown_sale"},
	{ledger.ErrShiftState, "till.error.shift_state"},
	{ledger.ErrOwnerUnreachable, "till.error.owner_unreachable"},
	{ErrUnavailable, "till.error.unavailable"},
}

func argText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case time.Duration:
		return v.Round(time.Second).String()
	}
	return fmt.Sprint(v)
}

// errorBody is the JSON body of an error: the English reason (for tools
// and tests) and, where the error has one, the catalog key and its
// arguments, which the pages show in the session's language.
func errorBody(reason string, err error) map[string]any {
	body := map[string]any{"error": reason}
	if key, args := errKey(err); key != "" {
		body["code"] = key
		if len(args) > 0 {
			body["args"] = args
		}
	}
	return body
}

// writeKeyed answers an error with its catalog key: err is an
// *i18n.Error made by i18n.Errorf.
func writeKeyed(w http.ResponseWriter, status int, err error, extra map[string]any) {
	body := errorBody(err.Error(), err)
	for k, v := range extra {
		body[k] = v
	}
	writeJSON(w, status, body)
}
