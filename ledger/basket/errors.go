package basket

import (
	"errors"
	"fmt"
)

// ErrInvalid is a product, discount, basket or tender the selling rules
// refuse. ErrFormat and ErrCheckDigit (gs1.go) are the barcode errors.
var ErrInvalid = errors.New("basket: invalid")

// ruleError is an error whose text is written for the cashier, without
// the sentinel's words.
type ruleError struct {
	msg string
	is  error
}

func (e *ruleError) Error() string        { return e.msg }
func (e *ruleError) Is(target error) bool { return target == e.is }

func invalid(format string, args ...any) error { return ruleErr(ErrInvalid, format, args...) }

func ruleErr(is error, format string, args ...any) error {
	return &ruleError{msg: fmt.Sprintf(format, args...), is: is}
}
