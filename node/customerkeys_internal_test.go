package node

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/node/custkey"
)

// TestKeyPullBacksOff drives keyLoop's clock: while no till gives the
// missing key, the wait between pulls doubles from customerKeyRetry to
// customerKeyRetryMax; a kick (a till connects, a new sealed slot) pulls
// at once and starts again at customerKeyRetry; with nothing missing the
// loop waits for a kick only.
func TestKeyPullBacksOff(t *testing.T) {
	kick := make(chan struct{})
	push := make(chan custkey.Key)
	waits := make(chan time.Duration, 100) // what the loop asks the clock for
	fire := make(chan time.Time)           // the clock's one timer
	pulled := make(chan struct{}, 1000)    // a pull happened
	var missing atomic.Bool
	missing.Store(true)
	l := keyLoop{
		push: push,
		kick: kick,
		after: func(d time.Duration) <-chan time.Time {
			waits <- d
			return fire
		},
		send: func(context.Context, []custkey.Key) {},
		pull: func(context.Context) bool {
			m := missing.Load()
			pulled <- struct{}{}
			return m
		},
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- l.run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	next := func(step string, want time.Duration) {
		t.Helper()
		select {
		case got := <-waits:
			if got != want {
				t.Fatalf("%s: waits %v, want %v", step, got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no wait asked for, want %v", step, want)
		}
	}
	send := func(step string, send func()) {
		t.Helper()
		done := make(chan struct{})
		go func() { send(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the loop does not take it", step)
		}
	}
	tick := func(step string) { send(step, func() { fire <- time.Time{} }) }
	kickNow := func(step string) { send(step, func() { kick <- struct{}{} }) }
	kickNow("first kick")
	next("first kick", customerKeyRetry)
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, customerKeyRetryMax, customerKeyRetryMax}
	for _, w := range want {
		tick("timer")
		next("timer", w)
	}
	kickNow("a till connects")
	next("kick after backing off", customerKeyRetry)
	tick("timer after the kick")
	next("timer after the kick", 2*customerKeyRetry)

	pulls := len(pulled) // every pull so far has signalled: next returned after it
	for range pulls {
		<-pulled
	}
	missing.Store(false) // the key came: the next pull finds none missing
	tick("timer, the key came")
	<-pulled // it read missing
	pulls++
	missing.Store(true)
	kickNow("kick after nothing was missing")
	// a wait asked for after the pull that found nothing missing would
	// come first here, and be 20 s
	next("kick after nothing was missing", customerKeyRetry)
	if got, want := pulls+len(pulled), 1+len(want)+2+2; got != want {
		t.Fatalf("%d pulls, want %d", got, want)
	}
}
