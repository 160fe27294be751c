package ledger

import (
	"errors"
	"fmt"
)

// Sentinel errors. Validation errors arrive wrapped in *Error, which names
// the till and seq; test with errors.Is.
var (
	ErrMalformed     = errors.New("ledger: malformed event")
	ErrNotCanonical  = errors.New("ledger: event not in canonical encoding")
	ErrBadSignature  = errors.New("ledger: bad signature")
	ErrSeqGap        = errors.New("ledger: seq gap")
	ErrWrongPrev     = errors.New("ledger: wrong prev hash")
	ErrUnknownKind   = errors.New("ledger: unknown kind")
	ErrInvalidBody   = errors.New("ledger: invalid body")
	ErrTendersShort  = errors.New("ledger: tenders short of the total")
	ErrOverRefund    = errors.New("ledger: refund above what remains refundable")
	ErrEquivocation  = errors.New("ledger: equivocation")
	ErrDuplicate     = errors.New("ledger: duplicate event")
	ErrUnknownSale   = errors.New("ledger: unknown sale")
	ErrWrongStore    = errors.New("ledger: event of another store")
	ErrOverflow      = errors.New("ledger: amount overflows")
	ErrShiftState    = errors.New("ledger: shift state")
	ErrBadCert       = errors.New("ledger: bad certificate")
	ErrAlreadyVoided = errors.New("ledger: sale already voided")
)

// Error is a validation error about one event: which till, which seq, and
// why. Err is one of the sentinels above, possibly wrapped with detail.
type Error struct {
	Till TillID
	Seq  uint64
	Err  error
}

func (e *Error) Error() string {
	return fmt.Sprintf("till %s seq %d: %v", e.Till.Short(), e.Seq, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// invalid makes a body error that wraps ErrInvalidBody.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidBody, fmt.Sprintf(format, args...))
}
