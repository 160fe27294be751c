package scan

import (
	"errors"
	"fmt"
)

// ErrLineTooLong means a scanner line exceeded the length limit and was
// dropped.
var ErrLineTooLong = errors.New("scan: line too long")

// DefaultMaxLine is the line length limit of a zero LineAssembler: room
// for any EAN or UPC code, GS1-128 and most 2D codes.
const DefaultMaxLine = 512

// A LineAssembler splits the bytes a serial scanner sends into lines.
// Lines end with CR, LF or CRLF; a CRLF split between two reads is one
// terminator. Empty lines are dropped. A line longer than MaxLen is
// dropped, with an error, as soon as it is too long, and everything up to
// the next terminator with it.
//
// The zero value is ready to use with DefaultMaxLine.
type LineAssembler struct {
	// MaxLen is the longest line accepted, in bytes. Zero means
	// DefaultMaxLine.
	MaxLen int

	buf      []byte
	afterCR  bool // the last byte seen was CR
	dropping bool // the current line was too long
}

// Feed consumes p and returns the lines it completed, in order. If lines
// were too long it also returns a [*LineTooLongError]; the lines it
// returns are good either way.
func (a *LineAssembler) Feed(p []byte) ([]string, error) {
	limit := a.MaxLen
	if limit <= 0 {
		limit = DefaultMaxLine
	}
	var lines []string
	dropped := 0
	for _, c := range p {
		if c == '\n' && a.afterCR {
			a.afterCR = false
			continue
		}
		a.afterCR = c == '\r'
		if c == '\r' || c == '\n' {
			if len(a.buf) > 0 && !a.dropping {
				lines = append(lines, string(a.buf))
			}
			a.buf = a.buf[:0]
			a.dropping = false
			continue
		}
		if a.dropping {
			continue
		}
		if len(a.buf) == limit {
			a.buf = a.buf[:0]
			a.dropping = true
			dropped++
			continue
		}
		a.buf = append(a.buf, c)
	}
	if dropped > 0 {
		return lines, &LineTooLongError{Lines: dropped, Limit: limit}
	}
	return lines, nil
}

// LineTooLongError says how many lines one Feed dropped for being longer
// than Limit. It wraps [ErrLineTooLong].
type LineTooLongError struct {
	Lines int
	Limit int
}

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("%d line(s) over %d bytes dropped: %v", e.Lines, e.Limit, ErrLineTooLong)
}

func (e *LineTooLongError) Unwrap() error { return ErrLineTooLong }

// Pending returns the number of bytes of the line not yet ended.
func (a *LineAssembler) Pending() int { return len(a.buf) }

// Reset drops the line not yet ended, as after a reconnect.
func (a *LineAssembler) Reset() {
	a.buf = a.buf[:0]
	a.afterCR = false
	a.dropping = false
}
