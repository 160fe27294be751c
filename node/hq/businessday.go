package hq

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// DayRule is a store's business day for its reports: the time zone it
// trades in and when its day ends, for a store open past midnight (a
// sale at 01:30 with DayEnd "02:00" counts on the day before).
type DayRule struct {
	TimeZone string `json:"time_zone,omitempty"` // IANA name, e.g. "Europe/Berlin"; empty: HQ's report zone
	DayEnd   string `json:"day_end,omitempty"`   // "HH:MM" after midnight, before noon; empty: midnight
}

// parse checks the rule and returns its zone and day end.
func (r DayRule) parse(def *time.Location) (*time.Location, time.Duration, error) {
	loc := def
	if r.TimeZone != "" {
		l, err := time.LoadLocation(r.TimeZone)
		if err != nil || strings.EqualFold(r.TimeZone, "local") {
			return nil, 0, fmt.Errorf("%w: time zone %q: want an IANA name like Europe/Berlin", ErrInvalid, r.TimeZone)
		}
		loc = l
	}
	var end time.Duration
	if r.DayEnd != "" {
		t, err := time.Parse("15:04", r.DayEnd)
		if err != nil || t.Hour() >= 12 {
			return nil, 0, fmt.Errorf("%w: day end %q: want HH:MM after midnight and before noon, like 02:00", ErrInvalid, r.DayEnd)
		}
		end = time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	}
	return loc, end, nil
}

// newAggFor makes a store's empty folds under its business day; a rule
// that no longer parses (a time zone this machine lacks) falls back to
// HQ's report zone, logged.
func (h *HQ) newAggFor(rec StoreRecord) *agg {
	loc, end, err := rec.Day.parse(h.cfg.Location)
	if err != nil {
		h.log.Warn("store business day not usable; reporting in HQ's zone", "store", rec.ID, "err", err)
		loc, end = h.cfg.Location, 0
	}
	a := newAgg(loc)
	a.dayEnd = end
	return a
}

// dayKey names the business day a rollup was made for.
func (a *agg) dayKey() string {
	if a.dayEnd == 0 {
		return a.loc.String()
	}
	return a.loc.String() + " until " + a.dayEnd.String()
}

// SetBusinessDay sets a store's business day and refolds its reports
// under it. A bad rule is an ErrInvalid error and nothing changes.
func (h *HQ) SetBusinessDay(ctx context.Context, store ledger.StoreID, r DayRule) error {
	if _, _, err := r.parse(h.cfg.Location); err != nil {
		return err
	}
	s := h.store(store)
	if s == nil {
		return fmt.Errorf("%w %s", ErrUnknownStore, store)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.rec
	rec.Day = r
	if err := h.st.PutStore(ctx, rec); err != nil {
		return err
	}
	s.viewMu.Lock()
	s.rec = rec
	s.viewMu.Unlock()
	if err := h.refold(ctx, s); err != nil {
		return fmt.Errorf("refold store %s: %w", store, err)
	}
	return h.writeRollup(ctx, s)
}

// takeDayRule takes the store's business day from its stored record when
// a rollup was made for another day than this process's folds: on
// shared storage, another HQ process changed it (SetBusinessDay stores
// the record, then the rollup refolded under it, which moves the
// rollup's generation, so this process restores from it at its next
// upload or chain report refresh and finds the other day). It reports
// whether the rule changed. The caller holds s.mu.
func (h *HQ) takeDayRule(ctx context.Context, s *storeState) bool {
	if h.exclusive() {
		return false // this process set every rule
	}
	recs, err := h.st.Stores(ctx)
	if err != nil {
		h.log.Warn("read the store's business day", "store", s.rec.ID, "err", err)
		return false
	}
	for _, rec := range recs {
		if rec.ID != s.rec.ID || rec.Day == s.rec.Day {
			continue
		}
		h.log.Info("store business day changed by another HQ process", "store", s.rec.ID,
			"time_zone", rec.Day.TimeZone, "day_end", rec.Day.DayEnd)
		s.viewMu.Lock()
		s.rec.Day = rec.Day
		s.viewMu.Unlock()
		h.views.Add(1)
		return true
	}
	return false
}

// apiBusinessDay is POST /hq/api/stores/{store}/day {"time_zone","day_end"}.
func (h *HQ) apiBusinessDay(w http.ResponseWriter, r *http.Request, s *session) {
	store, err := ledger.ParseStoreID(r.PathValue("store"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	var rule DayRule
	if err := decodeBody(r, &rule); err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	if err := h.SetBusinessDay(r.Context(), store, rule); err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("store business day set", "store", store, "time_zone", rule.TimeZone, "day_end", rule.DayEnd, "by", s.user)
	writeJSON(w, http.StatusOK, rule)
}
