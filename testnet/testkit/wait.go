package testkit

import (
	"io"
	"log/slog"
	"os"
	"testing"
	"time"
)

// WaitFor polls cond every few milliseconds until it holds, and fails tb
// once timeout passes: tests wait for a condition, never for a fixed
// time.
func WaitFor(tb testing.TB, what string, timeout time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval, not a wait for an event
	}
}

// Quiet is a logger for components under test: silent, or at debug level
// on stderr when TILLMESH_TEST_LOG is set.
func Quiet() *slog.Logger {
	if os.Getenv("TILLMESH_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
