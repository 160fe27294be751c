package crdt

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// crdtLogger adapts slog to go-ds-crdt's logging.StandardLogger.
//
// go-ds-crdt's Info lines ("merged delta from node ...", "store is marked
// clean") are for programmers, so they go to DEBUG. Its Error lines are
// about heads it will see again (rebroadcast, repair), so they go to WARN:
// retried or ignored, no person needed.
//
// It also counts go-ds-crdt's MarkDirty calls, which log dirtyMessage: a
// walk during which the count moved did not finish (see walks.go).
type crdtLogger struct {
	l     *slog.Logger
	marks *atomic.Uint64
}

func (c crdtLogger) log(level slog.Level, msg string) {
	c.l.Log(context.Background(), level, msg, "component", "go-ds-crdt")
}

func (c crdtLogger) Debug(args ...any) { c.log(slog.LevelDebug, fmt.Sprint(args...)) }
func (c crdtLogger) Debugf(format string, args ...any) {
	c.log(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (c crdtLogger) Info(args ...any) { c.log(slog.LevelDebug, fmt.Sprint(args...)) }
func (c crdtLogger) Infof(format string, args ...any) {
	c.log(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (c crdtLogger) Warn(args ...any) {
	msg := fmt.Sprint(args...)
	if msg == dirtyMessage && c.marks != nil {
		c.marks.Add(1)
	}
	c.log(slog.LevelWarn, msg)
}
func (c crdtLogger) Warnf(format string, args ...any) {
	c.log(slog.LevelWarn, fmt.Sprintf(format, args...))
}
func (c crdtLogger) Error(args ...any) { c.log(slog.LevelWarn, fmt.Sprint(args...)) }
func (c crdtLogger) Errorf(format string, args ...any) {
	c.log(slog.LevelWarn, fmt.Sprintf(format, args...))
}

// Fatal and Panic are never called by go-ds-crdt v0.6.8; log loudly and do
// not exit a till over a library's opinion.
func (c crdtLogger) Fatal(args ...any) { c.log(slog.LevelError, fmt.Sprint(args...)) }
func (c crdtLogger) Fatalf(format string, args ...any) {
	c.log(slog.LevelError, fmt.Sprintf(format, args...))
}
func (c crdtLogger) Panic(args ...any) { c.log(slog.LevelError, fmt.Sprint(args...)) }
func (c crdtLogger) Panicf(format string, args ...any) {
	c.log(slog.LevelError, fmt.Sprintf(format, args...))
}
