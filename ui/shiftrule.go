package ui

import (
	"fmt"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// requireShift refuses a refund, cash movement or no-sale at a till
// whose shift is not open: cash that leaves or enters the drawer outside
// a shift would be in no Z report. It is checked for new events only (a
// retry of an event made during the shift gets that event back).
func (a *API) requireShift(k ledger.Kind) error {
	self := a.till.Self().ID
	open := false
	a.till.View(func(s *ledger.State) { open = s.Fold().OpenShift(self) != nil })
	if !open {
		return fmt.Errorf("%w: %s: %w", ledger.ErrShiftState, k, i18n.Errorf("till.error.no_shift"))
	}
	return nil
}
