package hw

import (
	"errors"
	"net"
	"os"

	"github.com/tillmesh/tillmesh/hw/escpos"
)

// Sentinel errors. Errors returned by this package wrap one of them, or a
// transport's own error.
var (
	// ErrClosed means the link or the device was closed.
	ErrClosed = net.ErrClosed
	// ErrNotFound means no device matches the configuration.
	ErrNotFound = errors.New("hw: device not found")
	// ErrAmbiguous means several devices match the configuration.
	ErrAmbiguous = errors.New("hw: several devices match")
	// ErrNotReady means the printer answered that it cannot print now:
	// paper out, cover open, offline or in error.
	ErrNotReady = errors.New("hw: printer not ready")
	// ErrNoReply means the printer did not answer a status query, so its
	// state is unknown: never taken for "ready".
	ErrNoReply = escpos.ErrNoReply
	// ErrNoDevice means no device of the kind asked for is configured.
	ErrNoDevice = errors.New("hw: no such device configured")
	// ErrConfig means a device configuration is invalid.
	ErrConfig = errors.New("hw: invalid configuration")
	// ErrUnstable means the scale gave no stable weight in time.
	ErrUnstable = errors.New("hw: no stable weight")
	// ErrOffline means the device is not connected now.
	ErrOffline = errors.New("hw: device not connected")
	// ErrNotQueued means a receipt is not in the queue or its history.
	ErrNotQueued = errors.New("hw: receipt not in the print queue")
)

// isTimeout reports whether err is a deadline that passed.
func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
