package escpos

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Errors returned by this package wrap one of them.
var (
	// ErrInvalidArgument means a value is out of range or malformed.
	ErrInvalidArgument = errors.New("escpos: invalid argument")
	// ErrCheckDigit means a barcode's check digit does not match its data.
	ErrCheckDigit = errors.New("escpos: wrong check digit")
	// ErrUnencodable means text had characters the code page cannot print.
	ErrUnencodable = errors.New("escpos: unencodable character")
	// ErrTooWide means an image does not fit the paper width.
	ErrTooWide = errors.New("escpos: image wider than the paper")
	// ErrTruncated means a command ended before all its bytes arrived.
	ErrTruncated = errors.New("escpos: truncated command")
	// ErrUnknownCommand means the decoder met a command it does not know
	// and so cannot tell how long it is.
	ErrUnknownCommand = errors.New("escpos: unknown command")
	// ErrTooLarge means a command is larger than the decoder accepts.
	ErrTooLarge = errors.New("escpos: command too large")
	// ErrNoReply means the printer did not answer a status query.
	ErrNoReply = errors.New("escpos: no status reply")
	// ErrBadReply means a status reply is not a well-formed status byte.
	ErrBadReply = errors.New("escpos: malformed status reply")
)

// UnencodableError lists the characters that text had but the code page
// cannot print. Those characters were printed as the replacement byte.
// It wraps [ErrUnencodable].
type UnencodableError struct {
	Charset Charset
	Runes   []rune // distinct, in order of first appearance
}

func (e *UnencodableError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v in %v:", ErrUnencodable, e.Charset)
	for i, r := range e.Runes {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %U", r)
		if r >= 0x20 && r != 0x7f && !(r >= 0x80 && r < 0xa0) && r != 0xfffd {
			fmt.Fprintf(&b, " %q", r)
		}
	}
	return b.String()
}

func (e *UnencodableError) Unwrap() error { return ErrUnencodable }

// ParseError says where in a stream the decoder stopped and why.
// Err wraps one of the package's sentinel errors.
type ParseError struct {
	Offset  int64  // offset of the command's first byte in the stream
	Command string // the command, such as "GS k", or the byte, such as "0x07"
	Err     error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s at offset %d: %v", e.Command, e.Offset, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

func invalidf(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, ErrInvalidArgument)...)
}
