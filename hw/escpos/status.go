package escpos

import (
	"fmt"
	"strconv"
	"strings"
)

// StatusQuery is the n of DLE EOT n: which status byte to ask for.
type StatusQuery uint8

const (
	PrinterStatus StatusQuery = 1 // drawer pin 3, online or offline
	OfflineCause  StatusQuery = 2 // cover, feed button, paper-end stop, error
	ErrorCause    StatusQuery = 3 // cutter, unrecoverable and auto-recoverable errors
	PaperStatus   StatusQuery = 4 // roll paper near-end and end sensors
)

func (q StatusQuery) String() string {
	switch q {
	case PrinterStatus:
		return "printer"
	case OfflineCause:
		return "offline-cause"
	case ErrorCause:
		return "error-cause"
	case PaperStatus:
		return "paper"
	}
	return "StatusQuery(" + strconv.Itoa(int(q)) + ")"
}

// A Flag is a yes-or-no condition that may be unknown. The zero value is
// Unknown.
type Flag uint8

const (
	Unknown Flag = iota
	No
	Yes
)

func flagOf(b bool) Flag {
	if b {
		return Yes
	}
	return No
}

func (f Flag) String() string {
	switch f {
	case Unknown:
		return "?"
	case No:
		return "no"
	case Yes:
		return "yes"
	}
	return "Flag(" + strconv.Itoa(int(f)) + ")"
}

// DrawerPolarity says which level of the drawer kick-out connector's pin 3
// means the drawer is open; it depends on the drawer. The zero value is
// OpenWhenHigh.
type DrawerPolarity uint8

const (
	OpenWhenHigh DrawerPolarity = iota
	OpenWhenLow
)

// Status is what a printer said about itself. Each field is Unknown until
// a well-formed reply to the DLE EOT query that reports it is decoded.
type Status struct {
	// From DLE EOT 1.
	DrawerOpen Flag // pin 3 read with the configured DrawerPolarity
	Offline    Flag

	// From DLE EOT 2.
	CoverOpen    Flag
	FeedButton   Flag // paper is being fed with the feed button
	PaperEndStop Flag // printing stopped because the paper ran out
	Error        Flag

	// From DLE EOT 3.
	CutterError          Flag
	UnrecoverableError   Flag
	AutoRecoverableError Flag

	// From DLE EOT 4.
	PaperNearEnd Flag
	PaperOut     Flag
}

// DecodeStatus decodes the reply to DLE EOT q. reply must be one byte
// matching the fixed bits 0xx1xx10 (bit 7 clear, bit 4 set, bit 1 set,
// bit 0 clear). The result has the fields that q reports set and all
// others Unknown. With no reply the error is [ErrNoReply]; with a
// malformed one it is [ErrBadReply]; either way every field is Unknown.
func DecodeStatus(q StatusQuery, reply []byte, pol DrawerPolarity) (Status, error) {
	var s Status
	if q < PrinterStatus || q > PaperStatus {
		return s, invalidf("status query %d outside 1..4", q)
	}
	if pol > OpenWhenLow {
		return s, invalidf("drawer polarity %d", pol)
	}
	if len(reply) == 0 {
		return s, fmt.Errorf("status %v: %w", q, ErrNoReply)
	}
	if len(reply) != 1 {
		return s, fmt.Errorf("status %v: %d bytes, want 1: %w", q, len(reply), ErrBadReply)
	}
	b := reply[0]
	if b&0x93 != 0x12 {
		return s, fmt.Errorf("status %v: byte 0x%02x does not match 0xx1xx10: %w", q, b, ErrBadReply)
	}
	bit := func(n uint) bool { return b&(1<<n) != 0 }
	switch q {
	case PrinterStatus:
		high := bit(2)
		s.DrawerOpen = flagOf(high == (pol == OpenWhenHigh))
		s.Offline = flagOf(bit(3))
	case OfflineCause:
		s.CoverOpen = flagOf(bit(2))
		s.FeedButton = flagOf(bit(3))
		s.PaperEndStop = flagOf(bit(5))
		s.Error = flagOf(bit(6))
	case ErrorCause:
		s.CutterError = flagOf(bit(3))
		s.UnrecoverableError = flagOf(bit(5))
		s.AutoRecoverableError = flagOf(bit(6))
	case PaperStatus:
		s.PaperNearEnd = flagOf(b&0x0c != 0)
		s.PaperOut = flagOf(b&0x60 != 0)
	}
	return s, nil
}

// Merge returns s with every field that o knows taken from o.
func (s Status) Merge(o Status) Status {
	pick := func(a, b Flag) Flag {
		if b != Unknown {
			return b
		}
		return a
	}
	return Status{
		DrawerOpen:           pick(s.DrawerOpen, o.DrawerOpen),
		Offline:              pick(s.Offline, o.Offline),
		CoverOpen:            pick(s.CoverOpen, o.CoverOpen),
		FeedButton:           pick(s.FeedButton, o.FeedButton),
		PaperEndStop:         pick(s.PaperEndStop, o.PaperEndStop),
		Error:                pick(s.Error, o.Error),
		CutterError:          pick(s.CutterError, o.CutterError),
		UnrecoverableError:   pick(s.UnrecoverableError, o.UnrecoverableError),
		AutoRecoverableError: pick(s.AutoRecoverableError, o.AutoRecoverableError),
		PaperNearEnd:         pick(s.PaperNearEnd, o.PaperNearEnd),
		PaperOut:             pick(s.PaperOut, o.PaperOut),
	}
}

// Ready reports whether the printer is known to be able to print: it
// said it is online and has paper, and reported no open cover, paper-end
// stop or error. A status with Offline or PaperOut unknown is not ready.
func (s Status) Ready() bool {
	if s.Offline != No || s.PaperOut != No {
		return false
	}
	for _, f := range []Flag{s.CoverOpen, s.PaperEndStop, s.Error, s.CutterError, s.UnrecoverableError} {
		if f == Yes {
			return false
		}
	}
	return true
}

// String lists every field as name=yes, no or ?, or says "unknown" when
// nothing is known.
func (s Status) String() string {
	if s == (Status{}) {
		return "unknown"
	}
	fields := []struct {
		name string
		f    Flag
	}{
		{"offline", s.Offline},
		{"drawer-open", s.DrawerOpen},
		{"cover-open", s.CoverOpen},
		{"feed-button", s.FeedButton},
		{"paper-end-stop", s.PaperEndStop},
		{"error", s.Error},
		{"cutter-error", s.CutterError},
		{"unrecoverable-error", s.UnrecoverableError},
		{"auto-recoverable-error", s.AutoRecoverableError},
		{"paper-near-end", s.PaperNearEnd},
		{"paper-out", s.PaperOut},
	}
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.name)
		b.WriteByte('=')
		b.WriteString(f.f.String())
	}
	return b.String()
}
